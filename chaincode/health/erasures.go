package health

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// EventPatientErased is the chaincode event an erasure emits; the payload is
// the Erasure.
const EventPatientErased = "PatientErased"

// Erasures records that a patient's data was erased off the ledger by
// crypto-shredding (its key destroyed). The ledger keeps that it happened,
// never the data; afterwards no consent check allows a use of the patient's
// records and no new consent is accepted.
type Erasures struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Erasures) GetEvaluateTransactions() []string { return []string{"Get"} }

// Record records the erasure of a registered patient's data: objectsDeleted
// objects deleted and the key keyID ("" when unnamed) destroyed. A patient is
// erased once. Recording the same erasure again returns the one recorded,
// writing nothing, so a retry after an unknown outcome is safe; the same
// erasureId with other content conflicts, another erasureId already exists.
func (*Erasures) Record(ctx contractapi.TransactionContextInterface, patientID, erasureID string, objectsDeleted int, keyID string) (*ledgerapi.Erasure, error) {
	if err := authorize(ctx, providersOnly); err != nil {
		return nil, err
	}
	var countErr error
	if objectsDeleted < 0 {
		countErr = fmt.Errorf("%w: objectsDeleted must not be negative", ledgerapi.ErrInvalid)
	}
	if err := errors.Join(
		ledgerapi.ValidateID("patientId", patientID),
		ledgerapi.ValidateID("erasureId", erasureID),
		countErr,
		ledgerapi.ValidateOptionalID("keyId", keyID),
	); err != nil {
		return nil, err
	}
	if _, err := load[ledgerapi.Patient](ctx, patientType, patientID); err != nil {
		return nil, err
	}
	recorded, err := erasureOf(ctx, patientID)
	if err != nil {
		return nil, err
	}
	if recorded != nil {
		switch {
		case recorded.ErasureID != erasureID:
			return nil, fmt.Errorf("%w: patient %s was already erased by erasure %s", ledgerapi.ErrExists, patientID, recorded.ErasureID)
		case recorded.ObjectsDeleted != objectsDeleted || recorded.KeyID != keyID:
			return nil, fmt.Errorf("%w: erasure %s of patient %s is already recorded with different content", ledgerapi.ErrConflict, erasureID, patientID)
		}
		return recorded, nil
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	e := &ledgerapi.Erasure{
		PatientID:      patientID,
		ErasureID:      erasureID,
		ObjectsDeleted: objectsDeleted,
		KeyID:          keyID,
		TxID:           ctx.GetStub().GetTxID(),
		Timestamp:      ledgerapi.FormatTime(now),
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode erasure: %w", err)
	}
	if err := ctx.GetStub().SetEvent(EventPatientErased, payload); err != nil {
		return nil, fmt.Errorf("emit %s: %w", EventPatientErased, err)
	}
	return store(ctx, erasureType, patientID, e)
}

// Get returns the erasure recorded for a patient.
func (*Erasures) Get(ctx contractapi.TransactionContextInterface, patientID string) (*ledgerapi.Erasure, error) {
	if err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, err
	}
	return load[ledgerapi.Erasure](ctx, erasureType, patientID)
}

// erasureOf returns the erasure recorded for a patient, nil when the
// patient's data has not been erased.
func erasureOf(ctx contractapi.TransactionContextInterface, patientID string) (*ledgerapi.Erasure, error) {
	k, err := key(ctx, erasureType, patientID)
	if err != nil {
		return nil, err
	}
	var e ledgerapi.Erasure
	found, err := getJSON(ctx, k, &e)
	if err != nil || !found {
		return nil, err
	}
	return &e, nil
}

// ensureNotErased refuses a change about a patient whose data has been
// erased: it no longer exists, so there is nothing left to consent to.
func ensureNotErased(ctx contractapi.TransactionContextInterface, patientID string) error {
	erasure, err := erasureOf(ctx, patientID)
	if err != nil {
		return err
	}
	if erasure != nil {
		return fmt.Errorf("%w: %s (erasure %s)", ledgerapi.ErrForbidden, erasedReason(patientID), erasure.ErasureID)
	}
	return nil
}

// erasedReason is why nothing about an erased patient's data can be allowed.
func erasedReason(patientID string) string {
	return fmt.Sprintf("patient %s has been erased", patientID)
}
