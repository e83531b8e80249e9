package health

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Patients is the patient registry: each patient's public key and the last
// nonce accepted from it.
type Patients struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Patients) GetEvaluateTransactions() []string { return []string{"Get"} }

// Register registers a patient. The payload is a PatientRegistration signed
// by the key it registers, proving the caller holds that key.
func (*Patients) Register(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Patient, error) {
	if err := authorize(ctx, providersOnly); err != nil {
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
	return store(ctx, patientType, reg.PatientID, &ledgerapi.Patient{
		PatientID:    reg.PatientID,
		PublicKey:    reg.PublicKey,
		Nonce:        reg.Nonce,
		RegisteredAt: ledgerapi.FormatTime(now),
	})
}

// Get returns a registered patient.
func (*Patients) Get(ctx contractapi.TransactionContextInterface, patientID string) (*ledgerapi.Patient, error) {
	if err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, err
	}
	return load[ledgerapi.Patient](ctx, patientType, patientID)
}
