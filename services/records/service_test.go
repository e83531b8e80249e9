package records

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore/objectstoretest"
	"healthexchange/services/platform/pep"
	"healthexchange/services/store/recordstore"
)

func TestPutThenGet(t *testing.T) {
	f := newFixture(t)
	raw := observation("alice", "glucose-marker-7731")
	r := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: raw, IdempotencyKey: "k1"})
	sum := fhir.Digest(raw)
	if r.Record.Version != 1 || r.Record.SHA256 != sum || r.Record.Category != "labs" || r.Record.Author != "dr-who" || r.Replayed {
		t.Fatalf("put = %+v, want version 1 of labs by dr-who with hash %s", r, sum)
	}
	got, err := f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "alice", RecordID: r.Record.RecordID})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Resource, raw) || got.ResourceType != "Observation" || got.Record.SHA256 != sum {
		t.Fatalf("get = %s (%s), want the resource as filed", got.Resource, got.ResourceType)
	}
	for _, key := range f.keys(false) {
		data, _ := f.objects.Get(context.Background(), key, 1<<20)
		if bytes.Contains(data, []byte("glucose-marker-7731")) || bytes.Contains(data, []byte("Observation")) {
			t.Errorf("object %s holds plaintext", key)
		}
	}
	if want := []string{"write labs ", "read labs " + r.Record.RecordID}; strings.Join(f.decider.asked, "|") != strings.Join(want, "|") {
		t.Errorf("decisions asked = %q, want %q", f.decider.asked, want)
	}
}

func TestPutRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     PutRequest
		deny    bool
		wantErr error
	}{
		{"denied", PutRequest{PatientID: "alice", Resource: observation("alice", "x")}, true, ErrDenied},
		{"another patient's resource", PutRequest{PatientID: "alice", Resource: observation("bob", "x")}, false, ErrInvalid},
		{"unknown resource type", PutRequest{PatientID: "alice", Resource: []byte(`{"resourceType":"Spaceship","subject":{"reference":"Patient/alice"}}`)}, false, ErrInvalid},
		{"not JSON", PutRequest{PatientID: "alice", Resource: []byte(`{"resourceType":`)}, false, ErrInvalid},
		{"empty", PutRequest{PatientID: "alice"}, false, ErrInvalid},
		{"too large", PutRequest{PatientID: "alice", Resource: bytes.Repeat([]byte(" "), fhir.MaxResourceBytes+1)}, false, ErrInvalid},
		{"bad patient id", PutRequest{PatientID: "../alice", Resource: observation("alice", "x")}, false, ErrInvalid},
		{"bad purpose", PutRequest{PatientID: "alice", Resource: observation("alice", "x"), Purpose: "curiosity"}, false, ErrInvalid},
		{"unknown record", PutRequest{PatientID: "alice", RecordID: "rec-none", Resource: observation("alice", "x")}, false, ErrNotFound},
		{"idempotency key not ASCII", PutRequest{PatientID: "alice", Resource: observation("alice", "x"), IdempotencyKey: "clé"}, false, ErrInvalid},
		{"base version without record", PutRequest{PatientID: "alice", Resource: observation("alice", "x"), BaseVersion: 2}, false, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.decider.allow = func(string, *consentv1.Resource) bool { return !tc.deny }
			_, err := f.svc.Put(testContext(t), drWho, tc.req)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Put = %v, want %v", err, tc.wantErr)
			}
			if keys := f.keys(false); len(keys) != 0 || f.ledger.records() != 0 {
				t.Errorf("a refused put left objects %q and %d records", keys, f.ledger.records())
			}
		})
	}
}

func TestPutIdempotent(t *testing.T) {
	f := newFixture(t)
	req := PutRequest{PatientID: "alice", Resource: observation("alice", "x"), IdempotencyKey: "retry-me"}
	first := f.put(t, drWho, req)
	again := f.put(t, drWho, req)
	if !again.Replayed || again.Record != first.Record {
		t.Fatalf("retry = %+v, want the first result %+v replayed", again, first.Record)
	}
	// The same key by another author is another put.
	other := f.put(t, alice, req)
	if other.Replayed || other.Record.RecordID == first.Record.RecordID {
		t.Fatalf("another author's put with the same key = %+v, want a new record", other)
	}
	req.Resource = observation("alice", "changed")
	if _, err := f.svc.Put(testContext(t), drWho, req); !errors.Is(err, ErrIdempotencyKey) {
		t.Fatalf("same key, other request: %v, want ErrIdempotencyKey", err)
	}
	if n := f.ledger.records(); n != 2 {
		t.Errorf("%d records on the ledger, want 2", n)
	}
}

func TestPutStorageFailsThenRetry(t *testing.T) {
	f := newFixture(t)
	f.objects.FailPuts(func(key string) bool { return !recordstore.IsIdempotencyKey(key) })
	req := PutRequest{PatientID: "alice", Resource: observation("alice", "x"), IdempotencyKey: "k"}
	if _, err := f.svc.Put(testContext(t), drWho, req); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Put with storage down = %v, want ErrUnavailable", err)
	}
	if f.ledger.records() != 0 || len(f.keys(true)) != 0 {
		t.Fatal("a failed put stored something")
	}
	page, _ := f.svc.List(testContext(t), drWho, ListRequest{PatientID: "alice"})
	if len(page.Records) != 0 {
		t.Fatalf("list after a failed put = %+v", page.Records)
	}
	f.objects.FailPuts(nil)
	r := f.put(t, drWho, req)
	r2 := f.put(t, drWho, req)
	if f.ledger.records() != 1 || r2.Record != r.Record || len(f.keys(true)) != 1 {
		t.Fatalf("after retries: %d records, %d objects; want exactly one", f.ledger.records(), len(f.keys(true)))
	}
}

func TestPutNotarizeFailures(t *testing.T) {
	t.Run("refused: nothing left behind", func(t *testing.T) {
		f := newFixture(t)
		f.ledger.notarizeErr = rejectedErr(ledgerapi.ErrNotFound)
		_, err := f.svc.Put(testContext(t), drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "x"), IdempotencyKey: "k"})
		if !errors.Is(err, ledgerapi.ErrNotFound) {
			t.Fatalf("Put = %v", err)
		}
		if keys := f.keys(false); len(keys) != 0 {
			t.Fatalf("objects left after a refused notarization: %q", keys)
		}
	})
	t.Run("unknown outcome, not landed: retry finishes", func(t *testing.T) {
		f := newFixture(t)
		f.ledger.down = true
		req := PutRequest{PatientID: "alice", Resource: observation("alice", "x"), IdempotencyKey: "k"}
		if _, err := f.svc.Put(testContext(t), drWho, req); err == nil {
			t.Fatal("Put with the ledger down succeeded")
		}
		f.ledger.down = false
		r := f.put(t, drWho, req)
		if r.Replayed || f.ledger.records() != 1 || len(f.keys(true)) != 1 {
			t.Fatalf("retry = %+v; %d records, %d objects", r, f.ledger.records(), len(f.keys(true)))
		}
	})
	t.Run("unknown outcome, landed: retry replays", func(t *testing.T) {
		f := newFixture(t)
		f.ledger.notarizeErr, f.ledger.notarizeLand = errLedgerDown, true
		req := PutRequest{PatientID: "alice", Resource: observation("alice", "x"), IdempotencyKey: "k"}
		r, err := f.svc.Put(testContext(t), drWho, req)
		if err != nil || r.Record.Version != 1 {
			t.Fatalf("Put whose notarization landed = %+v, %v; want it found on the ledger", r, err)
		}
		f.ledger.notarizeErr = nil
		again := f.put(t, drWho, req)
		if !again.Replayed || f.ledger.records() != 1 {
			t.Fatalf("retry = %+v, %d records", again, f.ledger.records())
		}
	})
}

// rejectedErr is the ledger client's error for a chaincode refusal.
func rejectedErr(reason error) error {
	return &ledger.Error{Function: "notary:Notarize", Kind: ledger.ErrRejected, Reason: reason, Message: reason.Error()}
}

func TestUpdateVersions(t *testing.T) {
	f := newFixture(t)
	v1 := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "v1")})
	id := v1.Record.RecordID
	v2 := f.put(t, drWho, PutRequest{PatientID: "alice", RecordID: id, Resource: observation("alice", "v2"), BaseVersion: 1})
	if v2.Record.Version != 2 || v2.Record.PreviousSHA256 != v1.Record.SHA256 || v2.Record.RecordID != id {
		t.Fatalf("v2 = %+v, want version 2 linking to %s", v2.Record, v1.Record.SHA256)
	}
	if _, err := f.svc.Put(testContext(t), drWho, PutRequest{PatientID: "alice", RecordID: id, Resource: observation("alice", "v3"), BaseVersion: 1}); !errors.Is(err, ErrStale) {
		t.Fatalf("update from version 1 after version 2: %v, want ErrStale", err)
	}
	if _, err := f.svc.Put(testContext(t), drWho, PutRequest{PatientID: "alice", RecordID: id, Resource: condition("alice", "c")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("update changing the category: %v, want ErrInvalid", err)
	}
	report := []byte(`{"resourceType":"DiagnosticReport","status":"final","code":{"text":"panel"},"subject":{"reference":"Patient/alice"}}`)
	if _, err := f.svc.Put(testContext(t), drWho, PutRequest{PatientID: "alice", RecordID: id, Resource: report}); !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "is of type Observation; a new version cannot change it to DiagnosticReport") {
		t.Fatalf("update changing the type within the category (labs): %v, want ErrInvalid", err)
	}
	if _, err := f.svc.Put(testContext(t), drWho, PutRequest{PatientID: "bob", RecordID: id, Resource: observation("bob", "b")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of alice's record as bob's: %v, want ErrNotFound", err)
	}
	old, err := f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "alice", RecordID: id, Version: 1})
	if err != nil || old.Record.SHA256 != v1.Record.SHA256 {
		t.Fatalf("get version 1 = %+v, %v", old.Record, err)
	}
	hist, err := f.svc.History(testContext(t), drWho, HistoryRequest{PatientID: "alice", RecordID: id})
	if err != nil || len(hist) != 2 || hist[1].PreviousSHA256 != hist[0].SHA256 {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	if _, err := f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "alice", RecordID: id, Version: 3}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get version 3: %v, want ErrNotFound", err)
	}
}

func TestGetRefusals(t *testing.T) {
	f := newFixture(t)
	r := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "x")})
	id := r.Record.RecordID
	t.Run("denied", func(t *testing.T) {
		f.decider.allow = func(action string, _ *consentv1.Resource) bool { return action == actionWrite }
		defer func() { f.decider.allow = func(string, *consentv1.Resource) bool { return true } }()
		_, err := f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "alice", RecordID: id})
		var denied *DeniedError
		if !errors.As(err, &denied) || denied.Reasons[0] != "no consent is given to this subject" || denied.EventID != "ev-deny" {
			t.Fatalf("Get = %v, want a denial with the policy's reason", err)
		}
	})
	t.Run("consent service unreachable", func(t *testing.T) {
		f.decider.err = status.Error(codes.Unavailable, "connection refused")
		defer func() { f.decider.err = nil }()
		_, err := f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "alice", RecordID: id})
		if !errors.Is(err, pep.ErrUnavailable) || status.Code(toStatus(context.Background(), f.svc.log, err)) != codes.Unavailable {
			t.Fatalf("Get = %v, want no decision (Unavailable)", err)
		}
	})
	t.Run("another patient's record", func(t *testing.T) {
		if _, err := f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "bob", RecordID: id}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get = %v, want ErrNotFound", err)
		}
	})
	t.Run("storage down", func(t *testing.T) {
		f.objects.SetDown(true)
		defer f.objects.SetDown(false)
		if _, err := f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "alice", RecordID: id}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get = %v, want ErrUnavailable", err)
		}
	})
}

func TestTamperDetected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(f *fixture, key, otherKey string)
	}{
		{"byte flipped", func(f *fixture, key, _ string) { f.flip(key, -1, 1) }},
		{"header flipped", func(f *fixture, key, _ string) { f.flip(key, 5, 0x80) }},
		{"truncated", func(f *fixture, key, _ string) { data, _ := f.objects.Object(key); f.objects.Set(key, data[:10]) }},
		{"deleted", func(f *fixture, key, _ string) { f.objects.Set(key, nil) }},
		{"replaced by something huge", func(f *fixture, key, _ string) { f.objects.Set(key, make([]byte, recordstore.MaxSealedSize+1)) }},
		{"replaced by another patient's object", func(f *fixture, key, other string) { data, _ := f.objects.Object(other); f.objects.Set(key, data) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "x")})
			b := f.put(t, drWho, PutRequest{PatientID: "bob", Resource: observation("bob", "x")})
			key := recordstore.VersionKey("alice", r.Record.RecordID, 1, r.Record.SHA256)
			tc.tamper(f, key, recordstore.VersionKey("bob", b.Record.RecordID, 1, b.Record.SHA256))
			got, err := f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "alice", RecordID: r.Record.RecordID})
			if !errors.Is(err, ErrTampered) || got.Resource != nil {
				t.Fatalf("Get = %v (%d bytes), want ErrTampered and nothing served", err, len(got.Resource))
			}
			if st := status.Convert(toStatus(context.Background(), f.svc.log, err)); st.Code() != codes.DataLoss {
				t.Errorf("status = %v, want DataLoss", st.Code())
			}
			if len(f.ledger.events) != 1 {
				t.Fatalf("access events = %+v, want one tamper alarm for alice", f.ledger.events)
			}
			e := f.ledger.events[0]
			if e.Decision != ledgerapi.DecisionDeny || !slices.Equal(e.ReasonCodes, []string{"tamper-detected"}) || e.PatientID != "alice" ||
				e.ActorRole != ledgerapi.RoleService || e.ActorOrg != "ProvidersMSP" {
				t.Fatalf("access event = %+v, want the records service's tamper alarm for alice", e)
			}
			if err := e.Validate(); err != nil {
				t.Fatalf("the chaincode would refuse the alarm: %v", err)
			}
		})
	}
	t.Run("moved to another patient's key fails to open", func(t *testing.T) {
		f := newFixture(t)
		r := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "x")})
		sealed, _ := f.objects.Object(recordstore.VersionKey("alice", r.Record.RecordID, 1, r.Record.SHA256))
		if _, err := f.vault.Open(testContext(t), "bob", recordstore.VersionKey("bob", r.Record.RecordID, 1, r.Record.SHA256), sealed); err == nil {
			t.Fatal("alice's object opened as bob's")
		}
	})
}

func TestErase(t *testing.T) {
	f := newFixture(t)
	wearables := objectstoretest.New()
	f.svc.wearables = wearables
	for _, k := range []string{"alice/2030010203/watch-1/00000000000000000001", "alice/proofs/watch-1/00000000000000000001", "bob/2030010203/w/1"} {
		wearables.Set(k, []byte("sealed batch"))
	}
	key, err := patientkey.Generate("alice")
	if err != nil {
		t.Fatal(err)
	}
	f.ledger.register(key)
	mallory, _ := patientkey.Generate("alice") // a key claiming to be alice's
	signed := func(k *patientkey.Key, erasureID string) ledger.Signed {
		s, err := k.Erase(erasureID)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	r := f.put(t, alice, PutRequest{PatientID: "alice", Resource: observation("alice", "x"), IdempotencyKey: "k"})
	f.put(t, alice, PutRequest{PatientID: "alice", RecordID: r.Record.RecordID, Resource: observation("alice", "y")})
	bob := f.put(t, drWho, PutRequest{PatientID: "bob", Resource: observation("bob", "x")})
	request := signed(key, "er-1")
	for _, tc := range []struct {
		name    string
		caller  auth.Principal
		patient string
		request ledger.Signed
		want    error
	}{
		{"a clinician", drWho, "alice", request, ErrDenied},
		{"the patient without a signed request", alice, "alice", ledger.Signed{}, ErrInvalid},
		{"another patient's token", auth.Principal{Subject: "bob", Role: auth.RolePatient}, "bob", request, ErrDenied},
		{"signed by another key", alice, "alice", signed(mallory, "er-x"), ledgerapi.ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.svc.Erase(testContext(t), tc.caller, tc.patient, tc.request); !errors.Is(err, tc.want) {
				t.Fatalf("Erase = %v, want %v", err, tc.want)
			}
			if keys, _ := f.objects.List(context.Background(), "alice/"); len(keys) < 2 {
				t.Fatalf("a refused erasure deleted objects: %q left", keys)
			}
		})
	}
	f.ledger.down = true
	if _, err := f.svc.Erase(testContext(t), alice, "alice", request); err == nil {
		t.Fatal("erase with the ledger down succeeded")
	}
	f.ledger.down = false
	e, err := f.svc.Erase(testContext(t), alice, "alice", request)
	if err != nil || e.Status != ledgerapi.ErasureCompleted || e.ErasureID != "er-1" ||
		*e.Counts != (ledgerapi.ErasureCounts{RecordObjects: 2, WearableObjects: 2}) {
		t.Fatalf("Erase = %+v, %v; want 2 record versions and 2 wearable objects deleted", e, err)
	}
	if again, err := f.svc.Erase(testContext(t), alice, "alice", request); err != nil || again.CompleteTxID != e.CompleteTxID {
		t.Fatalf("second Erase = %+v, %v; want the same erasure", again, err)
	}
	if keys, _ := wearables.List(context.Background(), ""); len(keys) != 1 || keys[0] != "bob/2030010203/w/1" {
		t.Fatalf("wearable objects left: %q, want bob's only", keys)
	}
	if keys, _ := f.objects.List(context.Background(), "alice/"); len(keys) != 0 {
		t.Fatalf("alice's objects left: %q", keys)
	}
	if _, err := f.svc.Get(testContext(t), alice, GetRequest{PatientID: "alice", RecordID: r.Record.RecordID}); !errors.Is(err, ErrErased) {
		t.Fatalf("Get after erase = %v, want ErrErased", err)
	}
	if len(f.ledger.events) != 0 {
		t.Errorf("erased records raised tamper alarms: %+v", f.ledger.events)
	}
	if _, err := f.svc.Put(testContext(t), alice, PutRequest{PatientID: "alice", Resource: observation("alice", "z")}); err == nil {
		t.Fatal("put for an erased patient succeeded")
	}
	if keys, _ := f.objects.List(context.Background(), "alice/"); len(keys) != 0 {
		t.Fatalf("a refused put for an erased patient left %q", keys)
	}
	if _, err := f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "bob", RecordID: bob.Record.RecordID}); err != nil {
		t.Fatalf("bob's record after alice's erasure: %v", err)
	}
}

func TestListFiltersByDecision(t *testing.T) {
	f := newFixture(t)
	lab := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "x")})
	cond := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: condition("alice", "a")})
	named := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: condition("alice", "b")})
	f.put(t, drWho, PutRequest{PatientID: "bob", Resource: observation("bob", "x")})
	// Labs by category; conditions only the one record a consent names.
	f.decider.allow = func(_ string, r *consentv1.Resource) bool {
		return r.GetCategory() == "labs" || r.GetRecordId() == named.Record.RecordID
	}
	f.decider.asked = nil
	page, err := f.svc.List(testContext(t), drWho, ListRequest{PatientID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range page.Records {
		got[r.RecordID] = true
	}
	if len(got) != 2 || !got[lab.Record.RecordID] || !got[named.Record.RecordID] || got[cond.Record.RecordID] || page.Withheld != 1 {
		t.Fatalf("list = %+v withheld %d; want the lab and the named condition, 1 withheld", page.Records, page.Withheld)
	}
	if len(f.decider.asked) != 4 { // 2 categories, then the 2 condition records
		t.Errorf("decisions asked: %q", f.decider.asked)
	}
	t.Run("paging", func(t *testing.T) {
		f.decider.allow = func(string, *consentv1.Resource) bool { return true }
		var all []string
		for token := ""; ; {
			p, err := f.svc.List(testContext(t), drWho, ListRequest{PatientID: "alice", PageSize: 1, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				all = append(all, r.RecordID)
			}
			if token = p.NextPageToken; token == "" {
				break
			}
		}
		if len(all) != 3 {
			t.Fatalf("paged list = %q, want 3 records", all)
		}
	})
	if _, err := f.svc.List(testContext(t), drWho, ListRequest{PatientID: "alice", PageSize: 101}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("page size 101: %v", err)
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	raw := observation("alice", "x")
	r := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: raw})
	// What is notarized is the filed file: the same resource formatted
	// otherwise is another file.
	compact := []byte(strings.Join(strings.Fields(string(raw)), ""))
	for _, tc := range []struct {
		name      string
		req       VerifyRequest
		wantMatch bool
	}{
		{"resource, any record", VerifyRequest{Resource: raw}, true},
		{"the resource reformatted", VerifyRequest{Resource: compact}, false},
		{"resource of the record", VerifyRequest{RecordID: r.Record.RecordID, Resource: raw}, true},
		{"hash", VerifyRequest{SHA256: r.Record.SHA256}, true},
		{"changed resource", VerifyRequest{Resource: observation("alice", "y")}, false},
		{"changed resource of the record", VerifyRequest{RecordID: r.Record.RecordID, Resource: observation("alice", "y")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.svc.Verify(testContext(t), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got.Match != tc.wantMatch {
				t.Fatalf("match = %v (%s), want %v", got.Match, got.Reason, tc.wantMatch)
			}
			if tc.wantMatch && (len(got.Matches) != 1 || got.Matches[0].Version != 1 || got.Matches[0].NotarizedAt == "") {
				t.Fatalf("matches = %+v", got.Matches)
			}
			if tc.wantMatch && (got.Matches[0].RecordID != "") != (tc.req.RecordID != "") {
				t.Fatalf("record id %q in the answer; it may only echo the caller's", got.Matches[0].RecordID)
			}
		})
	}
	for _, bad := range []VerifyRequest{{}, {Resource: raw, SHA256: r.Record.SHA256}, {SHA256: "ABC"}, {RecordID: "/x", SHA256: r.Record.SHA256}} {
		if _, err := f.svc.Verify(testContext(t), bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Verify(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := f.svc.Verify(testContext(t), VerifyRequest{RecordID: "rec-none", SHA256: r.Record.SHA256}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown record: %v", err)
	}
}

func TestSweep(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.svc.now = func() time.Time { return now }
	done := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "done"), IdempotencyKey: "done"})
	f.ledger.down = true
	if _, err := f.svc.Put(testContext(t), drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "stuck"), IdempotencyKey: "stuck"}); err == nil {
		t.Fatal("put with the ledger down succeeded")
	}
	f.ledger.down = false
	if n := len(f.keys(false)); n != 4 { // two plans, two objects
		t.Fatalf("%d objects before the sweep, want 4", n)
	}
	if n, _ := f.svc.Sweep(testContext(t)); n != 0 {
		t.Fatalf("a sweep removed %d recent puts", n)
	}
	now = now.Add(2 * time.Hour)
	if n, err := f.svc.Sweep(testContext(t)); n != 1 || err != nil {
		t.Fatalf("Sweep = %d, %v; want the one unfinished put", n, err)
	}
	keys := f.keys(false)
	if len(keys) != 2 {
		t.Fatalf("after the sweep: %q, want the finished put's object and plan", keys)
	}
	again := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "done"), IdempotencyKey: "done"})
	if !again.Replayed || again.Record != done.Record {
		t.Fatal("the finished put's retry is not answered after the sweep")
	}
}

func TestStatusMapping(t *testing.T) {
	log := newFixture(t).svc.log
	for _, tc := range []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{&DeniedError{Reasons: []string{"a", "b"}, EventID: "ev1"}, codes.PermissionDenied, pep.ReasonDenied},
		{ErrInvalid, codes.InvalidArgument, ""},
		{errors.Join(ErrTampered), codes.DataLoss, reasonTampered},
		{ErrErased, codes.NotFound, reasonErased},
		{ErrIdempotencyKey, codes.FailedPrecondition, reasonIdempotency},
		{ErrStale, codes.Aborted, reasonStaleVersion},
		{ErrUnavailable, codes.Unavailable, ""},
		{errLedgerDown, codes.Unavailable, ""},
		{context.DeadlineExceeded, codes.DeadlineExceeded, ""},
		{errors.New("secret internals"), codes.Internal, ""},
	} {
		st := status.Convert(toStatus(context.Background(), log, tc.err))
		if st.Code() != tc.code {
			t.Errorf("%v -> %v, want %v", tc.err, st.Code(), tc.code)
		}
		if tc.code == codes.Internal && strings.Contains(st.Message(), "secret") {
			t.Errorf("internal error leaked: %q", st.Message())
		}
		var reason string
		for _, d := range st.Details() {
			if info, ok := d.(interface{ GetReason() string }); ok {
				reason = info.GetReason()
			}
		}
		if reason != tc.reason {
			t.Errorf("%v: detail reason %q, want %q", tc.err, reason, tc.reason)
		}
	}
}

// TestOnePutAtTwoInstances: the same put (one idempotency key) reaches two
// instances of the service at once (a client gave up on the first and tried
// the second while the first was still at work). Both answer with the same
// record, and the ledger holds it once.
func TestOnePutAtTwoInstances(t *testing.T) {
	f := newFixture(t)
	other := NewService(f.ledger, f.decider, f.objects, f.vault, slog.New(slog.DiscardHandler))
	looked, release := make(chan struct{}), make(chan struct{})
	f.svc.hooks = &hooks{afterPlanLookup: func() { close(looked); <-release }}
	req := PutRequest{PatientID: "alice", Resource: observation("alice", "raced"), IdempotencyKey: "k-race"}

	first := make(chan PutResult, 1)
	go func() {
		r, err := f.svc.Put(testContext(t), drWho, req)
		if err != nil {
			t.Errorf("the first instance: %v", err)
		}
		first <- r
	}()
	<-looked // it found no idempotency entry, and has written nothing yet
	second, err := other.Put(testContext(t), drWho, req)
	if err != nil {
		t.Fatalf("the second instance: %v", err)
	}
	close(release)
	r := <-first
	if r.Record.RecordID != second.Record.RecordID || r.Record.Version != 1 || second.Record.Version != 1 {
		t.Fatalf("the instances answered %s v%d and %s v%d, want one record", r.Record.RecordID, r.Record.Version,
			second.Record.RecordID, second.Record.Version)
	}
	if n := f.ledger.records(); n != 1 {
		t.Fatalf("%d records notarized, want 1", n)
	}
	got, err := other.Get(testContext(t), drWho, GetRequest{PatientID: "alice", RecordID: r.Record.RecordID})
	if err != nil || got.Record.SHA256 != r.Record.SHA256 {
		t.Fatalf("reading the record back: %v", err)
	}
	// Another clinician's put under the same key is a record of its own.
	drNo := auth.Principal{Subject: "dr-no", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	theirs, err := other.Put(testContext(t), drNo, req)
	if err != nil || theirs.Record.RecordID == r.Record.RecordID {
		t.Fatalf("another clinician's put under the same key: %+v, %v", theirs.Record, err)
	}
}
