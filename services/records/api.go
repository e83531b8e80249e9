package records

import (
	"context"
	"errors"
	"math"

	"healthexchange/chaincode/ledgerapi"
	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/serving"
)

// api serves records.v1.RecordService: it converts messages and errors, and
// leaves every decision to Service.
type api struct {
	recordsv1.UnimplementedRecordServiceServer
	svc *Service
}

// caller is the verified principal; every method but VerifyRecord has one.
func caller(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Principal{}, &DeniedError{Reasons: []string{"no verified caller"}}
	}
	return p, nil
}

func (a *api) PutRecord(ctx context.Context, req *recordsv1.PutRecordRequest) (*recordsv1.PutRecordResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	r, err := a.svc.Put(ctx, p, PutRequest{
		PatientID: req.GetPatientId(), RecordID: req.GetRecordId(), Resource: req.GetResource(),
		IdempotencyKey: req.GetIdempotencyKey(), BaseVersion: int(req.GetBaseVersion()), Purpose: req.GetPurpose(),
	})
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &recordsv1.PutRecordResponse{Record: toVersion(r.Record), Replayed: r.Replayed}, nil
}

func (a *api) GetRecord(ctx context.Context, req *recordsv1.GetRecordRequest) (*recordsv1.GetRecordResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	r, err := a.svc.Get(ctx, p, GetRequest{
		PatientID: req.GetPatientId(), RecordID: req.GetRecordId(), Version: int(req.GetVersion()),
		Purpose: req.GetPurpose(), BreakGlass: req.GetBreakGlassReason(),
	})
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &recordsv1.GetRecordResponse{Record: toVersion(r.Record), Resource: r.Resource,
		ResourceType: r.ResourceType, Obligations: r.Obligations}, nil
}

func (a *api) ListRecords(ctx context.Context, req *recordsv1.ListRecordsRequest) (*recordsv1.ListRecordsResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	r, err := a.svc.List(ctx, p, ListRequest{PatientID: req.GetPatientId(), PageSize: int(req.GetPageSize()),
		PageToken: req.GetPageToken(), Purpose: req.GetPurpose()})
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &recordsv1.ListRecordsResponse{Records: toVersions(r.Records), NextPageToken: r.NextPageToken,
		Withheld: int32(r.Withheld)}, nil
}

func (a *api) GetRecordHistory(ctx context.Context, req *recordsv1.GetRecordHistoryRequest) (*recordsv1.GetRecordHistoryResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	vs, err := a.svc.History(ctx, p, HistoryRequest{PatientID: req.GetPatientId(), RecordID: req.GetRecordId(), Purpose: req.GetPurpose()})
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &recordsv1.GetRecordHistoryResponse{Versions: toVersions(vs)}, nil
}

func (a *api) VerifyRecord(ctx context.Context, req *recordsv1.VerifyRecordRequest) (*recordsv1.VerifyRecordResponse, error) {
	if a.svc.verifyLimit != nil {
		if err := a.svc.verifyLimit.Throttle(ctx, serving.ClientAddress(ctx), "verifications"); err != nil {
			return nil, err
		}
	}
	r, err := a.svc.Verify(ctx, VerifyRequest{RecordID: req.GetRecordId(), Resource: req.GetResource(), SHA256: req.GetSha256()})
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	matches := make([]*recordsv1.NotarizedVersion, len(r.Matches))
	for i, m := range r.Matches {
		matches[i] = &recordsv1.NotarizedVersion{RecordId: m.RecordID, Version: int32(m.Version), NotarizedAt: m.NotarizedAt}
	}
	return &recordsv1.VerifyRecordResponse{Match: r.Match, Sha256: r.SHA256, Matches: matches, Reason: r.Reason}, nil
}

func (a *api) ErasePatientRecords(ctx context.Context, req *recordsv1.ErasePatientRecordsRequest) (*recordsv1.ErasePatientRecordsResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	e, err := a.svc.Erase(ctx, p, req.GetPatientId(), ledger.Signed{Payload: req.GetErasure().GetPayload(), Signature: req.GetErasure().GetSignature()})
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	resp := &recordsv1.ErasePatientRecordsResponse{PatientId: e.PatientID, ErasureId: e.ErasureID,
		ErasedAt: e.CompletedAt, TxId: e.CompleteTxID, RequestTxId: e.RequestTxID}
	if c := e.Counts; c != nil {
		if c.RecordObjects > math.MaxInt32 || c.WearableObjects > math.MaxInt32 {
			return nil, toStatus(ctx, a.svc.log, errors.New("objects deleted overflows int32"))
		}
		resp.ObjectsDeleted, resp.WearableObjectsDeleted, resp.KeyId = int32(c.RecordObjects), int32(c.WearableObjects), c.KeyID
	}
	return resp, nil
}

func toVersion(n ledgerapi.Notarization) *recordsv1.RecordVersion {
	return &recordsv1.RecordVersion{
		RecordId: n.RecordID, PatientId: n.PatientID, Version: int32(min(n.Version, math.MaxInt32)), Sha256: n.SHA256,
		PreviousSha256: n.PreviousSHA256, Category: n.Category, Author: n.Author, Org: n.Org, NotarizedAt: n.Timestamp, TxId: n.TxID,
	}
}

func toVersions(ns []ledgerapi.Notarization) []*recordsv1.RecordVersion {
	out := make([]*recordsv1.RecordVersion, len(ns))
	for i, n := range ns {
		out[i] = toVersion(n)
	}
	return out
}

func (a *api) VerifyPrescription(ctx context.Context, req *recordsv1.VerifyPrescriptionRequest) (*recordsv1.VerifyPrescriptionResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	c, err := a.svc.VerifyPrescription(ctx, p, req.GetRecordId(), req.GetResource())
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &recordsv1.VerifyPrescriptionResponse{Notarized: c.Notarized, Version: int32(c.Version), LatestVersion: int32(c.Latest),
		Sha256: c.SHA256, PatientId: c.PatientID, PrescriberOrg: c.PrescriberOrg, PrescriberName: c.PrescriberName,
		PrescriberRegistered: c.PrescriberRegistered, Status: c.Status, Intent: c.Intent, ValidUntil: c.ValidUntil,
		Fills: int32(c.Fills), Dispensed: int32(c.Dispensed), Fillable: c.Fillable, Problems: c.Problems}, nil
}

func (a *api) DispensePrescription(ctx context.Context, req *recordsv1.DispensePrescriptionRequest) (*recordsv1.DispensePrescriptionResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	d, err := a.svc.Dispense(ctx, p, req.GetRecordId(), req.GetSha256(), int(req.GetQuantity()))
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &recordsv1.DispensePrescriptionResponse{RecordId: d.RecordID, Version: int32(d.Version), Fill: int32(d.Fill),
		Fills: int32(d.Fills), Quantity: int32(d.Quantity), Org: d.Org, Pharmacist: d.Pharmacist, TxId: d.TxID, DispensedAt: d.Timestamp}, nil
}

func (a *api) IssueHealthCard(ctx context.Context, req *recordsv1.IssueHealthCardRequest) (*recordsv1.IssueHealthCardResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	c, err := a.svc.IssueCard(ctx, p, req.GetPatientId(), req.GetRecordId(), req.GetIncludeIdentity())
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &recordsv1.IssueHealthCardResponse{Jws: c.JWS, Numeric: c.Numeric, Issuer: c.Issuer, Org: c.Org, Kid: c.Kid, Bundle: c.Bundle}, nil
}

func (a *api) CheckHealthCard(ctx context.Context, req *recordsv1.CheckHealthCardRequest) (*recordsv1.CheckHealthCardResponse, error) {
	if a.svc.cardCheckLimit != nil {
		if err := a.svc.cardCheckLimit.Throttle(ctx, serving.ClientAddress(ctx), "card checks"); err != nil {
			return nil, err
		}
	}
	c, err := a.svc.CheckCard(ctx, req.GetCard())
	if err != nil {
		return nil, toStatus(ctx, a.svc.log, err)
	}
	return &recordsv1.CheckHealthCardResponse{Valid: c.Valid, Problems: c.Problems, Issuer: c.Issuer, Kid: c.Kid, Org: c.Org,
		OrgName: c.OrgName, Version: int32(c.Version), LatestVersion: int32(c.LatestVersion)}, nil
}
