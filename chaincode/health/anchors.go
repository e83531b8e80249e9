package health

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Anchors holds the Merkle roots of the batches of readings wearables send,
// so any reading can later be proven against its anchored root: one root per
// batch (Anchor), or one root over the batches of many devices and patients
// received in a period (AnchorRoot).
type Anchors struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Anchors) GetEvaluateTransactions() []string { return []string{"Get", "GetRoot"} }

// Anchor records the Merkle root of a batch of count readings a device of the
// patient took between from and to. The device may have been revoked since:
// readings received before the revocation remain valid.
func (*Anchors) Anchor(ctx contractapi.TransactionContextInterface, batchID, patientID, deviceID, root string, count int, from, to string) (*ledgerapi.Anchor, error) {
	if _, err := authorize(ctx, providersOnly); err != nil {
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
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("batchId", batchID); err != nil {
		return nil, err
	}
	return load[ledgerapi.Anchor](ctx, anchorType, batchID)
}

// AnchorRoot records root, the RFC 9162 Merkle root over the hashes of size
// batches holding readings readings in all, taken between from and to. The
// batches may come from many devices and patients; which ones is known off
// the ledger, from the inclusion proofs. Recording the same anchor again
// returns the one recorded, writing nothing, so a retry after an unknown
// outcome is safe; the same anchorId with other content conflicts.
func (*Anchors) AnchorRoot(ctx contractapi.TransactionContextInterface, anchorID, root string, size, readings int, from, to string) (*ledgerapi.RootAnchor, error) {
	if _, err := authorize(ctx, providersOnly); err != nil {
		return nil, err
	}
	start, startErr := ledgerapi.ParseTime("from", from)
	end, endErr := ledgerapi.ParseTime("to", to)
	var sizeErr, readingsErr, orderErr error
	if size < 1 {
		sizeErr = fmt.Errorf("%w: size must be at least 1", ledgerapi.ErrInvalid)
	} else if readings < size {
		readingsErr = fmt.Errorf("%w: readings must be at least size (%d): every batch holds a reading", ledgerapi.ErrInvalid, size)
	}
	if startErr == nil && endErr == nil && end.Before(start) {
		orderErr = fmt.Errorf("%w: from must not be after to", ledgerapi.ErrInvalid)
	}
	if err := errors.Join(
		ledgerapi.ValidateID("anchorId", anchorID),
		ledgerapi.ValidateHash("root", root),
		sizeErr, readingsErr, startErr, endErr, orderErr,
	); err != nil {
		return nil, err
	}
	k, err := key(ctx, rootAnchorType, anchorID)
	if err != nil {
		return nil, err
	}
	var recorded ledgerapi.RootAnchor
	found, err := getJSON(ctx, k, &recorded)
	if err != nil {
		return nil, err
	}
	a := &ledgerapi.RootAnchor{
		AnchorID: anchorID,
		Root:     root,
		Size:     size,
		Readings: readings,
		From:     ledgerapi.FormatTime(start),
		To:       ledgerapi.FormatTime(end),
	}
	if found {
		if recorded.Root != a.Root || recorded.Size != a.Size || recorded.Readings != a.Readings ||
			recorded.From != a.From || recorded.To != a.To {
			return nil, fmt.Errorf("%w: root anchor %s is already recorded with different content", ledgerapi.ErrConflict, anchorID)
		}
		return &recorded, nil
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	a.TxID = ctx.GetStub().GetTxID()
	a.Timestamp = ledgerapi.FormatTime(now)
	return store(ctx, rootAnchorType, anchorID, a)
}

// GetRoot returns a root anchor.
func (*Anchors) GetRoot(ctx contractapi.TransactionContextInterface, anchorID string) (*ledgerapi.RootAnchor, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("anchorId", anchorID); err != nil {
		return nil, err
	}
	return load[ledgerapi.RootAnchor](ctx, rootAnchorType, anchorID)
}
