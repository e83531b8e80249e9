package health

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// signedPayload is a payload a registered patient signs: it validates itself
// and names its signer and nonce.
type signedPayload[T any] interface {
	ledgerapi.Input[T]
	Signer() (patientID string, nonce uint64)
}

// acceptSigned parses a patient-signed change, checks that the registered
// patient's current key signed exactly these bytes with a nonce above the
// last one accepted, and records the nonce as used. It returns the change
// and the patient as stored with the new nonce. Every patient-signed change
// but the registration and a recovery request goes through it.
func acceptSigned[T any, P signedPayload[T]](ctx contractapi.TransactionContextInterface, payload, signature string) (T, *ledgerapi.Patient, error) {
	var zero T
	change, err := ledgerapi.Parse[T, P]([]byte(payload))
	if err != nil {
		return zero, nil, err
	}
	patient, err := acceptPatientSigned[T, P](ctx, change, payload, signature)
	return change, patient, err
}

// acceptPatientSigned is acceptSigned for a change already parsed from
// payload.
func acceptPatientSigned[T any, P signedPayload[T]](ctx contractapi.TransactionContextInterface, change T, payload, signature string) (*ledgerapi.Patient, error) {
	patientID, nonce := P(&change).Signer()
	patient, err := load[ledgerapi.Patient](ctx, patientType, patientID)
	if err != nil {
		return nil, err
	}
	if !patient.HasKey() {
		return nil, patient.NoKeyYet()
	}
	if err := ledgerapi.VerifySignature(patient.PublicKey, []byte(payload), signature); err != nil {
		return nil, err
	}
	if nonce <= patient.Nonce {
		return nil, fmt.Errorf("%w: nonce %d must be greater than %d, the last nonce accepted from patient %s",
			ledgerapi.ErrNonce, nonce, patient.Nonce, patientID)
	}
	patient.Nonce = nonce
	if _, err := store(ctx, patientType, patientID, patient); err != nil {
		return nil, err
	}
	return patient, nil
}
