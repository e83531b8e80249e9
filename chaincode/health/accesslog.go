package health

import (
	"fmt"
	"reflect"

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
// organisation writes the accesses of its own people only: an event's
// actorOrg must be the submitting organisation, except a patient's own
// access (no actorOrg), which any member may record. The patient must be
// registered. Every event records who wrote it (recordedBy). An event
// already recorded with the same content is skipped and counted as a
// duplicate, so a retried append is harmless; one recorded with different
// content fails the whole batch.
func (*AccessLog) Append(ctx contractapi.TransactionContextInterface, eventsJSON string) (*ledgerapi.AppendResult, error) {
	mspID, err := authorize(ctx, members)
	if err != nil {
		return nil, err
	}
	events, err := ledgerapi.Parse[ledgerapi.AccessEvents]([]byte(eventsJSON))
	if err != nil {
		return nil, err
	}
	registered := map[string]bool{}
	result := &ledgerapi.AppendResult{}
	for i, e := range events {
		if e.ActorRole != ledgerapi.RolePatient && e.ActorOrg != mspID {
			return nil, fmt.Errorf("%w: events[%d] is an access by organisation %s; %s may record only its own people's accesses",
				ledgerapi.ErrForbidden, i, e.ActorOrg, mspID)
		}
		if !registered[e.PatientID] {
			if _, err := load[ledgerapi.Patient](ctx, patientType, e.PatientID); err != nil {
				return nil, fmt.Errorf("%w (events[%d])", err, i)
			}
			registered[e.PatientID] = true
		}
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
		e.RecordedBy = mspID
		if found {
			recorded.TxID = "" // compare only what the client sent, and who wrote it
			if !sameEvent(recorded, e) {
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
	if _, err := authorize(ctx, members); err != nil {
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

// sameEvent reports whether two events record the same access.
func sameEvent(a, b ledgerapi.AccessEvent) bool {
	return reflect.DeepEqual(a, b)
}
