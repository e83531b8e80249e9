package consent

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
)

// Delegations: a patient lets a parent, guardian or carer act for them.
// The patient's key signs the delegation and its end; the delegate's own
// key signs what they do (grant, revoke), which goes through grant and
// revoke like the patient's own changes (signedBy takes the delegate's
// key for a payload that names its delegation). A delegate with the power
// to read reads through the decision point (the view keeps the
// delegations; the policy decides).

// grantDelegation relays the calling patient's signed delegation.
func (s *service) grantDelegation(ctx context.Context, p auth.Principal, sp ledger.Signed) (ledgerapi.Delegation, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Delegation{}, err
	}
	if err := checkOp(sp, ledgerapi.OpDelegationGrant); err != nil {
		return ledgerapi.Delegation{}, err
	}
	if _, err := signedBy[ledgerapi.DelegationGrant](ctx, s, p, sp, nil); err != nil {
		return ledgerapi.Delegation{}, err
	}
	d, err := s.ledger.GrantDelegation(ctx, sp)
	if err != nil {
		return ledgerapi.Delegation{}, err
	}
	s.view.CommittedDelegation(d)
	s.log.InfoContext(ctx, "delegation granted", "patient", d.PatientID, "delegation", d.DelegationID, "delegate", d.DelegateID, "powers", d.Powers)
	return d, nil
}

// revokeDelegation relays the calling patient's signed end of a delegation.
func (s *service) revokeDelegation(ctx context.Context, p auth.Principal, sp ledger.Signed) (ledgerapi.Delegation, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Delegation{}, err
	}
	if err := checkOp(sp, ledgerapi.OpDelegationEnd); err != nil {
		return ledgerapi.Delegation{}, err
	}
	if _, err := signedBy[ledgerapi.DelegationRevocation](ctx, s, p, sp, nil); err != nil {
		return ledgerapi.Delegation{}, err
	}
	d, err := s.ledger.RevokeDelegation(ctx, sp)
	if err != nil {
		return ledgerapi.Delegation{}, err
	}
	// Committed: a delegate's reads end at once, before the block reaches
	// the view.
	s.view.CommittedDelegation(d)
	s.log.InfoContext(ctx, "delegation ended", "patient", d.PatientID, "delegation", d.DelegationID)
	return d, nil
}

// listDelegations is what the caller gave, as a patient, and was given, as
// a delegate.
func (s *service) listDelegations(ctx context.Context, p auth.Principal) (given, received []ledgerapi.Delegation, err error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return nil, nil, err
	}
	if given, err = s.ledger.DelegationsByPatient(ctx, p.Subject); err != nil {
		return nil, nil, err
	}
	if received, err = s.ledger.DelegationsByDelegate(ctx, p.Subject); err != nil {
		return nil, nil, err
	}
	return given, received, nil
}

// delegation is one delegation, for its patient or its delegate; to anyone
// else it does not exist.
func (s *service) delegation(ctx context.Context, p auth.Principal, id string) (ledgerapi.Delegation, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return ledgerapi.Delegation{}, err
	}
	if err := ledgerapi.ValidateID("delegation_id", id); err != nil {
		return ledgerapi.Delegation{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	d, err := s.ledger.Delegation(ctx, id)
	if err == nil && d.PatientID != p.Subject && d.DelegateID != p.Subject {
		err = ledgerapi.ErrNotFound
	}
	if errors.Is(err, ledgerapi.ErrNotFound) {
		return ledgerapi.Delegation{}, fmt.Errorf("%w: no delegation %s of yours", ledgerapi.ErrNotFound, id)
	}
	return d, err
}

// actingFor returns the patient a call is for: the calling patient when
// patientID is theirs or empty, else patientID when the caller is their
// delegate under a delegation (read from the ledger: delegationID's, or any
// when it is "") that is active, has not ended and gives power.
func (s *service) actingFor(ctx context.Context, p auth.Principal, patientID, delegationID, power string) (string, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return "", err
	}
	if patientID == "" || patientID == p.Subject {
		return p.Subject, nil
	}
	if err := ledgerapi.ValidateID("patient_id", patientID); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var candidates []ledgerapi.Delegation
	if delegationID != "" {
		d, err := s.ledger.Delegation(ctx, delegationID)
		switch {
		case err == nil:
			candidates = append(candidates, d)
		case !errors.Is(err, ledgerapi.ErrNotFound):
			return "", err
		}
	} else {
		given, err := s.ledger.DelegationsByDelegate(ctx, p.Subject)
		if err != nil {
			return "", err
		}
		candidates = given
	}
	now := s.now()
	for _, d := range candidates {
		end, err := ledgerapi.ParseTime("expiresAt", d.ExpiresAt)
		if d.PatientID == patientID && d.DelegateID == p.Subject && d.Status == ledgerapi.StatusActive && err == nil && now.Before(end) &&
			slices.Contains(d.Powers, power) {
			return patientID, nil
		}
	}
	return "", fmt.Errorf("%w: %s acts for patient %s under no delegation in force that gives the power to %s", ErrPermission, p.Subject, patientID, power)
}
