package records

import (
	"encoding/json"
	"testing"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/ledger"
)

func notarizedEvent(t *testing.T, n ledgerapi.Notarization) ledger.Event {
	t.Helper()
	raw, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return ledger.Event{TransactionID: "tx-" + n.RecordID, Name: eventRecordNotarized, Payload: raw}
}

func TestNotaryView(t *testing.T) {
	v := NewNotaryView()
	v1 := ledgerapi.Notarization{RecordID: "r-1", PatientID: "alice", Version: 1, SHA256: "a", Category: "labs"}
	v2 := ledgerapi.Notarization{RecordID: "r-1", PatientID: "alice", Version: 2, SHA256: "b", PreviousSHA256: "a", Category: "labs"}
	if err := v.Apply(ledger.Block{Number: 0, Events: []ledger.Event{notarizedEvent(t, v1)}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := v.History("r-1"); ok {
		t.Fatal("a view that is not live answered: the ledger must be asked")
	}
	v.pos.Follow(1)
	got, ok := v.History("r-1")
	if !ok || len(got) != 1 || got[0].SHA256 != "a" {
		t.Fatalf("History = %+v, %v", got, ok)
	}
	if _, ok := v.History("r-unknown"); ok {
		t.Fatal("an unknown record answered from the view")
	}
	// A version this service committed counts at once; its block later
	// changes nothing.
	v.Committed(v2)
	if err := v.Apply(ledger.Block{Number: 1, Events: []ledger.Event{notarizedEvent(t, v2)}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := v.History("r-1"); len(got) != 2 || got[1].SHA256 != "b" {
		t.Fatalf("after version 2: %+v", got)
	}
	// A version that does not follow is not taken.
	v.Committed(ledgerapi.Notarization{RecordID: "r-1", PatientID: "alice", Version: 5, SHA256: "z"})
	if got, _ := v.History("r-1"); len(got) != 2 {
		t.Fatalf("a version out of order was taken: %+v", got)
	}
	if err := v.Apply(ledger.Block{Number: 2, Events: []ledger.Event{{Name: eventRecordNotarized, Payload: []byte(`{"recordId":""}`)}}}); err == nil {
		t.Fatal("a malformed event was applied")
	}
	raw, err := v.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	w := NewNotaryView()
	var s notaryState
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	w.restore(s)
	w.pos.Follow(2)
	if got, ok := w.History("r-1"); !ok || len(got) != 2 || w.pos.Next() != 2 {
		t.Fatalf("restored: %+v, %v, next %d", got, ok, w.pos.Next())
	}
}
