package health

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"healthexchange/chaincode/ledgerapi"
)

// requestErasure has p sign an erasure request with its next nonce and a
// caller relay it.
func (f *fixture) requestErasure(t *testing.T, caller fakeIdentity, p *testPatient, erasureID string) (*ledgerapi.Erasure, string, string, error) {
	t.Helper()
	payload, sig := sign(t, p.key, ledgerapi.PatientErasure{Header: p.next(ledgerapi.OpPatientErase), ErasureID: erasureID})
	e, err := f.relayErasure(caller, payload, sig)
	return e, payload, sig, err
}

func (f *fixture) relayErasure(caller fakeIdentity, payload, sig string) (*ledgerapi.Erasure, error) {
	return run(f, caller, func(ctx ctxT) (*ledgerapi.Erasure, error) { return new(Erasures).Request(ctx, payload, sig) })
}

func (f *fixture) completeErasure(caller fakeIdentity, patientID, erasureID string, counts ledgerapi.ErasureCounts) (*ledgerapi.Erasure, error) {
	data, _ := json.Marshal(counts)
	return run(f, caller, func(ctx ctxT) (*ledgerapi.Erasure, error) {
		return new(Erasures).Complete(ctx, patientID, erasureID, string(data))
	})
}

// TestErasureOnlyByThePatient: an erasure needs the patient's own signed
// request with a fresh nonce; nobody else's, no replay, no other patient's.
func TestErasureOnlyByThePatient(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	eve := newPatient("alice") // same id, her own key: not alice's
	eve.key = newPatient("eve").key

	forged, forgedSig := sign(t, eve.key, ledgerapi.PatientErasure{Header: ledgerapi.Header{Op: ledgerapi.OpPatientErase, Nonce: 1, PatientID: "alice"}, ErasureID: "er-eve"})
	_, err := f.relayErasure(providers, forged, forgedSig)
	wantErr(t, err, ledgerapi.ErrSignature)

	bobs, bobsSig := sign(t, bob.key, ledgerapi.PatientErasure{Header: ledgerapi.Header{Op: ledgerapi.OpPatientErase, Nonce: 1, PatientID: "alice"}, ErasureID: "er-bob"})
	_, err = f.relayErasure(providers, bobs, bobsSig)
	wantErr(t, err, ledgerapi.ErrSignature)

	// A grant's signature replayed as an erasure: another op.
	grant := grantTo("c1", "user", "ProvidersMSP/dr-who", labs, treatment)
	grant.Header = alice.next(ledgerapi.OpConsentGrant)
	grantPayload, grantSig := sign(t, alice.key, grant)
	_, err = f.relayErasure(providers, grantPayload, grantSig)
	wantErr(t, err, ledgerapi.ErrInvalid)

	if e, err := f.relayErasure(providers, "", ""); err == nil {
		t.Fatalf("an unsigned erasure was recorded: %+v", e)
	}
	if _, err := run(f, research, func(ctx ctxT) (*ledgerapi.Erasure, error) { return new(Erasures).Get(ctx, "alice") }); !errors.Is(err, ledgerapi.ErrNotFound) {
		t.Fatalf("after refused requests: %v, want no erasure", err)
	}

	// The patient's own request, relayed by St Mary's.
	e, payload, sig, err := f.requestErasure(t, stmarys, alice, "er-1")
	if err != nil {
		t.Fatal(err)
	}
	want := ledgerapi.Erasure{PatientID: "alice", ErasureID: "er-1", Status: ledgerapi.ErasureRequested, RequestedBy: "StMarysMSP",
		RequestedAt: ledgerapi.FormatTime(f.stub.now), RequestTxID: f.lastTx()}
	if !reflect.DeepEqual(*e, want) {
		t.Fatalf("erasure = %+v, want %+v", *e, want)
	}
	if ev := f.stub.events[len(f.stub.events)-1]; ev.EventName != EventPatientErased {
		t.Fatalf("event %s, want %s", ev.EventName, EventPatientErased)
	}
	t.Run("relaying the same signed request again returns it, writing nothing", func(t *testing.T) {
		events := len(f.stub.events)
		again, err := f.relayErasure(providers, payload, sig)
		if err != nil || !reflect.DeepEqual(*again, want) || len(f.stub.events) != events {
			t.Fatalf("repeat = %+v, %v", again, err)
		}
	})
	t.Run("a second erasure of the patient", func(t *testing.T) {
		_, _, _, err := f.requestErasure(t, providers, alice, "er-2")
		wantErr(t, err, ledgerapi.ErrExists)
	})
	t.Run("a stale nonce", func(t *testing.T) {
		stale, staleSig := sign(t, bob.key, ledgerapi.PatientErasure{Header: ledgerapi.Header{Op: ledgerapi.OpPatientErase, Nonce: 0, PatientID: "bob"}, ErasureID: "er-b"})
		_, err := f.relayErasure(providers, stale, staleSig)
		wantErr(t, err, ledgerapi.ErrNonce)
	})
}

func TestErasureComplete(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	if _, _, _, err := f.requestErasure(t, providers, alice, "er-1"); err != nil {
		t.Fatal(err)
	}
	counts := ledgerapi.ErasureCounts{RecordObjects: 3, WearableObjects: 12, KeyID: "key-alice"}
	for _, tc := range []struct { // in order, on one ledger
		name    string
		caller  fakeIdentity
		patient string
		erasure string
		counts  ledgerapi.ErasureCounts
		want    error
	}{
		{"another organisation may not complete it", stmarys, "alice", "er-1", counts, ledgerapi.ErrForbidden},
		{"another erasure id", providers, "alice", "er-9", counts, ledgerapi.ErrNotFound},
		{"a patient never erased", providers, "bob", "er-1", counts, ledgerapi.ErrNotFound},
		{"negative counts", providers, "alice", "er-1", ledgerapi.ErasureCounts{RecordObjects: -1}, ledgerapi.ErrInvalid},
		{"the relaying organisation completes it", providers, "alice", "er-1", counts, nil},
		{"the same counts again", providers, "alice", "er-1", counts, nil},
		{"other counts", providers, "alice", "er-1", ledgerapi.ErasureCounts{RecordObjects: 4}, ledgerapi.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.completeErasure(tc.caller, tc.patient, tc.erasure, tc.counts)
			wantErr(t, err, tc.want)
			if err == nil && (got.Status != ledgerapi.ErasureCompleted || *got.Counts != counts || got.CompleteTxID == "") {
				t.Fatalf("erasure = %+v", got)
			}
		})
	}
}

func TestErasuresGet(t *testing.T) {
	f := newFixture()
	f.register(t, newPatient("alice"), newPatient("bob"))
	recorded, _, _, err := f.requestErasure(t, providers, newPatient("alice"), "er-1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustJSON(t, recorded), "counts") {
		t.Fatalf("a requested erasure encodes as %s, want counts omitted", mustJSON(t, recorded))
	}
	for _, tc := range []struct {
		name   string
		caller fakeIdentity
		id     string
		want   error
	}{
		{"erased, asked by research", research, "alice", nil},
		{"erased, asked by providers", providers, "alice", nil},
		{"registered, not erased", research, "bob", ledgerapi.ErrNotFound},
		{"unknown patient", research, "carol", ledgerapi.ErrNotFound},
		{"invalid id", research, "al ice", ledgerapi.ErrInvalid},
		{"other organisations may not read", outsider, "alice", ledgerapi.ErrForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(f, tc.caller, func(ctx ctxT) (*ledgerapi.Erasure, error) { return new(Erasures).Get(ctx, tc.id) })
			wantErr(t, err, tc.want)
			if err == nil && !reflect.DeepEqual(*got, *recorded) {
				t.Fatalf("erasure = %+v, want %+v", *got, *recorded)
			}
		})
	}
}

// TestErasedPatientConsents: once a patient's data is erased, no check allows
// a use of it, whatever the consents say, and no new consent is accepted.
// Other patients are not affected.
func TestErasedPatientConsents(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	f.mustGrant(t, alice, grantTo("c-alice", "user", "ProvidersMSP/dr-who", labs, treatment))
	f.mustGrant(t, bob, grantTo("c-bob", "user", "ProvidersMSP/dr-who", labs, treatment))
	check := func(patientID, at string) *ledgerapi.Decision {
		t.Helper()
		d, err := run(f, research, func(ctx ctxT) (*ledgerapi.Decision, error) {
			return new(Consents).Check(ctx, patientID, "dr-who", "ProvidersMSP", "labs", "treatment", "", at)
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	allowedAt := ledgerapi.FormatTime(f.clock)
	if d := check("alice", ""); !d.Allowed {
		t.Fatalf("before the erasure: %+v, want allowed", d)
	}
	if _, _, _, err := f.requestErasure(t, providers, alice, "er-1"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, patient, at string
		want              ledgerapi.Decision
	}{
		{"erased patient", "alice", "", ledgerapi.Decision{Reason: "patient alice has been erased"}},
		{"erased patient, asked about a time before the erasure", "alice", allowedAt, ledgerapi.Decision{Reason: "patient alice has been erased"}},
		{"another patient", "bob", "", ledgerapi.Decision{Allowed: true, ConsentID: "c-bob", Reason: "allowed by consent c-bob"}},
	} {
		t.Run("check/"+tc.name, func(t *testing.T) {
			if got := check(tc.patient, tc.at); *got != tc.want {
				t.Fatalf("decision = %+v, want %+v", *got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name    string
		patient *testPatient
		consent string
		want    error
	}{
		{"erased patient", alice, "c-alice-2", ledgerapi.ErrForbidden},
		{"another patient", bob, "c-bob-2", nil},
	} {
		t.Run("grant/"+tc.name, func(t *testing.T) {
			events := len(f.stub.events)
			_, err := f.grant(t, tc.patient, grantTo(tc.consent, "user", "ProvidersMSP/dr-who", labs, treatment))
			wantErr(t, err, tc.want)
			if err != nil {
				if !strings.Contains(err.Error(), "patient alice has been erased") {
					t.Fatalf("error %q does not say the patient has been erased", err)
				}
				if len(f.stub.events) != events {
					t.Fatal("a refused grant emitted an event")
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
