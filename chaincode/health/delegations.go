package health

import (
	"fmt"
	"slices"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Delegations holds who may act for a patient: a parent, a guardian or a
// carer, named by their own id and key, with the powers the patient gave
// and until when. The patient's key grants and ends a delegation; the
// delegate's own key signs what they do under it.
type Delegations struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Delegations) GetEvaluateTransactions() []string {
	return []string{"Get", "ListByPatient", "ListByDelegate"}
}

// Events a delegation change emits; the payload is the delegation after it.
const (
	EventDelegationGranted = "DelegationGranted"
	EventDelegationRevoked = "DelegationRevoked"
)

// Grant stores a delegation. The payload is a DelegationGrant signed by the
// patient; the patient must be registered and not erased, the delegate's
// key must not be the patient's, and it must end after now and within
// MaxDelegation.
func (*Delegations) Grant(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Delegation, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	g, patient, err := acceptSigned[ledgerapi.DelegationGrant](ctx, payload, signature)
	if err != nil {
		return nil, err
	}
	if err := ensureNotErased(ctx, g.PatientID); err != nil {
		return nil, err
	}
	if err := ensureNew(ctx, delegationType, g.DelegationID); err != nil {
		return nil, err
	}
	if g.DelegateKey == patient.PublicKey || g.DelegateKey == patient.RecoveryKey {
		return nil, fmt.Errorf("%w: the delegate's key must not be one of the patient's keys", ledgerapi.ErrInvalid)
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	expiresAt, _ := ledgerapi.ParseTime("expiresAt", g.ExpiresAt)
	if !expiresAt.After(now) || expiresAt.Sub(now) > ledgerapi.MaxDelegation {
		return nil, fmt.Errorf("%w: expiresAt must be after the grant and at most %d days later", ledgerapi.ErrInvalid, int(ledgerapi.MaxDelegation/(24*time.Hour)))
	}
	d := &ledgerapi.Delegation{
		DelegationID: g.DelegationID,
		PatientID:    g.PatientID,
		DelegateID:   g.DelegateID,
		DelegateKey:  g.DelegateKey,
		Relationship: g.Relationship,
		Powers:       g.Powers,
		ExpiresAt:    ledgerapi.FormatTime(expiresAt),
		Status:       ledgerapi.StatusActive,
		GrantedAt:    ledgerapi.FormatTime(now),
		GrantTxID:    ctx.GetStub().GetTxID(),
	}
	if err := indexDelegation(ctx, d); err != nil {
		return nil, err
	}
	return storeDelegation(ctx, EventDelegationGranted, d)
}

// indexDelegation lists a new delegation under its patient and its delegate.
func indexDelegation(ctx contractapi.TransactionContextInterface, d *ledgerapi.Delegation) error {
	if err := putIndex(ctx, delegationsByPatient, d.PatientID, d.DelegationID); err != nil {
		return err
	}
	return putIndex(ctx, delegationsByDelegate, d.DelegateID, d.DelegationID)
}

// Revoke ends a delegation at once. The payload is a DelegationRevocation
// signed by the patient who gave it.
func (*Delegations) Revoke(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Delegation, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	r, _, err := acceptSigned[ledgerapi.DelegationRevocation](ctx, payload, signature)
	if err != nil {
		return nil, err
	}
	d, err := load[ledgerapi.Delegation](ctx, delegationType, r.DelegationID)
	if err != nil {
		return nil, err
	}
	if d.PatientID != r.PatientID {
		return nil, fmt.Errorf("%w: delegation %s is not of patient %s", ledgerapi.ErrForbidden, r.DelegationID, r.PatientID)
	}
	if d.Status == ledgerapi.StatusRevoked {
		return nil, fmt.Errorf("%w: delegation %s is already revoked", ledgerapi.ErrConflict, r.DelegationID)
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	d.Status, d.RevokedAt, d.RevokeTxID = ledgerapi.StatusRevoked, ledgerapi.FormatTime(now), ctx.GetStub().GetTxID()
	return storeDelegation(ctx, EventDelegationRevoked, d)
}

func storeDelegation(ctx contractapi.TransactionContextInterface, event string, d *ledgerapi.Delegation) (*ledgerapi.Delegation, error) {
	if _, err := store(ctx, delegationType, d.DelegationID, d); err != nil {
		return nil, err
	}
	if err := emit(ctx, event, d); err != nil {
		return nil, err
	}
	return d, nil
}

// Get returns a delegation.
func (*Delegations) Get(ctx contractapi.TransactionContextInterface, delegationID string) (*ledgerapi.Delegation, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("delegationId", delegationID); err != nil {
		return nil, err
	}
	return load[ledgerapi.Delegation](ctx, delegationType, delegationID)
}

// ListByPatient returns the delegations a patient gave, in id order.
func (*Delegations) ListByPatient(ctx contractapi.TransactionContextInterface, patientID string) ([]ledgerapi.Delegation, error) {
	return listDelegations(ctx, delegationsByPatient, "patientId", patientID)
}

// ListByDelegate returns the delegations given to a delegate, in id order.
func (*Delegations) ListByDelegate(ctx contractapi.TransactionContextInterface, delegateID string) ([]ledgerapi.Delegation, error) {
	return listDelegations(ctx, delegationsByDelegate, "delegateId", delegateID)
}

func listDelegations(ctx contractapi.TransactionContextInterface, index, field, id string) ([]ledgerapi.Delegation, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID(field, id); err != nil {
		return nil, err
	}
	items, _, err := pageOf(ctx, index, []string{id}, maxPageSize, "", loader[ledgerapi.Delegation](ctx, delegationType))
	return items, err
}

// delegatedPayload is a change a patient, or a delegate for them, signs.
type delegatedPayload[T any] interface {
	signedPayload[T]
	Delegation() string
}

// acceptForPatient is acceptSigned for a change the patient signs, or a
// delegate signs under a delegation (the payload names it): then the
// delegation must be the patient's, active, not past its end at the
// transaction time, give power, and its delegate's key must have signed
// exactly these bytes with a nonce above the delegation's last. It returns
// the change and the delegation ("" when the patient signed).
func acceptForPatient[T any, P delegatedPayload[T]](ctx contractapi.TransactionContextInterface, payload, signature, power string) (T, string, error) {
	var zero T
	change, err := ledgerapi.Parse[T, P]([]byte(payload))
	if err != nil {
		return zero, "", err
	}
	delegationID := P(&change).Delegation()
	if delegationID == "" {
		_, err := acceptPatientSigned[T, P](ctx, change, payload, signature)
		return change, "", err
	}
	patientID, nonce := P(&change).Signer()
	if _, err := load[ledgerapi.Patient](ctx, patientType, patientID); err != nil {
		return zero, "", err
	}
	d, err := load[ledgerapi.Delegation](ctx, delegationType, delegationID)
	if err != nil {
		return zero, "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return zero, "", err
	}
	end, err := ledgerapi.ParseTime("expiresAt", d.ExpiresAt)
	if err != nil {
		return zero, "", err
	}
	switch {
	case d.PatientID != patientID:
		return zero, "", fmt.Errorf("%w: delegation %s is not of patient %s", ledgerapi.ErrForbidden, delegationID, patientID)
	case d.Status != ledgerapi.StatusActive:
		return zero, "", fmt.Errorf("%w: delegation %s is revoked", ledgerapi.ErrForbidden, delegationID)
	case !now.Before(end):
		return zero, "", fmt.Errorf("%w: delegation %s ended at %s", ledgerapi.ErrForbidden, delegationID, d.ExpiresAt)
	case !slices.Contains(d.Powers, power):
		return zero, "", fmt.Errorf("%w: delegation %s does not give the power to %s (it gives %v)", ledgerapi.ErrForbidden, delegationID, power, d.Powers)
	}
	if err := ledgerapi.VerifySignature(d.DelegateKey, []byte(payload), signature); err != nil {
		return zero, "", err
	}
	if nonce <= d.Nonce {
		return zero, "", fmt.Errorf("%w: nonce %d must be greater than %d, the last nonce accepted under delegation %s",
			ledgerapi.ErrNonce, nonce, d.Nonce, delegationID)
	}
	d.Nonce = nonce
	if _, err := store(ctx, delegationType, delegationID, d); err != nil {
		return zero, "", err
	}
	return change, delegationID, nil
}
