package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"healthexchange/chaincode/ledgerapi"
	ingestv1 "healthexchange/proto/ingest/v1"
)

// api serves ingest.v1.IngestService: it converts messages and errors and
// leaves every decision to Service.
type api struct {
	ingestv1.UnimplementedIngestServiceServer
	svc *Service
}

var statuses = map[Status]ingestv1.BatchStatus{
	Accepted:  ingestv1.BatchStatus_BATCH_STATUS_ACCEPTED,
	Duplicate: ingestv1.BatchStatus_BATCH_STATUS_DUPLICATE,
	Rejected:  ingestv1.BatchStatus_BATCH_STATUS_REJECTED,
}

// Upload answers each batch in order. An outcome that is not known (storage
// or the ledger unreachable) ends the stream with that error and no
// acknowledgement, so the device sends the batch again; a definite outcome
// is acknowledged and the stream goes on. The stream ends cleanly when the
// device closes its side or the call is cancelled.
func (a *api) Upload(stream ingestv1.IngestService_UploadServer) error {
	ctx := stream.Context()
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		ack, err := a.svc.Ingest(ctx, Upload{DeviceID: req.GetDeviceId(), Payload: req.GetPayload(), Signature: req.GetSignature()})
		if err != nil {
			return toStatus(ctx, a.svc.log, err)
		}
		resp := &ingestv1.UploadResponse{DeviceId: ack.DeviceID, Seq: ack.Seq, Status: statuses[ack.Status],
			Error: ack.Error, BatchSha256: ack.SHA256}
		for _, r := range ack.Rejected {
			resp.Rejected = append(resp.Rejected, &ingestv1.RejectedReading{Index: int32(r.Index), Error: r.Error})
		}
		if ack.Status == Rejected {
			a.svc.log.InfoContext(ctx, "batch rejected", "device", ack.DeviceID, "seq", ack.Seq, "why", ack.Error)
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func (a *api) ReadReadings(ctx context.Context, req *ingestv1.ReadReadingsRequest) (*ingestv1.ReadReadingsResponse, error) {
	from, fromErr := parseTime("from", req.GetFrom())
	to, toErr := parseTime("to", req.GetTo())
	if err := errors.Join(fromErr, toErr); err != nil {
		return nil, toStatus(ctx, a.svc.log, fmt.Errorf("%w: %w", ErrInvalid, err))
	}
	rs, truncated, err := a.svc.Read(ctx, ReadRequest{PatientID: req.GetPatientId(), Kind: req.GetKind(), From: from, To: to,
		Purpose: req.GetPurpose(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	out := &ingestv1.ReadReadingsResponse{Truncated: truncated, Readings: make([]*ingestv1.Reading, len(rs))}
	for i, r := range rs {
		out.Readings[i] = toReading(r)
	}
	return out, nil
}

func (a *api) GetProof(ctx context.Context, req *ingestv1.GetProofRequest) (*ingestv1.GetProofResponse, error) {
	p, err := a.svc.GetProof(ctx, ProofRequest{PatientID: req.GetPatientId(), DeviceID: req.GetDeviceId(), Seq: req.GetSeq(),
		Index: int(req.GetIndex()), Purpose: req.GetPurpose()})
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &ingestv1.GetProofResponse{
		Reading: toReading(p.Reading), Payload: p.Payload, Signature: p.Signature, DevicePublicKey: p.DevicePublicKey,
		LeafIndex: int32(p.LeafIndex), Path: p.Path,
		Anchor: &ingestv1.Anchor{AnchorId: p.Anchor.AnchorID, Root: p.Anchor.Root, Size: clamp32(p.Anchor.Size),
			Readings: clamp32(p.Anchor.Readings), TxId: p.Anchor.TxID, AnchoredAt: p.Anchor.Timestamp},
	}, nil
}

func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", field, v)
	}
	return t, nil
}

func toReading(r StoredReading) *ingestv1.Reading {
	out := &ingestv1.Reading{Kind: r.Kind.String(), Value: r.Value, Diastolic: r.Diastolic, Unit: r.Unit,
		DeviceId: r.DeviceID, Seq: r.Seq, Index: int32(r.Index)}
	if r.TimeFrame.IsInterval() {
		out.Time, out.EndTime = ledgerapi.FormatTime(r.TimeFrame.Start), ledgerapi.FormatTime(r.TimeFrame.End)
	} else {
		out.Time = ledgerapi.FormatTime(r.TimeFrame.At)
	}
	return out
}

func clamp32(n int) int32 { return int32(min(n, math.MaxInt32)) }
