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
			EventID: fmt.Sprintf("ev-%03d", i), Actor: "dr-alice", ActorOrg: "ProvidersMSP", PatientID: "pat-1",
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
			s := &shipper{journal: j, sink: sink, every: time.Hour, batch: tt.batch, kick: make(chan struct{}, 1), log: discardLog()}
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
			s := &shipper{journal: j, sink: sink, every: time.Hour, batch: tt.batch, kick: make(chan struct{}, 1), log: discardLog()}
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
			s := &shipper{journal: j, sink: sink, every: tt.every, batch: 2, kick: make(chan struct{}, 1), log: discardLog()}
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
