package consent

import (
	"context"
	"log/slog"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/durable"
)

// eventSink is the part of the ledger client the shipper needs.
type eventSink interface {
	AppendAccessEvents(ctx context.Context, events []ledgerapi.AccessEvent) (ledgerapi.AppendResult, error)
}

// shipper moves access events from the journal to the ledger, many per
// transaction. An event leaves the journal only once its transaction has
// committed; a retry after a crash is harmless, since the chaincode counts an
// event it already has as a duplicate.
type shipper struct {
	journal *durable.Journal[ledgerapi.AccessEvent]
	sink    eventSink
	every   time.Duration
	batch   int
	kick    chan struct{}
	log     *slog.Logger
}

// nudge asks for a flush before the next tick (when a batch is full).
func (s *shipper) nudge() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run flushes every period, or sooner when nudged, until ctx ends; then it
// makes one last attempt with a short deadline of its own.
func (s *shipper) run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.kick:
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.flush(final); err != nil {
				s.log.Warn("access log: events left in the journal for the next start", "pending", s.journal.Len(), "err", err)
			}
			return
		}
		if err := s.flush(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("access log: ledger write failed; events stay in the journal and are retried", "pending", s.journal.Len(), "err", err)
		}
	}
}

func (s *shipper) flush(ctx context.Context) error {
	for {
		entries := s.journal.Pending(s.batch)
		if len(entries) == 0 {
			return nil
		}
		events := make([]ledgerapi.AccessEvent, len(entries))
		for i, e := range entries {
			events[i] = e.Record
		}
		if _, err := s.sink.AppendAccessEvents(ctx, events); err != nil {
			return err
		}
		if err := s.journal.Ack(entries[len(entries)-1].Seq); err != nil {
			return err
		}
	}
}
