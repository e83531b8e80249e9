package health

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// EventPatientErased is the chaincode event of an erasure request; the
// payload is the Erasure. From its commit on, nothing about the patient's
// data is allowed.
const EventPatientErased = "PatientErased"

// Erasures records that a patient asked for the erasure of their data held
// off the ledger, and what the erasure removed. The ledger keeps that it
// happened, never the data; from the request on no consent check allows a
// use of the patient's records and no new consent is accepted.
type Erasures struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Erasures) GetEvaluateTransactions() []string { return []string{"Get"} }

// Request records a patient's erasure request: a PatientErasure signed by
// the patient's key with a fresh nonce, relayed by the organisation that
// will carry it out. A patient is erased once. Relaying the same signed
// request again returns the erasure already recorded and writes nothing, so
// a retry after an unknown outcome is safe; another request for an erased
// patient is refused.
func (*Erasures) Request(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Erasure, error) {
	mspID, err := authorize(ctx, members)
	if err != nil {
		return nil, err
	}
	req, err := ledgerapi.Parse[ledgerapi.PatientErasure]([]byte(payload))
	if err != nil {
		return nil, err
	}
	recorded, err := erasureOf(ctx, req.PatientID)
	if err != nil {
		return nil, err
	}
	if recorded != nil {
		if recorded.ErasureID != req.ErasureID {
			return nil, fmt.Errorf("%w: patient %s was already erased by erasure %s", ledgerapi.ErrExists, req.PatientID, recorded.ErasureID)
		}
		// The same request again, its nonce already spent: only the
		// patient's own signed request is answered.
		patient, err := load[ledgerapi.Patient](ctx, patientType, req.PatientID)
		if err != nil {
			return nil, err
		}
		if err := ledgerapi.VerifySignature(patient.PublicKey, []byte(payload), signature); err != nil {
			return nil, err
		}
		return recorded, nil
	}
	if _, _, err := acceptSigned[ledgerapi.PatientErasure](ctx, payload, signature); err != nil {
		return nil, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	e := &ledgerapi.Erasure{
		PatientID:   req.PatientID,
		ErasureID:   req.ErasureID,
		Status:      ledgerapi.ErasureRequested,
		RequestedBy: mspID,
		RequestedAt: ledgerapi.FormatTime(now),
		RequestTxID: ctx.GetStub().GetTxID(),
	}
	if err := emit(ctx, EventPatientErased, e); err != nil {
		return nil, err
	}
	return store(ctx, erasureType, req.PatientID, e)
}

// Complete records what a requested erasure removed (an ErasureCounts
// document). Only the organisation that relayed the request completes it.
// Completing again with the same counts returns the erasure and writes
// nothing; other counts conflict.
func (*Erasures) Complete(ctx contractapi.TransactionContextInterface, patientID, erasureID, countsJSON string) (*ledgerapi.Erasure, error) {
	mspID, err := authorize(ctx, members)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(ledgerapi.ValidateID("patientId", patientID), ledgerapi.ValidateID("erasureId", erasureID)); err != nil {
		return nil, err
	}
	counts, err := ledgerapi.Parse[ledgerapi.ErasureCounts]([]byte(countsJSON))
	if err != nil {
		return nil, err
	}
	e, err := erasureOf(ctx, patientID)
	if err != nil {
		return nil, err
	}
	switch {
	case e == nil || e.ErasureID != erasureID:
		return nil, fmt.Errorf("%w: no erasure %s of patient %s was requested", ledgerapi.ErrNotFound, erasureID, patientID)
	case e.RequestedBy != mspID:
		return nil, fmt.Errorf("%w: erasure %s was relayed by %s; only it completes the erasure", ledgerapi.ErrForbidden, erasureID, e.RequestedBy)
	case e.Status == ledgerapi.ErasureCompleted && *e.Counts != counts:
		return nil, fmt.Errorf("%w: erasure %s is already completed with other counts", ledgerapi.ErrConflict, erasureID)
	case e.Status == ledgerapi.ErasureCompleted:
		return e, nil
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	e.Status, e.Counts = ledgerapi.ErasureCompleted, &counts
	e.CompletedAt, e.CompleteTxID = ledgerapi.FormatTime(now), ctx.GetStub().GetTxID()
	return store(ctx, erasureType, patientID, e)
}

// Get returns the erasure recorded for a patient.
func (*Erasures) Get(ctx contractapi.TransactionContextInterface, patientID string) (*ledgerapi.Erasure, error) {
	if _, err := authorize(ctx, members); err != nil {
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
