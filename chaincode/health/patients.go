package health

import (
	"fmt"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// EventPatientKeyChanged is the event of a change of a patient's key or of
// its recovery (rotation, recovery requested, cancelled or completed); the
// payload is the Patient after the change.
const EventPatientKeyChanged = "PatientKeyChanged"

// EventPatientRegistered announces a registration; its payload is the
// Patient JSON.
const EventPatientRegistered = "PatientRegistered"

// Patients is the patient registry: each patient's public key, the last
// nonce accepted from it, and the recovery key that can replace it.
type Patients struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Patients) GetEvaluateTransactions() []string { return []string{"Get", "History"} }

// Register registers a patient. The payload is a PatientRegistration signed
// by the key it registers, proving the caller holds that key.
func (*Patients) Register(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Patient, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	reg, err := ledgerapi.Parse[ledgerapi.PatientRegistration]([]byte(payload))
	if err != nil {
		return nil, err
	}
	if err := ledgerapi.VerifySignature(reg.PublicKey, []byte(payload), signature); err != nil {
		return nil, err
	}
	if err := ensureNew(ctx, patientType, reg.PatientID); err != nil {
		return nil, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	p := &ledgerapi.Patient{
		PatientID:    reg.PatientID,
		Nonce:        reg.Nonce,
		RegisteredAt: ledgerapi.FormatTime(now),
		KeyVersion:   1,
	}
	reg.SetOn(p)
	if err := emit(ctx, EventPatientRegistered, p); err != nil {
		return nil, err
	}
	return store(ctx, patientType, reg.PatientID, p)
}

// EventMinorRegistered announces a hospital's registration of a minor; its
// payload is a MinorRegistered: the patient's entry and the guardian's
// delegation.
const EventMinorRegistered = "MinorRegistered"

// RegisterMinor registers a child who has no key of their own yet: a
// hospital calls it (the caller's organisation is recorded as the
// registrar), and the guardian's key signs the MinorRegistration. In the
// same transaction the guardian gets the delegation it names, which ends at
// the child's majority (within MaxDelegation of now). The entry has no key:
// every change signed as the patient is refused until the patient claims it
// (ClaimKey), and the guardian acts under the delegation.
func (*Patients) RegisterMinor(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.MinorRegistered, error) {
	mspID, err := authorize(ctx, hospitals)
	if err != nil {
		return nil, err
	}
	reg, err := ledgerapi.Parse[ledgerapi.MinorRegistration]([]byte(payload))
	if err != nil {
		return nil, err
	}
	if err := ledgerapi.VerifySignature(reg.GuardianKey, []byte(payload), signature); err != nil {
		return nil, fmt.Errorf("%w (the guardian's key must sign the registration of a minor)", err)
	}
	if err := ensureNew(ctx, patientType, reg.PatientID); err != nil {
		return nil, err
	}
	if err := ensureNew(ctx, delegationType, reg.DelegationID); err != nil {
		return nil, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	majority, _ := ledgerapi.ParseTime("majorityAt", reg.MajorityAt)
	if !majority.After(now) || majority.Sub(now) > ledgerapi.MaxDelegation {
		return nil, fmt.Errorf("%w: majorityAt must be after the registration and at most %d days later; a patient of age registers their own key",
			ledgerapi.ErrInvalid, int(ledgerapi.MaxDelegation/(24*time.Hour)))
	}
	at, txID := ledgerapi.FormatTime(now), ctx.GetStub().GetTxID()
	out := &ledgerapi.MinorRegistered{
		Patient: ledgerapi.Patient{PatientID: reg.PatientID, RegisteredAt: at, RegisteredBy: mspID, MajorityAt: ledgerapi.FormatTime(majority)},
		Delegation: ledgerapi.Delegation{
			DelegationID: reg.DelegationID, PatientID: reg.PatientID, DelegateID: reg.GuardianID, DelegateKey: reg.GuardianKey,
			Relationship: reg.Relationship, Powers: reg.Powers, ExpiresAt: ledgerapi.FormatTime(majority),
			Status: ledgerapi.StatusActive, GrantedAt: at, GrantTxID: txID, RegisteredBy: mspID,
		},
	}
	if err := indexDelegation(ctx, &out.Delegation); err != nil {
		return nil, err
	}
	if _, err := store(ctx, delegationType, reg.DelegationID, &out.Delegation); err != nil {
		return nil, err
	}
	if _, err := store(ctx, patientType, reg.PatientID, &out.Patient); err != nil {
		return nil, err
	}
	if err := emit(ctx, EventMinorRegistered, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ClaimKey gives a patient registered as a minor their own key, from their
// majority on. The payload is a KeyClaim signed by the key it claims; the
// hospital that registered the child submits it, attesting who claims. The
// key must not be one a delegate of the patient holds. The claim is the
// entry's first key (key version 1); the guardian's delegation has ended.
func (*Patients) ClaimKey(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Patient, error) {
	mspID, err := authorize(ctx, hospitals)
	if err != nil {
		return nil, err
	}
	claim, err := ledgerapi.Parse[ledgerapi.KeyClaim]([]byte(payload))
	if err != nil {
		return nil, err
	}
	if err := ledgerapi.VerifySignature(claim.PublicKey, []byte(payload), signature); err != nil {
		return nil, err
	}
	patient, err := load[ledgerapi.Patient](ctx, patientType, claim.PatientID)
	if err != nil {
		return nil, err
	}
	if err := ensureNotErased(ctx, claim.PatientID); err != nil {
		return nil, err
	}
	switch {
	case patient.HasKey():
		return nil, fmt.Errorf("%w: patient %s has a key already (a key is changed by rotation or recovery)", ledgerapi.ErrConflict, claim.PatientID)
	case patient.RegisteredBy != mspID:
		return nil, fmt.Errorf("%w: only %s, which registered patient %s, may attest their claim", ledgerapi.ErrForbidden, patient.RegisteredBy, claim.PatientID)
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	majority, err := ledgerapi.ParseTime("majorityAt", patient.MajorityAt)
	if err != nil {
		return nil, err
	}
	if now.Before(majority) {
		return nil, fmt.Errorf("%w: patient %s comes of age at %s; until then their guardian acts for them", ledgerapi.ErrForbidden, claim.PatientID, patient.MajorityAt)
	}
	// Not paginated: a paginated query is refused in a transaction that writes.
	delegations, err := scan(ctx, delegationsByPatient, []string{claim.PatientID}, loader[ledgerapi.Delegation](ctx, delegationType))
	if err != nil {
		return nil, err
	}
	for _, d := range delegations {
		if d.DelegateKey == claim.PublicKey || d.DelegateKey == claim.RecoveryKey {
			return nil, fmt.Errorf("%w: the claimed key is the key of delegate %s: the patient's keys must be their own", ledgerapi.ErrInvalid, d.DelegateID)
		}
	}
	claim.SetOn(patient)
	patient.KeyVersion, patient.KeyChangedAt = 1, ledgerapi.FormatTime(now)
	return storePatient(ctx, patient)
}

// Get returns a registered patient.
func (*Patients) Get(ctx contractapi.TransactionContextInterface, patientID string) (*ledgerapi.Patient, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, err
	}
	return load[ledgerapi.Patient](ctx, patientType, patientID)
}

// History returns every version of a patient's entry, oldest first: the
// registration and each change of key or recovery, with its transaction.
func (*Patients) History(ctx contractapi.TransactionContextInterface, patientID string) ([]ledgerapi.PatientVersion, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, err
	}
	return history(ctx, patientType, patientID, func(txID, ts string, isDelete bool, value []byte) (ledgerapi.PatientVersion, error) {
		v := ledgerapi.PatientVersion{TxID: txID, Timestamp: ts}
		if isDelete { // never written so; kept as an empty version if it were
			return v, nil
		}
		var err error
		v.Patient, err = decode[ledgerapi.Patient](value)
		return v, err
	})
}

// RotateKey replaces the patient's key at once. The payload is a KeyRotation
// signed by the current key (with a fresh nonce); newKeySignature is the new
// key's signature of the same payload, proving its holder has it. A pending
// recovery is cancelled: the holder of the current key has spoken.
func (*Patients) RotateKey(ctx contractapi.TransactionContextInterface, payload, signature, newKeySignature string) (*ledgerapi.Patient, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	rot, patient, err := acceptSigned[ledgerapi.KeyRotation](ctx, payload, signature)
	if err != nil {
		return nil, err
	}
	if err := newKeyFits(patient, rot.NewPublicKey, payload, newKeySignature); err != nil {
		return nil, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	patient.PublicKey, patient.Recovery = rot.NewPublicKey, nil
	patient.KeyVersion++
	patient.KeyChangedAt = ledgerapi.FormatTime(now)
	return storePatient(ctx, patient)
}

// RequestRecovery asks to replace a lost key. The payload is a
// RecoveryRequest signed by the patient's recovery key with a nonce above
// the last one it used; newKeySignature is the new key's signature of the
// same payload. The replacement takes effect at the end of the waiting
// period (CompleteRecovery), unless the current key cancels it first. A
// later request replaces an earlier pending one.
func (*Patients) RequestRecovery(ctx contractapi.TransactionContextInterface, payload, signature, newKeySignature string) (*ledgerapi.Patient, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	req, err := ledgerapi.Parse[ledgerapi.RecoveryRequest]([]byte(payload))
	if err != nil {
		return nil, err
	}
	patient, err := load[ledgerapi.Patient](ctx, patientType, req.PatientID)
	if err != nil {
		return nil, err
	}
	if patient.RecoveryKey == "" {
		return nil, fmt.Errorf("%w: patient %s named no recovery key at registration", ledgerapi.ErrForbidden, req.PatientID)
	}
	if err := ledgerapi.VerifySignature(patient.RecoveryKey, []byte(payload), signature); err != nil {
		return nil, fmt.Errorf("%w (the recovery key must sign a recovery)", err)
	}
	if req.Nonce <= patient.RecoveryNonce {
		return nil, fmt.Errorf("%w: nonce %d must be greater than %d, the last nonce of patient %s's recovery key",
			ledgerapi.ErrNonce, req.Nonce, patient.RecoveryNonce, req.PatientID)
	}
	if err := newKeyFits(patient, req.NewPublicKey, payload, newKeySignature); err != nil {
		return nil, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	patient.RecoveryNonce = req.Nonce
	patient.Recovery = &ledgerapi.PendingRecovery{
		NewPublicKey: req.NewPublicKey,
		RequestedAt:  ledgerapi.FormatTime(now),
		EffectiveAt:  ledgerapi.FormatTime(now.Add(time.Duration(patient.RecoveryDelaySeconds) * time.Second)),
		TxID:         ctx.GetStub().GetTxID(),
	}
	return storePatient(ctx, patient)
}

// CancelRecovery cancels a pending recovery. The payload is a
// RecoveryCancel signed by the current key.
func (*Patients) CancelRecovery(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Patient, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	_, patient, err := acceptSigned[ledgerapi.RecoveryCancel](ctx, payload, signature)
	if err != nil {
		return nil, err
	}
	if patient.Recovery == nil {
		return nil, fmt.Errorf("%w: patient %s has no pending recovery", ledgerapi.ErrConflict, patient.PatientID)
	}
	patient.Recovery = nil
	return storePatient(ctx, patient)
}

// CompleteRecovery puts a pending recovery's new key in force once its
// waiting period is over. Anyone may call it: the request was signed by the
// recovery key, and the current key had the whole period to cancel it.
func (*Patients) CompleteRecovery(ctx contractapi.TransactionContextInterface, patientID string) (*ledgerapi.Patient, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, err
	}
	patient, err := load[ledgerapi.Patient](ctx, patientType, patientID)
	if err != nil {
		return nil, err
	}
	if patient.Recovery == nil {
		return nil, fmt.Errorf("%w: patient %s has no pending recovery", ledgerapi.ErrConflict, patientID)
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	effective, err := ledgerapi.ParseTime("effectiveAt", patient.Recovery.EffectiveAt)
	if err != nil {
		return nil, err
	}
	if now.Before(effective) {
		return nil, fmt.Errorf("%w: the recovery of patient %s takes effect at %s; until then the current key can cancel it",
			ledgerapi.ErrForbidden, patientID, patient.Recovery.EffectiveAt)
	}
	patient.PublicKey, patient.Recovery = patient.Recovery.NewPublicKey, nil
	patient.KeyVersion++
	patient.KeyChangedAt = ledgerapi.FormatTime(now)
	return storePatient(ctx, patient)
}

// newKeyFits checks a replacement key: it signed the payload too, and it is
// neither the current key nor the recovery key.
func newKeyFits(p *ledgerapi.Patient, newKey, payload, newKeySignature string) error {
	if newKey == p.PublicKey || newKey == p.RecoveryKey {
		return fmt.Errorf("%w: the new key must differ from the current key and the recovery key", ledgerapi.ErrInvalid)
	}
	if err := ledgerapi.VerifySignature(newKey, []byte(payload), newKeySignature); err != nil {
		return fmt.Errorf("%w (the new key must sign the payload too)", err)
	}
	return nil
}

// storePatient writes a patient's entry after a change of key or recovery
// and emits the event that announces it.
func storePatient(ctx contractapi.TransactionContextInterface, p *ledgerapi.Patient) (*ledgerapi.Patient, error) {
	if err := emit(ctx, EventPatientKeyChanged, p); err != nil {
		return nil, err
	}
	return store(ctx, patientType, p.PatientID, p)
}
