package consent

import (
	"context"
	"fmt"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
)

// Minors: a hospital registers a child who has no key of their own yet,
// with the guardian's signature, and at majority attests the child's claim
// of the entry with their own key. Both are submitted as the clinician's
// own hospital (the chaincode records it as the registrar, and only the
// registrar may attest the claim), so the service must hold that
// hospital's ledger identity.

// hospitalLedger is the ledger as one hospital.
type hospitalLedger interface {
	RegisterMinor(ctx context.Context, s ledger.Signed) (ledgerapi.MinorRegistered, error)
	ClaimKey(ctx context.Context, s ledger.Signed) (ledgerapi.Patient, error)
}

// hospitalOf is the ledger as the caller's hospital: the caller must be a
// clinician of an organisation of kind hospital whose identity this
// service holds. Each clinician's registrations and claims share the
// bound of their access requests (each writes to the ledger).
func (s *service) hospitalOf(ctx context.Context, p auth.Principal) (hospitalLedger, error) {
	if err := requireRole(p, auth.RoleClinician); err != nil {
		return nil, err
	}
	if o, ok := ledgerapi.OrganisationOf(p.Org); !ok || o.Kind != ledgerapi.OrgHospital {
		return nil, fmt.Errorf("%w: only a hospital's clinician registers a minor or attests their claim; %s is not a hospital", ErrPermission, p.Org)
	}
	l := s.hospitals[p.Org]
	if l == nil {
		return nil, fmt.Errorf("%w: this consent service holds no ledger identity of %s (-ledger-org)", ErrUnavailable, p.Org)
	}
	if s.requestLimit != nil {
		if err := s.requestLimit.Throttle(ctx, p.Key(), "registrations of minors"); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// registerMinor relays a hospital's registration of a child, signed by the
// guardian's key, as the clinician's hospital. The child exists for every
// decision at once, and the guardian's delegation is in force.
func (s *service) registerMinor(ctx context.Context, p auth.Principal, sp ledger.Signed) (ledgerapi.MinorRegistered, error) {
	l, err := s.hospitalOf(ctx, p)
	if err != nil {
		return ledgerapi.MinorRegistered{}, err
	}
	if err := checkOp(sp, ledgerapi.OpMinorRegister); err != nil {
		return ledgerapi.MinorRegistered{}, err
	}
	reg, err := parseSigned(sp, func(m ledgerapi.MinorRegistration) string { return m.GuardianKey })
	if err != nil {
		return ledgerapi.MinorRegistered{}, err
	}
	out, err := l.RegisterMinor(ctx, sp)
	if err != nil {
		return ledgerapi.MinorRegistered{}, err
	}
	s.view.CommittedRegistration(out.Patient.PatientID)
	s.view.CommittedDelegation(out.Delegation)
	s.log.InfoContext(ctx, "minor registered", "patient", reg.PatientID, "guardian", reg.GuardianID, "delegation", reg.DelegationID,
		"majority", out.Patient.MajorityAt, "by", p.Subject, "org", p.Org)
	return out, nil
}

// claimKey relays a patient's claim of the entry a hospital registered for
// them as a child, signed by the claimed key, as the clinician's hospital
// (the chaincode accepts only the registrar's, from the majority date).
func (s *service) claimKey(ctx context.Context, p auth.Principal, sp ledger.Signed) (ledgerapi.Patient, error) {
	l, err := s.hospitalOf(ctx, p)
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	if err := checkOp(sp, ledgerapi.OpKeyClaim); err != nil {
		return ledgerapi.Patient{}, err
	}
	claim, err := parseSigned(sp, func(c ledgerapi.KeyClaim) string { return c.PublicKey })
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	patient, err := l.ClaimKey(ctx, sp)
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	s.log.InfoContext(ctx, "minor's entry claimed", "patient", claim.PatientID, "by", p.Subject, "org", p.Org)
	return patient, nil
}

// parseSigned parses a signed payload of type T and checks it is signed by
// keyOf's key, for a clear error before anything is submitted (the
// chaincode checks again, and is what counts).
func parseSigned[T any, P ledgerapi.Input[T]](sp ledger.Signed, keyOf func(T) string) (T, error) {
	var zero T
	v, err := parsePayload[T, P](sp)
	if err != nil {
		return zero, err
	}
	if err := ledgerapi.VerifySignature(keyOf(v), []byte(sp.Payload), sp.Signature); err != nil {
		return zero, err
	}
	return v, nil
}

// parsePayload parses a signed payload of type T, signature unchecked.
func parsePayload[T any, P ledgerapi.Input[T]](sp ledger.Signed) (T, error) {
	var zero T
	if sp.Payload == "" || sp.Signature == "" {
		return zero, fmt.Errorf("%w: a signed payload (payload and signature) is required", ErrInvalid)
	}
	return ledgerapi.Parse[T, P]([]byte(sp.Payload))
}
