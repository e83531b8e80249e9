package health

import (
	"encoding/json"
	"strings"
	"testing"

	"healthexchange/chaincode/ledgerapi"
)

// recordErasure has a caller record the erasure of a patient's data.
func (f *fixture) recordErasure(caller fakeIdentity, patientID, erasureID string, objects int, keyID string) (*ledgerapi.Erasure, error) {
	return run(f, caller, func(ctx ctxT) (*ledgerapi.Erasure, error) {
		return new(Erasures).Record(ctx, patientID, erasureID, objects, keyID)
	})
}

func TestErasuresRecord(t *testing.T) {
	f := newFixture()
	f.register(t, newPatient("alice"), newPatient("bob"), newPatient("carol"))
	type args struct {
		patient, erasure string
		objects          int
		key              string
	}
	first := args{"alice", "er-1", 3, "key-alice"}
	for _, tc := range []struct { // in order, on one ledger
		name   string
		caller fakeIdentity
		args   args
		want   error
		msg    string // in the error
		event  bool   // the call records a new erasure, and announces it
	}{
		{"research may not record", research, first, ledgerapi.ErrForbidden, "ResearchMSP", false},
		{"other organisations may not record", outsider, first, ledgerapi.ErrForbidden, "OtherMSP", false},
		{"records", providers, first, nil, "", true},
		{"the same erasure again returns the one recorded", providers, first, nil, "", false},
		{"same erasure id, other count", providers, args{"alice", "er-1", 4, "key-alice"}, ledgerapi.ErrConflict, "different content", false},
		{"same erasure id, other key", providers, args{"alice", "er-1", 3, "key-other"}, ledgerapi.ErrConflict, "different content", false},
		{"same erasure id, key left out", providers, args{"alice", "er-1", 3, ""}, ledgerapi.ErrConflict, "different content", false},
		{"second erasure of a patient", providers, args{"alice", "er-2", 3, "key-alice"}, ledgerapi.ErrExists, "already erased by erasure er-1", false},
		{"nothing deleted and no key id", providers, args{"bob", "er-3", 0, ""}, nil, "", true},
		{"unregistered patient", providers, args{"dave", "er-4", 1, ""}, ledgerapi.ErrNotFound, "dave", false},
		{"negative objectsDeleted", providers, args{"carol", "er-4", -1, ""}, ledgerapi.ErrInvalid, "objectsDeleted", false},
		{"bad erasure id", providers, args{"carol", "er 4", 1, ""}, ledgerapi.ErrInvalid, "erasureId", false},
		{"no erasure id", providers, args{"carol", "", 1, ""}, ledgerapi.ErrInvalid, "erasureId", false},
		{"bad key id", providers, args{"carol", "er-4", 1, "key/1"}, ledgerapi.ErrInvalid, "keyId", false},
		{"bad patient id", providers, args{"-carol", "er-4", 1, ""}, ledgerapi.ErrInvalid, "patientId", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.args
			before, _ := run(f, research, func(ctx ctxT) (*ledgerapi.Erasure, error) { return new(Erasures).Get(ctx, a.patient) })
			events := len(f.stub.events)
			got, err := f.recordErasure(tc.caller, a.patient, a.erasure, a.objects, a.key)
			wantErr(t, err, tc.want)
			if err != nil && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not mention %q", err, tc.msg)
			}
			if announced := len(f.stub.events) > events; announced != tc.event {
				t.Fatalf("erasure announced: %v, want %v", announced, tc.event)
			}
			want := before // a refused or repeated call changes nothing
			if tc.event {
				want = &ledgerapi.Erasure{PatientID: a.patient, ErasureID: a.erasure, ObjectsDeleted: a.objects, KeyID: a.key,
					TxID: f.lastTx(), Timestamp: ledgerapi.FormatTime(f.stub.now)}
				e := f.stub.events[len(f.stub.events)-1]
				var announced ledgerapi.Erasure
				if err := json.Unmarshal(e.Payload, &announced); err != nil || e.EventName != "PatientErased" || announced != *want {
					t.Fatalf("event %s %s (%v), want PatientErased %+v", e.EventName, e.Payload, err, *want)
				}
			}
			if err == nil && *got != *want {
				t.Fatalf("erasure = %+v, want %+v", *got, *want)
			}
			stored, _ := run(f, research, func(ctx ctxT) (*ledgerapi.Erasure, error) { return new(Erasures).Get(ctx, a.patient) })
			if (stored == nil) != (want == nil) || stored != nil && *stored != *want {
				t.Fatalf("stored = %+v, want %+v", stored, want)
			}
		})
	}
}

func TestErasuresGet(t *testing.T) {
	f := newFixture()
	f.register(t, newPatient("alice"), newPatient("bob"))
	recorded, err := f.recordErasure(providers, "alice", "er-1", 2, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustJSON(t, recorded), "keyId") {
		t.Fatalf("erasure without a key id encodes as %s, want keyId omitted", mustJSON(t, recorded))
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
			if err == nil && *got != *recorded {
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
	f.mustGrant(t, alice, grantTo("c-alice", "user", "dr-who", labs, treatment))
	f.mustGrant(t, bob, grantTo("c-bob", "user", "dr-who", labs, treatment))
	check := func(patientID, at string) *ledgerapi.Decision {
		t.Helper()
		d, err := run(f, research, func(ctx ctxT) (*ledgerapi.Decision, error) {
			return new(Consents).Check(ctx, patientID, "dr-who", "", "labs", "treatment", "", at)
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
	if _, err := f.recordErasure(providers, "alice", "er-1", 7, "key-alice"); err != nil {
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
			_, err := f.grant(t, tc.patient, grantTo(tc.consent, "user", "dr-who", labs, treatment))
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
