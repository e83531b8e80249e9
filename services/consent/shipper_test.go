package consent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/durable"
)

// accessEvents are n distinct access events.
func accessEvents(n int) []ledgerapi.AccessEvent {
	out := make([]ledgerapi.AccessEvent, n)
	for i := range out {
		out[i] = ledgerapi.AccessEvent{
			EventID: fmt.Sprintf("ev-%03d", i), Actor: "dr-alice", ActorRole: ledgerapi.RoleClinician, ActorOrg: "ProvidersMSP", PatientID: "pat-1",
			Action: "read", Resource: "category/labs", Purpose: "treatment", Decision: ledgerapi.DecisionAllow,
			Time: ledgerapi.FormatTime(testNow.Add(time.Duration(i) * time.Second)),
		}
	}
	return out
}

func eventIDs(es []ledgerapi.AccessEvent) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.EventID)
	}
	return out
}

func TestShipperFlush(t *testing.T) {
	tests := []struct {
		name      string
		events    int
		batch     int
		wantSizes []int
	}{
		{"nothing pending sends nothing", 0, 3, nil},
		{"fewer than a batch", 2, 3, []int{2}},
		{"exactly one batch", 3, 3, []int{3}},
		{"several batches, the last partial", 7, 3, []int{3, 3, 1}},
		{"batch of one", 3, 1, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			j := openJournal(t)
			events := accessEvents(tt.events)
			if _, err := j.Append(ctx, events...); err != nil {
				t.Fatal(err)
			}
			sink := &fakeSink{}
			s := &shipper{journal: j, sinks: map[string]eventSink{"ProvidersMSP": sink}, own: "ProvidersMSP", every: time.Hour, batch: tt.batch, kick: make(chan struct{}, 1), log: discardLog()}
			if err := s.flush(ctx); err != nil {
				t.Fatalf("flush: %v", err)
			}
			if diff := cmp.Diff(tt.wantSizes, sink.batchSizes()); diff != "" {
				t.Errorf("batch sizes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(eventIDs(events), eventIDs(sink.sent())); diff != "" {
				t.Errorf("events sent (-want +got):\n%s", diff)
			}
			if n := j.Len(); n != 0 {
				t.Errorf("journal.Len() = %d after flush, want 0 (every event acknowledged)", n)
			}
			// A second flush has nothing to send again.
			if err := s.flush(ctx); err != nil {
				t.Fatalf("second flush: %v", err)
			}
			if got := len(sink.batchSizes()); got != len(tt.wantSizes) {
				t.Errorf("second flush sent %d more batches, want none", got-len(tt.wantSizes))
			}
		})
	}
}

func TestShipperFailingSink(t *testing.T) {
	tests := []struct {
		name   string
		events int
		batch  int
		// failCall is the sink call that fails during the first flush.
		failCall int
		// wantPending after the failed flush.
		wantPending int
	}{
		{"first batch fails: every event stays pending", 5, 2, 1, 5},
		{"second batch fails: the first stays sent, the rest pending", 5, 2, 2, 3},
		{"single batch fails", 3, 10, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			j := openJournal(t)
			events := accessEvents(tt.events)
			if _, err := j.Append(ctx, events...); err != nil {
				t.Fatal(err)
			}
			failing := true
			sink := &fakeSink{failOn: func(call int) bool { return failing && call == tt.failCall }}
			s := &shipper{journal: j, sinks: map[string]eventSink{"ProvidersMSP": sink}, own: "ProvidersMSP", every: time.Hour, batch: tt.batch, kick: make(chan struct{}, 1), log: discardLog()}
			if err := s.flush(ctx); err == nil {
				t.Fatal("flush with a failing sink = nil, want the sink's error")
			}
			if n := j.Len(); n != tt.wantPending {
				t.Fatalf("journal.Len() after the failure = %d, want %d", n, tt.wantPending)
			}
			if diff := cmp.Diff(eventIDs(events[tt.events-tt.wantPending:]), eventIDs(entryRecords(j.Pending(100)))); diff != "" {
				t.Errorf("pending events (-want +got):\n%s", diff)
			}

			sink.mu.Lock()
			failing = false
			sink.mu.Unlock()
			if err := s.flush(ctx); err != nil {
				t.Fatalf("flush after recovery: %v", err)
			}
			if n := j.Len(); n != 0 {
				t.Errorf("journal.Len() after recovery = %d, want 0", n)
			}
			// Nothing lost, nothing twice, order kept.
			if diff := cmp.Diff(eventIDs(events), eventIDs(sink.sent())); diff != "" {
				t.Errorf("events the ledger got (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShipperRun(t *testing.T) {
	tests := []struct {
		name  string
		every time.Duration
		// trigger makes the running shipper flush, or not (nil: only
		// stopping does).
		trigger func(s *shipper)
		// stop: cancel the run after the events are in, before waiting for
		// the flush.
		stop bool
	}{
		{name: "flushes on its tick", every: 5 * time.Millisecond},
		{name: "flushes when nudged, before its tick", every: time.Hour, trigger: func(s *shipper) { s.nudge() }},
		{name: "stops on cancel with a final flush", every: time.Hour, stop: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := openJournal(t)
			sink := &fakeSink{}
			s := &shipper{journal: j, sinks: map[string]eventSink{"ProvidersMSP": sink}, own: "ProvidersMSP", every: tt.every, batch: 2, kick: make(chan struct{}, 1), log: discardLog()}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.run(ctx)
			}()
			events := accessEvents(5)
			if _, err := j.Append(testContext(t), events...); err != nil {
				t.Fatal(err)
			}
			if tt.trigger != nil {
				tt.trigger(s)
			}
			if tt.stop {
				cancel()
				waitDone(t, "run to return after cancel", done)
				// The final flush ran with a context of its own, not the
				// canceled one.
				for i, err := range sink.ctxErrs {
					if err != nil {
						t.Errorf("final flush call %d had a done context: %v", i, err)
					}
				}
			} else {
				eventually(t, "the journal to drain", func() bool { return j.Len() == 0 })
			}
			if diff := cmp.Diff(eventIDs(events), eventIDs(sink.sent())); diff != "" {
				t.Errorf("events the ledger got (-want +got):\n%s", diff)
			}
			if n := j.Len(); n != 0 {
				t.Errorf("journal.Len() = %d, want 0", n)
			}
			cancel()
			waitDone(t, "run to return", done)
		})
	}
}

func entryRecords(es []durable.Entry[ledgerapi.AccessEvent]) []ledgerapi.AccessEvent {
	out := make([]ledgerapi.AccessEvent, len(es))
	for i, e := range es {
		out[i] = e.Record
	}
	return out
}

// TestShipperWritesAsEachOrganisation: each organisation's people's accesses
// are written with that organisation's identity, a patient's own with the
// service's; a window leaves the journal once every organisation's
// transaction committed; an organisation without an identity keeps its
// events in the journal.
func TestShipperWritesAsEachOrganisation(t *testing.T) {
	ctx := testContext(t)
	j := openJournal(t)
	events := accessEvents(5)
	events[1].ActorOrg = ledgerapi.StMarysMSP
	events[3].ActorOrg = ledgerapi.StMarysMSP
	events[4].ActorRole, events[4].ActorOrg, events[4].Actor = ledgerapi.RolePatient, "", "pat-1"
	if _, err := j.Append(ctx, events...); err != nil {
		t.Fatal(err)
	}
	providers, stMarys := &fakeSink{}, &fakeSink{}
	s := &shipper{journal: j, sinks: map[string]eventSink{ledgerapi.ProvidersMSP: providers, ledgerapi.StMarysMSP: stMarys},
		own: ledgerapi.ProvidersMSP, every: time.Hour, batch: 500, kick: make(chan struct{}, 1), log: discardLog()}
	if err := s.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := eventIDs(providers.sent()), []string{"ev-000", "ev-002", "ev-004"}; !cmp.Equal(got, want) {
		t.Errorf("Providers wrote %v, want %v", got, want)
	}
	if got, want := eventIDs(stMarys.sent()), []string{"ev-001", "ev-003"}; !cmp.Equal(got, want) {
		t.Errorf("St Mary's wrote %v, want %v", got, want)
	}
	if j.Len() != 0 {
		t.Errorf("%d events left in the journal", j.Len())
	}

	orphan := accessEvents(1)
	orphan[0].EventID, orphan[0].ActorOrg = "ev-orphan", ledgerapi.PharmacyMSP
	if _, err := j.Append(ctx, orphan...); err != nil {
		t.Fatal(err)
	}
	if err := s.flush(ctx); err == nil {
		t.Fatal("flush of an event no identity can write = nil, want an error")
	}
	if j.Len() != 1 {
		t.Errorf("journal holds %d events, want the one kept", j.Len())
	}
}

// One event the chaincode refuses for good (here: for a patient it does not
// know) must neither block the events behind it nor vanish: the batch is
// written one by one and the refused event set aside.
func TestShipperSetsAsideARefusedEvent(t *testing.T) {
	ctx := testContext(t)
	j, refused := openJournal(t), openJournal(t)
	events := accessEvents(5)
	events[2].PatientID = "pat-unknown"
	if _, err := j.Append(ctx, events...); err != nil {
		t.Fatal(err)
	}
	sink := &fakeSink{refuse: func(e ledgerapi.AccessEvent) bool { return e.PatientID == "pat-unknown" }}
	s := &shipper{journal: j, refused: refused, sinks: map[string]eventSink{"ProvidersMSP": sink}, own: "ProvidersMSP",
		every: time.Hour, batch: 500, kick: make(chan struct{}, 1), log: discardLog()}
	if err := s.flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	want := eventIDs(append(append([]ledgerapi.AccessEvent{}, events[:2]...), events[3:]...))
	if diff := cmp.Diff(want, eventIDs(sink.sent())); diff != "" {
		t.Errorf("events written (-want +got):\n%s", diff)
	}
	if j.Len() != 0 {
		t.Errorf("journal holds %d events, want 0", j.Len())
	}
	aside := refused.Pending(10)
	if len(aside) != 1 || aside[0].Record.EventID != events[2].EventID {
		t.Fatalf("set aside %+v, want the refused event", aside)
	}
	t.Run("an unreachable ledger is not a refusal", func(t *testing.T) {
		if _, err := j.Append(ctx, accessEvents(1)...); err != nil {
			t.Fatal(err)
		}
		s.sinks["ProvidersMSP"] = &fakeSink{failOn: func(int) bool { return true }}
		if err := s.flush(ctx); err == nil {
			t.Fatal("flush succeeded with the ledger unreachable")
		}
		if j.Len() != 1 || refused.Len() != 1 {
			t.Fatalf("journal %d, set aside %d; want the event kept for a retry", j.Len(), refused.Len())
		}
	})
}
