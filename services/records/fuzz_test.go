package records

import (
	"bytes"
	"testing"

	"healthexchange/services/domain/fhir"
)

// FuzzPut feeds arbitrary bytes to Put as a resource of patient alice: it
// either refuses them and stores nothing, or stores them so that Get returns
// exactly those bytes, whose hash is the notarized one.
func FuzzPut(f *testing.F) {
	f.Add(observation("alice", "x"))
	f.Add(condition("alice", "y"))
	f.Add([]byte(`{"resourceType":"Patient","id":"alice"}`))
	f.Add([]byte(`{"resourceType":"Observation","subject":{"reference":"Patient/bob"}}`))
	f.Add([]byte(`{"resourceType":"Observation","subject":{"reference":"Patient/alice"},"a":1,"a":2}`))
	f.Add([]byte(`[1e400]`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fx := newFixture(t)
		r, err := fx.svc.Put(testContext(t), drWho, PutRequest{PatientID: "alice", Resource: raw, IdempotencyKey: "k"})
		if err != nil {
			if keys := fx.keys(false); len(keys) != 0 || fx.ledger.records() != 0 {
				t.Fatalf("refused put (%v) left objects %q and %d records", err, keys, fx.ledger.records())
			}
			return
		}
		if sum := fhir.Digest(raw); r.Record.SHA256 != sum {
			t.Fatalf("stored with hash %s; the input hashes to %s", r.Record.SHA256, sum)
		}
		got, err := fx.svc.Get(testContext(t), drWho, GetRequest{PatientID: "alice", RecordID: r.Record.RecordID})
		if err != nil {
			t.Fatalf("Get of a stored record: %v", err)
		}
		if !bytes.Equal(got.Resource, raw) {
			t.Fatalf("Get returned %q, want %q", got.Resource, raw)
		}
	})
}
