package health

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Anchors holds the Merkle roots of the batches of readings wearables send,
// so any reading can later be proven against its anchored root.
type Anchors struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Anchors) GetEvaluateTransactions() []string { return []string{"Get"} }

// Anchor records the Merkle root of a batch of count readings a device of the
// patient took between from and to. The device may have been revoked since:
// readings received before the revocation remain valid.
func (*Anchors) Anchor(ctx contractapi.TransactionContextInterface, batchID, patientID, deviceID, root string, count int, from, to string) (*ledgerapi.Anchor, error) {
	if err := authorize(ctx, providersOnly); err != nil {
		return nil, err
	}
	start, startErr := ledgerapi.ParseTime("from", from)
	end, endErr := ledgerapi.ParseTime("to", to)
	var countErr, orderErr error
	if count < 1 {
		countErr = fmt.Errorf("%w: count must be at least 1", ledgerapi.ErrInvalid)
	}
	if startErr == nil && endErr == nil && end.Before(start) {
		orderErr = fmt.Errorf("%w: from must not be after to", ledgerapi.ErrInvalid)
	}
	if err := errors.Join(
		ledgerapi.ValidateID("batchId", batchID),
		ledgerapi.ValidateID("patientId", patientID),
		ledgerapi.ValidateID("deviceId", deviceID),
		ledgerapi.ValidateHash("root", root),
		countErr, startErr, endErr, orderErr,
	); err != nil {
		return nil, err
	}
	device, err := load[ledgerapi.Device](ctx, deviceType, deviceID)
	if err != nil {
		return nil, err
	}
	if device.PatientID != patientID {
		return nil, fmt.Errorf("%w: device %s is not registered to patient %s", ledgerapi.ErrForbidden, deviceID, patientID)
	}
	if err := ensureNew(ctx, anchorType, batchID); err != nil {
		return nil, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	return store(ctx, anchorType, batchID, &ledgerapi.Anchor{
		BatchID:   batchID,
		PatientID: patientID,
		DeviceID:  deviceID,
		Root:      root,
		Count:     count,
		From:      ledgerapi.FormatTime(start),
		To:        ledgerapi.FormatTime(end),
		TxID:      ctx.GetStub().GetTxID(),
		Timestamp: ledgerapi.FormatTime(now),
	})
}

// Get returns an anchor.
func (*Anchors) Get(ctx contractapi.TransactionContextInterface, batchID string) (*ledgerapi.Anchor, error) {
	if err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("batchId", batchID); err != nil {
		return nil, err
	}
	return load[ledgerapi.Anchor](ctx, anchorType, batchID)
}
