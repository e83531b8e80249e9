package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
)

// What the consent service does for patients (and for staff asking them
// for access): relay the patient's signed changes to the ledger, list
// what the ledger holds of the patient, and keep access requests. The
// proto edge is api.go.

// requireRole refuses a principal whose role is not one of roles.
func requireRole(p auth.Principal, roles ...auth.Role) error {
	if !slices.Contains(roles, p.Role) {
		return fmt.Errorf("%w: role %s may not make this call", ErrPermission, p.Role)
	}
	return nil
}

// signedBy parses a patient-signed payload of type T, checks that it speaks
// for the calling patient, and checks its signature, for a clear error before
// anything is submitted (the chaincode checks again, and is what counts).
// The key is the patient's on the ledger, or keyOf's when given (a
// registration is signed by the key it registers).
func signedBy[T any, P ledgerapi.Input[T]](ctx context.Context, s *service, p auth.Principal, sp ledger.Signed, keyOf func(T) string) (T, error) {
	var zero T
	v, err := parsePayload[T, P](sp)
	if err != nil {
		return zero, err
	}
	header, ok := any(v).(interface{ Signer() (string, uint64) })
	if !ok {
		return zero, fmt.Errorf("%w: not a patient-signed payload", ErrInvalid)
	}
	patientID, _ := header.Signer()
	if d, ok := any(v).(interface{ Delegation() string }); ok && d.Delegation() != "" {
		// A delegate's change for the patient: the caller must be the
		// delegation's delegate, and its key must have signed. Whether it
		// is in force and gives the power is the chaincode's to say.
		delegation, err := s.ledger.Delegation(ctx, d.Delegation())
		if err != nil {
			return zero, err
		}
		if delegation.DelegateID != p.Subject || delegation.PatientID != patientID {
			return zero, fmt.Errorf("%w: delegation %s does not let %s act for patient %s", ErrPermission, d.Delegation(), p.Subject, patientID)
		}
		if err := ledgerapi.VerifySignature(delegation.DelegateKey, []byte(sp.Payload), sp.Signature); err != nil {
			return zero, err
		}
		return v, nil
	}
	if patientID != p.Subject {
		return zero, fmt.Errorf("%w: the payload speaks for patient %s, the caller is %s", ErrPermission, patientID, p.Subject)
	}
	var publicKey string
	if keyOf != nil {
		publicKey = keyOf(v)
	} else {
		patient, err := s.ledger.Patient(ctx, p.Subject)
		if err != nil {
			return zero, err
		}
		if !patient.HasKey() {
			return zero, patient.NoKeyYet()
		}
		publicKey = patient.PublicKey
	}
	if err := ledgerapi.VerifySignature(publicKey, []byte(sp.Payload), sp.Signature); err != nil {
		return zero, err
	}
	return v, nil
}

// checkOp refuses a signed payload made for another operation than op, with
// an error that says so: the strict parse in signedBy would otherwise stop at
// the first field the other operation has and this one lacks. An empty or
// malformed payload is left to signedBy to report.
func checkOp(sp ledger.Signed, op string) error {
	var h struct {
		Op string `json:"op"`
	}
	if len(sp.Payload) > ledgerapi.MaxPayloadBytes || json.Unmarshal([]byte(sp.Payload), &h) != nil {
		return nil
	}
	if h.Op != op {
		return fmt.Errorf("%w: the payload is for op %q, this call takes op %q", ErrInvalid, h.Op, op)
	}
	return nil
}

// registerPatient registers the calling patient's key, signed by that key.
func (s *service) registerPatient(ctx context.Context, p auth.Principal, sp ledger.Signed) (ledgerapi.Patient, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Patient{}, err
	}
	reg, err := signedBy(ctx, s, p, sp, func(r ledgerapi.PatientRegistration) string { return r.PublicKey })
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	patient, err := s.ledger.RegisterPatient(ctx, sp)
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	// Committed: the patient exists for every decision from now on, before
	// the registration's block reaches the view.
	s.view.CommittedRegistration(patient.PatientID)
	s.log.InfoContext(ctx, "patient registered", "patient", reg.PatientID)
	return patient, nil
}

// grant submits a patient-signed grant; check, if set, vets it first. It
// returns once the decision view has applied it (or the wait is over).
func (s *service) grant(ctx context.Context, p auth.Principal, sp ledger.Signed, check func(ledgerapi.ConsentGrant) error) (ledgerapi.Consent, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Consent{}, err
	}
	g, err := signedBy[ledgerapi.ConsentGrant](ctx, s, p, sp, nil)
	if err != nil {
		return ledgerapi.Consent{}, err
	}
	if check != nil {
		if err := check(g); err != nil {
			return ledgerapi.Consent{}, err
		}
	}
	c, err := s.ledger.GrantConsent(ctx, sp)
	if err != nil {
		return ledgerapi.Consent{}, err
	}
	s.view.Committed(c)
	if err := s.awaitApplied(ctx, c, c.GrantTxID); err != nil {
		return ledgerapi.Consent{}, fmt.Errorf("%w: consent %s is committed (tx %s) but not yet in force here: %w",
			ErrNotInForce, c.ConsentID, c.GrantTxID, err)
	}
	return c, nil
}

// revoke submits a patient-signed revocation.
func (s *service) revoke(ctx context.Context, p auth.Principal, sp ledger.Signed) (ledgerapi.Consent, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Consent{}, err
	}
	if _, err := signedBy[ledgerapi.ConsentRevocation](ctx, s, p, sp, nil); err != nil {
		return ledgerapi.Consent{}, err
	}
	c, err := s.ledger.RevokeConsent(ctx, sp)
	if err != nil {
		return ledgerapi.Consent{}, err
	}
	// Committed: in force for every decision from now on, before its
	// block reaches the view.
	s.view.Committed(c)
	if err := s.awaitApplied(ctx, c, c.RevokeTxID); err != nil {
		return ledgerapi.Consent{}, fmt.Errorf("%w: the revocation of consent %s is committed (tx %s) but not yet in force here: %w",
			ErrNotInForce, c.ConsentID, c.RevokeTxID, err)
	}
	return c, nil
}

// changeDevice relays a patient-signed pairing or unpairing of a wearable, a
// payload of type T for operation op, to the ledger with submit. The caller
// must be the patient the payload speaks for; the chaincode checks the
// signature and the nonce again, and that a revoked device is the patient's.
func changeDevice[T any, P ledgerapi.Input[T]](ctx context.Context, s *service, p auth.Principal, sp ledger.Signed, op string,
	submit func(context.Context, ledger.Signed) (ledgerapi.Device, error)) (ledgerapi.Device, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Device{}, err
	}
	if err := checkOp(sp, op); err != nil {
		return ledgerapi.Device{}, err
	}
	if _, err := signedBy[T, P](ctx, s, p, sp, nil); err != nil {
		return ledgerapi.Device{}, err
	}
	d, err := submit(ctx, sp)
	if err != nil {
		return ledgerapi.Device{}, err
	}
	s.log.InfoContext(ctx, "device change relayed", "op", op, "patient", d.PatientID, "device", d.DeviceID, "status", d.Status)
	return d, nil
}

// awaitApplied waits (bounded) until the decision view has applied a
// committed change, so the caller's next decision already reflects it. A
// timeout is logged, not returned: the change is committed either way.
func (s *service) awaitApplied(ctx context.Context, c ledgerapi.Consent, txID string) error {
	wctx, cancel := context.WithTimeout(ctx, s.awaitView)
	defer cancel()
	if err := s.view.Await(wctx, c.PatientID, c.ConsentID, txID); err != nil {
		s.log.WarnContext(ctx, "consent change committed but not yet in the decision view", "consent", c.ConsentID, "tx", txID, "err", err)
		return err
	}
	return nil
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

// consents is one page of the calling patient's consents.
func (s *service) consents(ctx context.Context, p auth.Principal, size int32, token string) ([]ledgerapi.Consent, string, error) {
	if !p.ScopePermits("Consent", "s", p.Subject) {
		return nil, "", fmt.Errorf("%w: the app's SMART scopes do not allow reading the consents (patient/Consent.rs)", ErrPermission)
	}
	return callersPage(p, size, func(patientID string, n int) ([]ledgerapi.Consent, string, error) {
		page, err := s.ledger.ConsentsByPatient(ctx, patientID, n, token)
		return page.Items, page.Bookmark, err
	})
}

// accessLog is one page of the calling patient's access events.
func (s *service) accessLog(ctx context.Context, p auth.Principal, size int32, token string) ([]ledgerapi.AccessEvent, string, error) {
	if !p.ScopePermits("AuditEvent", "s", p.Subject) {
		return nil, "", fmt.Errorf("%w: the app's SMART scopes do not allow reading the access log (patient/AuditEvent.rs)", ErrPermission)
	}
	return callersPage(p, size, func(patientID string, n int) ([]ledgerapi.AccessEvent, string, error) {
		page, err := s.ledger.AccessEvents(ctx, patientID, n, token)
		return page.Items, page.Bookmark, err
	})
}

// callersPage reads one page of the calling patient's entries on the
// ledger with fetch.
func callersPage[T any](p auth.Principal, size int32, fetch func(patientID string, n int) ([]T, string, error)) ([]T, string, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return nil, "", err
	}
	n, err := pageSize(size)
	if err != nil {
		return nil, "", err
	}
	return fetch(p.Subject, n)
}

// createRequest files a staff member's request for access to a patient's
// data, for the patient to answer.
func (s *service) createRequest(ctx context.Context, p auth.Principal, patientID string, categories, purposes []string, reason string) (accessRequest, error) {
	if err := requireRole(p, auth.RoleClinician, auth.RolePharmacist, auth.RoleInsurer); err != nil {
		return accessRequest{}, err
	}
	if err := ledgerapi.ValidateID("patient_id", patientID); err != nil {
		return accessRequest{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if s.requestLimit != nil {
		if err := s.requestLimit.Throttle(ctx, p.Key(), "access requests"); err != nil {
			return accessRequest{}, err
		}
	}
	// Nobody can be asked who is not there; an erased patient is not there.
	if !s.view.Registered(patientID) || s.view.Erased(patientID) {
		return accessRequest{}, fmt.Errorf("%w: patient %s is not registered", ErrNotFound, patientID)
	}
	r, err := s.requests.create(accessRequest{
		PatientID: patientID, Requester: p.Subject, RequesterOrg: p.Org, RequesterRole: string(p.Role),
		Categories: categories, Purposes: purposes, Reason: reason,
	}, s.now())
	if err != nil {
		return accessRequest{}, err
	}
	n := notification{PatientID: patientID, Kind: noteAccessRequest, Key: "access-request/" + r.RequestID, Time: r.CreatedAt,
		Actor: p.Subject, ActorRole: string(p.Role), ActorOrg: p.Org, RequestID: r.RequestID, Purpose: strings.Join(purposes, ",")}
	if err := s.notify(context.Background(), n, false); err != nil {
		s.log.Warn("an access request was not put on the patient's feed", "request", r.RequestID, "err", err)
	}
	return r, nil
}

// listRequests are the calling patient's access requests in a state ("" for
// all).
func (s *service) listRequests(ctx context.Context, p auth.Principal, patientID, state string) ([]accessRequest, error) {
	patientID, err := s.actingFor(ctx, p, patientID, "", ledgerapi.PowerApprove)
	if err != nil {
		return nil, err
	}
	if state != "" && state != requestPending && state != requestApproved && state != requestDenied {
		return nil, fmt.Errorf("%w: state must be pending, approved, denied or empty", ErrInvalid)
	}
	return s.requests.list(patientID, state)
}

// approveRequest grants what a pending request asked for: the patient's
// signed grant must give exactly that, to whom asked.
func (s *service) approveRequest(ctx context.Context, p auth.Principal, requestID string, sp ledger.Signed) (accessRequest, ledgerapi.Consent, error) {
	// The grant says whose request it answers: the caller's, or, signed
	// under a delegation, the patient's the caller acts for.
	patientID, delegationID := "", ""
	if g, err := ledgerapi.Parse[ledgerapi.ConsentGrant]([]byte(sp.Payload)); err == nil && g.DelegationID != "" {
		patientID, delegationID = g.PatientID, g.DelegationID
	}
	patientID, err := s.actingFor(ctx, p, patientID, delegationID, ledgerapi.PowerApprove)
	if err != nil {
		return accessRequest{}, ledgerapi.Consent{}, err
	}
	r, err := s.requests.pending(requestID, patientID)
	if err != nil {
		return accessRequest{}, ledgerapi.Consent{}, err
	}
	c, err := s.grant(ctx, p, sp, func(g ledgerapi.ConsentGrant) error {
		want := ledgerapi.UserGrantee(r.RequesterOrg, r.Requester)
		if g.Grantee != want || !sameSet(g.Categories, r.Categories) || !sameSet(g.Purposes, r.Purposes) {
			return fmt.Errorf("%w: the grant must be to user %s for categories %v and purposes %v", ErrInvalid, want.ID, r.Categories, r.Purposes)
		}
		return nil
	})
	if err != nil {
		return accessRequest{}, ledgerapi.Consent{}, err
	}
	answered, err := s.requests.answer(r.RequestID, patientID, requestApproved, c.ConsentID, s.now())
	if err != nil {
		return accessRequest{}, ledgerapi.Consent{}, err
	}
	return answered, c, nil
}

// denyRequest refuses a pending request.
func (s *service) denyRequest(ctx context.Context, p auth.Principal, patientID, requestID string) (accessRequest, error) {
	patientID, err := s.actingFor(ctx, p, patientID, "", ledgerapi.PowerApprove)
	if err != nil {
		return accessRequest{}, err
	}
	return s.requests.answer(requestID, patientID, requestDenied, "", s.now())
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// patient is the calling patient's entry on the ledger.
func (s *service) patient(ctx context.Context, p auth.Principal) (ledgerapi.Patient, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Patient{}, err
	}
	return s.ledger.Patient(ctx, p.Subject)
}

// patientHistory is every version of the calling patient's entry.
func (s *service) patientHistory(ctx context.Context, p auth.Principal) ([]ledgerapi.PatientVersion, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return nil, err
	}
	return s.ledger.PatientHistory(ctx, p.Subject)
}

// rotateKey relays a key rotation signed by the patient's current key and
// the new one; the chaincode checks both and the nonce.
func (s *service) rotateKey(ctx context.Context, p auth.Principal, k ledger.KeyChange) (ledgerapi.Patient, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Patient{}, err
	}
	if err := checkOp(k.Signed, ledgerapi.OpKeyRotate); err != nil {
		return ledgerapi.Patient{}, err
	}
	r, err := signedBy[ledgerapi.KeyRotation](ctx, s, p, k.Signed, nil)
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	if err := ledgerapi.VerifySignature(r.NewPublicKey, []byte(k.Payload), k.NewKeySignature); err != nil {
		return ledgerapi.Patient{}, fmt.Errorf("%w (the new key must sign the rotation too)", err)
	}
	patient, err := s.ledger.RotateKey(ctx, k)
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	s.log.InfoContext(ctx, "patient key rotated", "patient", p.Subject, "key_version", patient.KeyVersion)
	return patient, nil
}

// requestRecovery relays a recovery request signed by the patient's
// recovery key and the new key. The caller must be the patient the request
// is for; the chaincode checks the recovery key's signature and nonce.
func (s *service) requestRecovery(ctx context.Context, p auth.Principal, k ledger.KeyChange) (ledgerapi.Patient, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Patient{}, err
	}
	if err := checkOp(k.Signed, ledgerapi.OpRecoveryRequest); err != nil {
		return ledgerapi.Patient{}, err
	}
	r, err := ledgerapi.Parse[ledgerapi.RecoveryRequest]([]byte(k.Payload))
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	if r.PatientID != p.Subject {
		return ledgerapi.Patient{}, fmt.Errorf("%w: the recovery is for patient %s, the caller is %s", ErrPermission, r.PatientID, p.Subject)
	}
	patient, err := s.ledger.RequestRecovery(ctx, k)
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	s.log.InfoContext(ctx, "patient key recovery requested", "patient", p.Subject, "effective_at", patient.Recovery.EffectiveAt)
	return patient, nil
}

// cancelRecovery relays the cancellation of a pending recovery, signed by
// the current key.
func (s *service) cancelRecovery(ctx context.Context, p auth.Principal, sp ledger.Signed) (ledgerapi.Patient, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Patient{}, err
	}
	if err := checkOp(sp, ledgerapi.OpRecoveryCancel); err != nil {
		return ledgerapi.Patient{}, err
	}
	if _, err := signedBy[ledgerapi.RecoveryCancel](ctx, s, p, sp, nil); err != nil {
		return ledgerapi.Patient{}, err
	}
	return s.ledger.CancelRecovery(ctx, sp)
}

// completeRecovery puts the calling patient's pending recovery in force
// once its waiting period is over.
func (s *service) completeRecovery(ctx context.Context, p auth.Principal) (ledgerapi.Patient, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Patient{}, err
	}
	patient, err := s.ledger.CompleteRecovery(ctx, p.Subject)
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	s.log.InfoContext(ctx, "patient key recovered", "patient", p.Subject, "key_version", patient.KeyVersion)
	return patient, nil
}
