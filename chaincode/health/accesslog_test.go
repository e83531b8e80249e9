package health

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"healthexchange/chaincode/ledgerapi"
)

// accessEvent is an allowed read of one of the patient's records at a time.
func accessEvent(id, patientID, at string) ledgerapi.AccessEvent {
	return ledgerapi.AccessEvent{EventID: id, Actor: "dr-who", PatientID: patientID, Action: "read",
		Resource: "record:r1", Decision: "allow", Time: at}
}

// appendEvents submits events as one batch.
func (f *fixture) appendEvents(t *testing.T, events ...ledgerapi.AccessEvent) (*ledgerapi.AppendResult, error) {
	t.Helper()
	data, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	return run(f, research, func(ctx ctxT) (*ledgerapi.AppendResult, error) { return new(AccessLog).Append(ctx, string(data)) })
}

func TestAccessLogAppend(t *testing.T) {
	f := newFixture()
	e1 := accessEvent("e1", "alice", "2030-01-01T10:00:00+02:00")
	e2 := accessEvent("e2", "alice", "2030-01-01T09:00:00Z")
	e2.ActorOrg, e2.Purpose, e2.Decision, e2.BreakGlass, e2.Reason = "ProvidersMSP", "emergency", "deny", true, "no consent"
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
		{"bad decision", []ledgerapi.AccessEvent{{EventID: "e7", Actor: "a", PatientID: "alice", Action: "read", Resource: "r", Decision: "maybe", Time: "2030-01-01T09:00:00Z"}}, 0, 0, ledgerapi.ErrInvalid},
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
	stored1.Time, stored1.TxID = "2030-01-01T08:00:00Z", "tx001"
	stored2.TxID = "tx001"
	if want := []ledgerapi.AccessEvent{stored1, stored2}; !reflect.DeepEqual(page.Items, want) {
		t.Fatalf("alice's log = %+v, want %+v (refused batches must write nothing)", page.Items, want)
	}
}

func TestAccessLogListByPatient(t *testing.T) {
	f := newFixture()
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
			if e.TxID != "tx001" || e.PatientID != "alice" {
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
