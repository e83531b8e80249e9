package research

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/platform/auth"
	"healthexchange/wearables/mhealth"
)

// api serves research.v1.ResearchService: it converts messages and errors
// and leaves every decision to Service.
type api struct {
	researchv1.UnimplementedResearchServiceServer
	svc *Service
}

// principal is the verified caller; the auth interceptor guarantees one on
// every call, and its absence is a denial, never a default.
func principal(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Principal{}, status.Error(codes.Unauthenticated, "no verified caller")
	}
	return p, nil
}

func (a *api) CreateDataset(ctx context.Context, req *researchv1.CreateDatasetRequest) (*researchv1.CreateDatasetResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	spec, err := specFromProto(req.GetSpec())
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	d, err := a.svc.Create(ctx, p, spec, req.GetRequestId())
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &researchv1.CreateDatasetResponse{Dataset: d}, nil
}

func (a *api) GetDataset(ctx context.Context, req *researchv1.GetDatasetRequest) (*researchv1.GetDatasetResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	d, err := a.svc.Get(ctx, p, req.GetDatasetId())
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &researchv1.GetDatasetResponse{Dataset: d}, nil
}

func (a *api) ListDatasets(ctx context.Context, req *researchv1.ListDatasetsRequest) (*researchv1.ListDatasetsResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	ds, next, err := a.svc.List(ctx, p, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &researchv1.ListDatasetsResponse{Datasets: ds, NextPageToken: next}, nil
}

func (a *api) GetDownloadUrl(ctx context.Context, req *researchv1.GetDownloadUrlRequest) (*researchv1.GetDownloadUrlResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	url, expires, sum, err := a.svc.DownloadURL(ctx, p, req.GetDatasetId(), req.GetFile())
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &researchv1.GetDownloadUrlResponse{Url: url, ExpiresAt: expires.UTC().Format(time.RFC3339), Sha256: sum}, nil
}

// downloadChunk is the size of a streamed chunk.
const downloadChunk = 64 << 10

func (a *api) DownloadDataset(req *researchv1.DownloadDatasetRequest, stream researchv1.ResearchService_DownloadDatasetServer) error {
	ctx := stream.Context()
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	r, err := a.svc.Download(ctx, p, req.GetDatasetId(), req.GetFile())
	if err != nil {
		return toStatus(ctx, a.svc.log, err)
	}
	defer r.Close()
	for {
		// A chunk of its own for each message: gRPC may still hold the
		// last one after Send returns.
		chunk := make([]byte, downloadChunk)
		n, readErr := io.ReadFull(r, chunk)
		switch {
		case errors.Is(readErr, io.EOF):
			return nil
		case readErr != nil && !errors.Is(readErr, io.ErrUnexpectedEOF):
			return toStatus(ctx, a.svc.log, readErr)
		}
		if err := stream.Send(&researchv1.DownloadDatasetResponse{Chunk: chunk[:n]}); err != nil {
			return err
		}
		if readErr != nil { // io.ErrUnexpectedEOF: that was the last chunk
			return nil
		}
	}
}

// specFromProto reads a request's spec; Spec.validate checks the rest.
func specFromProto(p *researchv1.DatasetSpec) (Spec, error) {
	if p == nil {
		return Spec{}, fmt.Errorf("%w: spec is required", ErrInvalid)
	}
	var errs []error
	parse := func(field, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: not an RFC 3339 time", field))
		}
		return t
	}
	s := Spec{StudyID: p.GetStudyId(), Categories: p.GetCategories(), Fields: p.GetFields(),
		From: parse("from", p.GetFrom()), To: parse("to", p.GetTo()), K: int(p.GetK()), MaxSuppression: p.GetMaxSuppression()}
	for i, name := range p.GetReadingKinds() {
		k, err := mhealth.ParseKind(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading_kinds[%d]: %q is not a reading kind", i, name))
			continue
		}
		s.ReadingKinds = append(s.ReadingKinds, k)
	}
	switch p.GetReadings() {
	case researchv1.ReadingsMode_READINGS_MODE_UNSPECIFIED:
	case researchv1.ReadingsMode_READINGS_MODE_DAILY:
		s.Readings = DailySummary
	case researchv1.ReadingsMode_READINGS_MODE_WINDOW:
		s.Readings = WindowSummary
	case researchv1.ReadingsMode_READINGS_MODE_RAW:
		s.Readings = RawReadings
	default:
		errs = append(errs, errors.New("readings: unknown mode"))
	}
	switch p.GetDates() {
	case researchv1.DateRule_DATE_RULE_UNSPECIFIED:
	case researchv1.DateRule_DATE_RULE_YEAR:
		s.Dates = YearOnly
	case researchv1.DateRule_DATE_RULE_SHIFT:
		s.Dates = ShiftedDays
	default:
		errs = append(errs, errors.New("dates: unknown rule"))
	}
	if len(errs) > 0 {
		return Spec{}, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return s, nil
}
