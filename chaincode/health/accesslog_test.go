package health

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"healthexchange/chaincode/ledgerapi"
)

// accessEvent is an allowed read of one of the patient's records at a time,
// by a researcher of ResearchMSP (the organisation appendEvents submits as).
func accessEvent(id, patientID, at string) ledgerapi.AccessEvent {
	return ledgerapi.AccessEvent{EventID: id, Actor: "dr-who", ActorRole: ledgerapi.RoleResearcher, ActorOrg: "ResearchMSP",
		PatientID: patientID, Action: "read", Resource: "record/r1", Decision: "allow", ReasonCodes: []string{"consent"}, Time: at}
}

// appendEvents submits events as one batch, as ResearchMSP.
func (f *fixture) appendEvents(t *testing.T, events ...ledgerapi.AccessEvent) (*ledgerapi.AppendResult, error) {
	t.Helper()
	return f.appendAs(t, research, events...)
}

// appendAs submits events as one batch, as the caller.
func (f *fixture) appendAs(t *testing.T, caller fakeIdentity, events ...ledgerapi.AccessEvent) (*ledgerapi.AppendResult, error) {
	t.Helper()
	data, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	return run(f, caller, func(ctx ctxT) (*ledgerapi.AppendResult, error) { return new(AccessLog).Append(ctx, string(data)) })
}

func TestAccessLogAppend(t *testing.T) {
	f := newFixture()
	f.register(t, newPatient("alice"), newPatient("bob"))
	e1 := accessEvent("e1", "alice", "2030-01-01T10:00:00+02:00")
	e2 := accessEvent("e2", "alice", "2030-01-01T09:00:00Z")
	e2.Purpose, e2.Decision, e2.BreakGlass, e2.BreakGlassRef, e2.ReasonCodes = "emergency", "deny", true, hashOf("reason"), []string{"no-consent", "role-purpose"}
	changed := e1
	changed.Decision = "deny"
	withTxID := accessEvent("e4", "alice", "2030-01-01T09:00:00Z")
	withTxID.TxID = "tx1"
	badPurpose := accessEvent("e4", "alice", "2030-01-01T09:00:00Z")
	badPurpose.Purpose = "marketing"
	many := make([]ledgerapi.AccessEvent, 501)
	for i := range many {
		many[i] = accessEvent(fmt.Sprint("m", i), "alice", "2030-01-01T09:00:00Z")
	}
	for _, tc := range []struct { // in order, on one ledger
		name     string
		events   []ledgerapi.AccessEvent
		appended int
		dups     int
		want     error
	}{
		{"appends", []ledgerapi.AccessEvent{e1, e2}, 2, 0, nil},
		{"retry is idempotent", []ledgerapi.AccessEvent{e1, e2}, 0, 2, nil},
		{"retry equal after time normalisation", []ledgerapi.AccessEvent{accessEvent("e1", "alice", "2030-01-01T08:00:00.000Z"), accessEvent("e3", "bob", "2030-01-01T09:00:00Z")}, 1, 1, nil},
		{"same id, different content", []ledgerapi.AccessEvent{accessEvent("e5", "alice", "2030-01-01T09:00:00Z"), changed}, 0, 0, ledgerapi.ErrConflict},
		{"id repeated in the batch", []ledgerapi.AccessEvent{accessEvent("e6", "alice", "2030-01-01T09:00:00Z"), accessEvent("e6", "alice", "2030-01-01T09:00:00Z")}, 0, 0, ledgerapi.ErrInvalid},
		{"txId set by the client", []ledgerapi.AccessEvent{withTxID}, 0, 0, ledgerapi.ErrInvalid},
		{"unknown purpose", []ledgerapi.AccessEvent{badPurpose}, 0, 0, ledgerapi.ErrInvalid},
		{"bad decision", []ledgerapi.AccessEvent{{EventID: "e7", Actor: "a", ActorRole: "patient", PatientID: "alice", Action: "read", Resource: "record/r", Decision: "maybe", ReasonCodes: []string{"consent"}, Time: "2030-01-01T09:00:00Z"}}, 0, 0, ledgerapi.ErrInvalid},
		{"empty batch", []ledgerapi.AccessEvent{}, 0, 0, ledgerapi.ErrInvalid},
		{"batch over 500", many, 0, 0, ledgerapi.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.appendEvents(t, tc.events...)
			wantErr(t, err, tc.want)
			if err == nil && (got.Appended != tc.appended || got.Duplicates != tc.dups) {
				t.Fatalf("result = %+v, want %d appended, %d duplicates", got, tc.appended, tc.dups)
			}
		})
	}

	page, err := run(f, providers, func(ctx ctxT) (*ledgerapi.AccessEventPage, error) {
		return new(AccessLog).ListByPatient(ctx, "alice", 100, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	stored1, stored2 := e1, e2
	stored1.Time, stored1.TxID, stored1.RecordedBy = "2030-01-01T08:00:00Z", "tx003", "ResearchMSP"
	stored2.TxID, stored2.RecordedBy = "tx003", "ResearchMSP"
	if want := []ledgerapi.AccessEvent{stored1, stored2}; !reflect.DeepEqual(page.Items, want) {
		t.Fatalf("alice's log = %+v, want %+v (refused batches must write nothing)", page.Items, want)
	}
}

func TestAccessLogListByPatient(t *testing.T) {
	f := newFixture()
	f.register(t, newPatient("alice"), newPatient("bob"))
	if _, err := f.appendEvents(t,
		accessEvent("x1", "alice", "2030-01-01T09:00:05Z"),
		accessEvent("x2", "alice", "2030-01-01T09:00:05.5Z"),
		accessEvent("x3", "alice", "2030-01-01T09:00:04.9Z"),
		accessEvent("x4", "alice", "2030-01-01T09:00:05Z"),
		accessEvent("x0", "alice", "2030-01-01T11:00:05+02:00"),
		accessEvent("y1", "bob", "2030-01-01T09:00:00Z"),
	); err != nil {
		t.Fatal(err)
	}
	var pages [][]string
	bookmark := ""
	for len(pages) < 5 {
		page, err := run(f, research, func(ctx ctxT) (*ledgerapi.AccessEventPage, error) {
			return new(AccessLog).ListByPatient(ctx, "alice", 2, bookmark)
		})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range page.Items {
			if e.TxID != "tx003" || e.PatientID != "alice" {
				t.Fatalf("event %+v", e)
			}
			ids = append(ids, e.EventID)
		}
		if page.Count != len(ids) {
			t.Fatalf("count %d for %d items", page.Count, len(ids))
		}
		pages = append(pages, ids)
		if bookmark = page.Bookmark; bookmark == "" {
			break
		}
	}
	if want := [][]string{{"x3", "x0"}, {"x1", "x4"}, {"x2"}}; !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages = %q, want %q (time, then eventId)", pages, want)
	}

	first, err := run(f, research, func(ctx ctxT) (*ledgerapi.AccessEventPage, error) {
		return new(AccessLog).ListByPatient(ctx, "bob", 1, "")
	})
	if err != nil || len(first.Items) != 1 || first.Bookmark != "" {
		t.Fatalf("bob's log = %+v, %v", first, err)
	}
	aliceBookmark, err := run(f, research, func(ctx ctxT) (*ledgerapi.AccessEventPage, error) {
		return new(AccessLog).ListByPatient(ctx, "alice", 1, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, patient string
		size          int
		bookmark      string
	}{
		{"page size 0", "alice", 0, ""},
		{"page size 101", "alice", 101, ""},
		{"another patient's bookmark", "bob", 10, aliceBookmark.Bookmark},
		{"bad patient id", "ali ce", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(f, research, func(ctx ctxT) (*ledgerapi.AccessEventPage, error) {
				return new(AccessLog).ListByPatient(ctx, tc.patient, tc.size, tc.bookmark)
			})
			wantErr(t, err, ledgerapi.ErrInvalid)
		})
	}
}

// TestAccessLogWhoMayWrite: an organisation records only its own people's
// accesses (and a patient's own, which any member may), about registered
// patients; every event says who recorded it.
func TestAccessLogWhoMayWrite(t *testing.T) {
	f := newFixture()
	f.register(t, newPatient("alice"))
	stMarysClinician := accessEvent("s1", "alice", "2030-01-01T09:00:00Z")
	stMarysClinician.ActorRole, stMarysClinician.ActorOrg = ledgerapi.RoleClinician, "StMarysMSP"
	patientOwn := accessEvent("p1", "alice", "2030-01-01T09:00:00Z")
	patientOwn.Actor, patientOwn.ActorRole, patientOwn.ActorOrg = "alice", ledgerapi.RolePatient, ""
	unregistered := stMarysClinician
	unregistered.EventID, unregistered.PatientID = "s2", "carol"
	for _, tc := range []struct {
		name   string
		caller fakeIdentity
		events []ledgerapi.AccessEvent
		want   error
	}{
		{"Providers claims a St Mary's clinician", providers, []ledgerapi.AccessEvent{stMarysClinician}, ledgerapi.ErrForbidden},
		{"Research claims a St Mary's clinician", research, []ledgerapi.AccessEvent{stMarysClinician}, ledgerapi.ErrForbidden},
		{"one forged event fails the batch", stmarys, []ledgerapi.AccessEvent{stMarysClinician, accessEvent("r9", "alice", "2030-01-01T09:00:00Z")}, ledgerapi.ErrForbidden},
		{"an unregistered patient", stmarys, []ledgerapi.AccessEvent{unregistered}, ledgerapi.ErrNotFound},
		{"St Mary's records its own", stmarys, []ledgerapi.AccessEvent{stMarysClinician}, nil},
		{"any member records a patient's own access", pharmacy, []ledgerapi.AccessEvent{patientOwn}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.appendAs(t, tc.caller, tc.events...)
			wantErr(t, err, tc.want)
		})
	}
	page, err := run(f, providers, func(ctx ctxT) (*ledgerapi.AccessEventPage, error) {
		return new(AccessLog).ListByPatient(ctx, "alice", 100, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	recordedBy := map[string]string{}
	for _, e := range page.Items {
		recordedBy[e.EventID] = e.RecordedBy
	}
	if want := map[string]string{"s1": "StMarysMSP", "p1": "PharmacyMSP"}; !reflect.DeepEqual(recordedBy, want) {
		t.Fatalf("recorded = %v, want %v (refused batches write nothing)", recordedBy, want)
	}
}
