package health

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// AccessLog is the tamper-evident log of access decisions, allowed or denied,
// that patients can read.
type AccessLog struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*AccessLog) GetEvaluateTransactions() []string { return []string{"ListByPatient"} }

// Append records a batch of access events (a JSON array of AccessEvent). An
// event already recorded with the same content is skipped and counted as a
// duplicate, so a retried append is harmless; one recorded with different
// content fails the whole batch.
func (*AccessLog) Append(ctx contractapi.TransactionContextInterface, eventsJSON string) (*ledgerapi.AppendResult, error) {
	if err := authorize(ctx, members); err != nil {
		return nil, err
	}
	events, err := ledgerapi.Parse[ledgerapi.AccessEvents]([]byte(eventsJSON))
	if err != nil {
		return nil, err
	}
	result := &ledgerapi.AppendResult{}
	for _, e := range events {
		at, err := ledgerapi.ParseTime("time", e.Time)
		if err != nil {
			return nil, err
		}
		e.Time = ledgerapi.FormatTime(at)
		k, err := key(ctx, eventType, e.EventID)
		if err != nil {
			return nil, err
		}
		var recorded ledgerapi.AccessEvent
		found, err := getJSON(ctx, k, &recorded)
		if err != nil {
			return nil, err
		}
		if found {
			recorded.TxID = "" // compare only what the client sent
			if recorded != e {
				return nil, fmt.Errorf("%w: event %s is already recorded with different content", ledgerapi.ErrConflict, e.EventID)
			}
			result.Duplicates++
			continue
		}
		e.TxID = ctx.GetStub().GetTxID()
		if err := putJSON(ctx, k, e); err != nil {
			return nil, err
		}
		if err := putIndex(ctx, eventsByPatient, e.PatientID, timeAttr(at), e.EventID); err != nil {
			return nil, err
		}
		result.Appended++
	}
	return result, nil
}

// ListByPatient returns one page of a patient's access events, in (time,
// eventId) order.
func (*AccessLog) ListByPatient(ctx contractapi.TransactionContextInterface, patientID string, pageSize int, bookmark string) (*ledgerapi.AccessEventPage, error) {
	if err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, err
	}
	items, next, err := page[ledgerapi.AccessEvent](ctx, eventsByPatient, []string{patientID}, eventType, pageSize, bookmark)
	if err != nil {
		return nil, err
	}
	return &ledgerapi.AccessEventPage{Items: items, Bookmark: next, Count: len(items)}, nil
}
