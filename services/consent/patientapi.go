package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/auth"
	"healthexchange/services/ledger"
)

// patientAPI serves consent.v1.ConsentService.
type patientAPI struct {
	consentv1.UnimplementedConsentServiceServer
	*service
}

// caller returns the verified principal, requiring one of roles.
func caller(ctx context.Context, roles ...auth.Role) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Principal{}, fmt.Errorf("%w: no verified caller", ErrPermission)
	}
	if !slices.Contains(roles, p.Role) {
		return auth.Principal{}, fmt.Errorf("%w: role %s may not make this call", ErrPermission, p.Role)
	}
	return p, nil
}

// signedBy parses a patient-signed payload of type T, checks that it speaks
// for the calling patient, and checks its signature, for a clear error before
// anything is submitted (the chaincode checks again, and is what counts).
// The key is the patient's on the ledger, or keyOf's when given (a
// registration is signed by the key it registers).
func signedBy[T any, P ledgerapi.Input[T]](ctx context.Context, s *service, p auth.Principal, sp *consentv1.SignedPayload, keyOf func(T) string) (T, ledger.Signed, error) {
	var zero T
	if sp == nil || sp.GetPayload() == "" || sp.GetSignature() == "" {
		return zero, ledger.Signed{}, fmt.Errorf("%w: a signed payload (payload and signature) is required", ErrInvalid)
	}
	v, err := ledgerapi.Parse[T, P]([]byte(sp.GetPayload()))
	if err != nil {
		return zero, ledger.Signed{}, err
	}
	header, ok := any(v).(interface{ Signer() (string, uint64) })
	if !ok {
		return zero, ledger.Signed{}, fmt.Errorf("%w: not a patient-signed payload", ErrInvalid)
	}
	if patientID, _ := header.Signer(); patientID != p.Subject {
		return zero, ledger.Signed{}, fmt.Errorf("%w: the payload speaks for patient %s, the caller is %s", ErrPermission, patientID, p.Subject)
	}
	var publicKey string
	if keyOf != nil {
		publicKey = keyOf(v)
	} else {
		patient, err := s.ledger.Patient(ctx, p.Subject)
		if err != nil {
			return zero, ledger.Signed{}, err
		}
		publicKey = patient.PublicKey
	}
	if err := ledgerapi.VerifySignature(publicKey, []byte(sp.GetPayload()), sp.GetSignature()); err != nil {
		return zero, ledger.Signed{}, err
	}
	return v, ledger.Signed{Payload: sp.GetPayload(), Signature: sp.GetSignature()}, nil
}

// checkOp refuses a signed payload made for another operation than op, with
// an error that says so: the strict parse in signedBy would otherwise stop at
// the first field the other operation has and this one lacks. An empty or
// malformed payload is left to signedBy to report.
func checkOp(sp *consentv1.SignedPayload, op string) error {
	var h struct {
		Op string `json:"op"`
	}
	if len(sp.GetPayload()) > ledgerapi.MaxPayloadBytes || json.Unmarshal([]byte(sp.GetPayload()), &h) != nil {
		return nil
	}
	if h.Op != op {
		return fmt.Errorf("%w: the payload is for op %q, this call takes op %q", ErrInvalid, h.Op, op)
	}
	return nil
}

func (a *patientAPI) RegisterPatient(ctx context.Context, req *consentv1.RegisterPatientRequest) (*consentv1.RegisterPatientResponse, error) {
	resp, err := a.registerPatient(ctx, req)
	return resp, toStatus(ctx, a.log, err)
}

func (a *patientAPI) registerPatient(ctx context.Context, req *consentv1.RegisterPatientRequest) (*consentv1.RegisterPatientResponse, error) {
	p, err := caller(ctx, auth.RolePatient)
	if err != nil {
		return nil, err
	}
	reg, signed, err := signedBy(ctx, a.service, p, req.GetRegistration(),
		func(r ledgerapi.PatientRegistration) string { return r.PublicKey })
	if err != nil {
		return nil, err
	}
	patient, err := a.ledger.RegisterPatient(ctx, signed)
	if err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "patient registered", "patient", reg.PatientID)
	return &consentv1.RegisterPatientResponse{PatientId: patient.PatientID, PublicKey: patient.PublicKey, RegisteredAt: patient.RegisteredAt}, nil
}

func (a *patientAPI) GrantConsent(ctx context.Context, req *consentv1.GrantConsentRequest) (*consentv1.GrantConsentResponse, error) {
	c, err := a.grant(ctx, req.GetGrant(), nil)
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.GrantConsentResponse{Consent: consentToProto(c)}, nil
}

// grant submits a patient-signed grant; check, if set, vets it first.
func (a *patientAPI) grant(ctx context.Context, sp *consentv1.SignedPayload, check func(ledgerapi.ConsentGrant) error) (ledgerapi.Consent, error) {
	p, err := caller(ctx, auth.RolePatient)
	if err != nil {
		return ledgerapi.Consent{}, err
	}
	g, signed, err := signedBy[ledgerapi.ConsentGrant](ctx, a.service, p, sp, nil)
	if err != nil {
		return ledgerapi.Consent{}, err
	}
	if check != nil {
		if err := check(g); err != nil {
			return ledgerapi.Consent{}, err
		}
	}
	c, err := a.ledger.GrantConsent(ctx, signed)
	if err != nil {
		return ledgerapi.Consent{}, err
	}
	a.awaitApplied(ctx, c, c.GrantTxID)
	return c, nil
}

func (a *patientAPI) RevokeConsent(ctx context.Context, req *consentv1.RevokeConsentRequest) (*consentv1.RevokeConsentResponse, error) {
	resp, err := a.revoke(ctx, req)
	return resp, toStatus(ctx, a.log, err)
}

func (a *patientAPI) revoke(ctx context.Context, req *consentv1.RevokeConsentRequest) (*consentv1.RevokeConsentResponse, error) {
	p, err := caller(ctx, auth.RolePatient)
	if err != nil {
		return nil, err
	}
	_, signed, err := signedBy[ledgerapi.ConsentRevocation](ctx, a.service, p, req.GetRevocation(), nil)
	if err != nil {
		return nil, err
	}
	c, err := a.ledger.RevokeConsent(ctx, signed)
	if err != nil {
		return nil, err
	}
	a.awaitApplied(ctx, c, c.RevokeTxID)
	return &consentv1.RevokeConsentResponse{Consent: consentToProto(c)}, nil
}

func (a *patientAPI) PairDevice(ctx context.Context, req *consentv1.PairDeviceRequest) (*consentv1.PairDeviceResponse, error) {
	d, err := changeDevice[ledgerapi.DeviceRegistration](ctx, a, req.GetRegistration(), ledgerapi.OpDeviceRegister, a.ledger.RegisterDevice)
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.PairDeviceResponse{Device: deviceToProto(d)}, nil
}

func (a *patientAPI) RevokeDevice(ctx context.Context, req *consentv1.RevokeDeviceRequest) (*consentv1.RevokeDeviceResponse, error) {
	d, err := changeDevice[ledgerapi.DeviceRevocation](ctx, a, req.GetRevocation(), ledgerapi.OpDeviceRevoke, a.ledger.RevokeDevice)
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.RevokeDeviceResponse{Device: deviceToProto(d)}, nil
}

// changeDevice relays a patient-signed pairing or unpairing of a wearable, a
// payload of type T for operation op, to the ledger with submit. The caller
// must be the patient the payload speaks for; the chaincode checks the
// signature and the nonce again, and that a revoked device is the patient's.
func changeDevice[T any, P ledgerapi.Input[T]](ctx context.Context, a *patientAPI, sp *consentv1.SignedPayload, op string, submit func(context.Context, ledger.Signed) (ledgerapi.Device, error)) (ledgerapi.Device, error) {
	p, err := caller(ctx, auth.RolePatient)
	if err != nil {
		return ledgerapi.Device{}, err
	}
	if err := checkOp(sp, op); err != nil {
		return ledgerapi.Device{}, err
	}
	_, signed, err := signedBy[T, P](ctx, a.service, p, sp, nil)
	if err != nil {
		return ledgerapi.Device{}, err
	}
	d, err := submit(ctx, signed)
	if err != nil {
		return ledgerapi.Device{}, err
	}
	a.log.InfoContext(ctx, "device change relayed", "op", op, "patient", d.PatientID, "device", d.DeviceID, "status", d.Status)
	return d, nil
}

// awaitApplied waits (bounded) until the decision view has applied a
// committed change, so the caller's next decision already reflects it. A
// timeout is logged, not returned: the change is committed either way.
func (a *patientAPI) awaitApplied(ctx context.Context, c ledgerapi.Consent, txID string) {
	wctx, cancel := context.WithTimeout(ctx, a.awaitView)
	defer cancel()
	if err := a.view.Await(wctx, c.PatientID, c.ConsentID, txID); err != nil {
		a.log.WarnContext(ctx, "consent change committed but not yet in the decision view", "consent", c.ConsentID, "tx", txID, "err", err)
	}
}

// pageSize turns the API's page size (0 = default) into the ledger's.
func pageSize(n int32) (int, error) {
	switch {
	case n == 0:
		return 50, nil
	case n < 0 || n > 100:
		return 0, fmt.Errorf("%w: page_size must be between 1 and 100", ErrInvalid)
	}
	return int(n), nil
}

func (a *patientAPI) ListConsents(ctx context.Context, req *consentv1.ListConsentsRequest) (*consentv1.ListConsentsResponse, error) {
	items, next, err := callersPage(ctx, req.GetPageSize(),
		func(patientID string, n int) ([]ledgerapi.Consent, string, error) {
			page, err := a.ledger.ConsentsByPatient(ctx, patientID, n, req.GetPageToken())
			return page.Items, page.Bookmark, err
		}, consentToProto)
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.ListConsentsResponse{Consents: items, NextPageToken: next}, nil
}

func (a *patientAPI) GetAccessLog(ctx context.Context, req *consentv1.GetAccessLogRequest) (*consentv1.GetAccessLogResponse, error) {
	items, next, err := callersPage(ctx, req.GetPageSize(),
		func(patientID string, n int) ([]ledgerapi.AccessEvent, string, error) {
			page, err := a.ledger.AccessEvents(ctx, patientID, n, req.GetPageToken())
			return page.Items, page.Bookmark, err
		}, eventToProto)
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.GetAccessLogResponse{Events: items, NextPageToken: next}, nil
}

// callersPage serves one page of the calling patient's entries on the
// ledger: fetch reads the page, convert turns each entry into its message.
func callersPage[T, M any](ctx context.Context, size int32, fetch func(patientID string, n int) ([]T, string, error), convert func(T) M) ([]M, string, error) {
	p, err := caller(ctx, auth.RolePatient)
	if err != nil {
		return nil, "", err
	}
	n, err := pageSize(size)
	if err != nil {
		return nil, "", err
	}
	items, next, err := fetch(p.Subject, n)
	if err != nil {
		return nil, "", err
	}
	out := make([]M, len(items))
	for i, item := range items {
		out[i] = convert(item)
	}
	return out, next, nil
}

func (a *patientAPI) CreateAccessRequest(ctx context.Context, req *consentv1.CreateAccessRequestRequest) (*consentv1.CreateAccessRequestResponse, error) {
	p, err := caller(ctx, auth.RoleClinician, auth.RolePharmacist, auth.RoleInsurer)
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	r, err := a.requests.create(accessRequest{
		PatientID: req.GetPatientId(), Requester: p.Subject, RequesterOrg: p.Org, RequesterRole: string(p.Role),
		Categories: req.GetCategories(), Purposes: req.GetPurposes(), Reason: req.GetReason(),
	}, a.now())
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.CreateAccessRequestResponse{Request: requestToProto(r)}, nil
}

func (a *patientAPI) ListAccessRequests(ctx context.Context, req *consentv1.ListAccessRequestsRequest) (*consentv1.ListAccessRequestsResponse, error) {
	p, err := caller(ctx, auth.RolePatient)
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	if s := req.GetState(); s != "" && s != requestPending && s != requestApproved && s != requestDenied {
		return nil, toStatus(ctx, a.log, fmt.Errorf("%w: state must be pending, approved, denied or empty", ErrInvalid))
	}
	resp := &consentv1.ListAccessRequestsResponse{}
	for _, r := range a.requests.list(p.Subject, req.GetState()) {
		resp.Requests = append(resp.Requests, requestToProto(r))
	}
	return resp, nil
}

func (a *patientAPI) ApproveAccessRequest(ctx context.Context, req *consentv1.ApproveAccessRequestRequest) (*consentv1.ApproveAccessRequestResponse, error) {
	resp, err := a.approve(ctx, req)
	return resp, toStatus(ctx, a.log, err)
}

func (a *patientAPI) approve(ctx context.Context, req *consentv1.ApproveAccessRequestRequest) (*consentv1.ApproveAccessRequestResponse, error) {
	p, err := caller(ctx, auth.RolePatient)
	if err != nil {
		return nil, err
	}
	r, err := a.requests.pending(req.GetRequestId(), p.Subject)
	if err != nil {
		return nil, err
	}
	// The signed grant must give exactly what was asked, to whom it was asked.
	c, err := a.grant(ctx, req.GetGrant(), func(g ledgerapi.ConsentGrant) error {
		if g.Grantee.Kind != ledgerapi.GranteeUser || g.Grantee.ID != r.Requester ||
			!sameSet(g.Categories, r.Categories) || !sameSet(g.Purposes, r.Purposes) {
			return fmt.Errorf("%w: the grant must be to user %s for categories %v and purposes %v", ErrInvalid, r.Requester, r.Categories, r.Purposes)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	answered, err := a.requests.answer(r.RequestID, p.Subject, requestApproved, c.ConsentID, a.now())
	if err != nil {
		return nil, err
	}
	return &consentv1.ApproveAccessRequestResponse{Request: requestToProto(answered), Consent: consentToProto(c)}, nil
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func (a *patientAPI) DenyAccessRequest(ctx context.Context, req *consentv1.DenyAccessRequestRequest) (*consentv1.DenyAccessRequestResponse, error) {
	p, err := caller(ctx, auth.RolePatient)
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	r, err := a.requests.answer(req.GetRequestId(), p.Subject, requestDenied, "", a.now())
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.DenyAccessRequestResponse{Request: requestToProto(r)}, nil
}
