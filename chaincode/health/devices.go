package health

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Devices is the registry of the wearables whose keys patients registered.
type Devices struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Devices) GetEvaluateTransactions() []string { return []string{"Get", "ListByPatient"} }

// Register registers a device key to a patient. The payload is a
// DeviceRegistration signed by the patient.
func (*Devices) Register(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Device, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	reg, _, err := acceptSigned[ledgerapi.DeviceRegistration](ctx, payload, signature)
	if err != nil {
		return nil, err
	}
	if err := ensureNew(ctx, deviceType, reg.DeviceID); err != nil {
		return nil, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	if err := putIndex(ctx, devicesByPatient, reg.PatientID, reg.DeviceID); err != nil {
		return nil, err
	}
	return store(ctx, deviceType, reg.DeviceID, &ledgerapi.Device{
		DeviceID:     reg.DeviceID,
		PatientID:    reg.PatientID,
		PublicKey:    reg.PublicKey,
		Status:       ledgerapi.StatusActive,
		RegisteredAt: ledgerapi.FormatTime(now),
	})
}

// Revoke withdraws a device. The payload is a DeviceRevocation signed by the
// patient the device is registered to.
func (*Devices) Revoke(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Device, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	r, _, err := acceptSigned[ledgerapi.DeviceRevocation](ctx, payload, signature)
	if err != nil {
		return nil, err
	}
	device, err := load[ledgerapi.Device](ctx, deviceType, r.DeviceID)
	if err != nil {
		return nil, err
	}
	if device.PatientID != r.PatientID {
		return nil, fmt.Errorf("%w: device %s is not registered to patient %s", ledgerapi.ErrForbidden, r.DeviceID, r.PatientID)
	}
	if device.Status == ledgerapi.StatusRevoked {
		return nil, fmt.Errorf("%w: device %s is already revoked", ledgerapi.ErrConflict, r.DeviceID)
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	device.Status = ledgerapi.StatusRevoked
	device.RevokedAt = ledgerapi.FormatTime(now)
	return store(ctx, deviceType, r.DeviceID, device)
}

// Get returns a device.
func (*Devices) Get(ctx contractapi.TransactionContextInterface, deviceID string) (*ledgerapi.Device, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("deviceId", deviceID); err != nil {
		return nil, err
	}
	return load[ledgerapi.Device](ctx, deviceType, deviceID)
}

// ListByPatient returns the devices paired with a patient, active or
// revoked, in id order (at most the first maxPageSize).
func (*Devices) ListByPatient(ctx contractapi.TransactionContextInterface, patientID string) ([]ledgerapi.Device, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, err
	}
	items, _, err := pageOf(ctx, devicesByPatient, []string{patientID}, maxPageSize, "", loader[ledgerapi.Device](ctx, deviceType))
	return items, err
}
