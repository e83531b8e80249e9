package consent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/durable"
	"healthexchange/services/platform/ledger"
)

// eventSink is the part of the ledger client the shipper needs.
type eventSink interface {
	AppendAccessEvents(ctx context.Context, events []ledgerapi.AccessEvent) (ledgerapi.AppendResult, error)
}

// shipper moves access events from the journal to the ledger, many per
// transaction. An organisation records its own people's accesses only, so
// each event is written with the ledger identity of the actor's
// organisation (sinks, by MSP id); a patient's own access with the service's
// own (own). An event leaves the journal only once its transaction has
// committed; a retry after a crash is harmless, since the chaincode counts
// an event it already has as a duplicate.
type shipper struct {
	journal *durable.Journal[ledgerapi.AccessEvent]
	// refused keeps the events the chaincode refused for good (a bug, or a
	// journal from another network), so they neither block the events
	// behind them nor vanish unseen.
	refused *durable.Journal[ledgerapi.AccessEvent]
	sinks   map[string]eventSink
	own     string
	every   time.Duration
	batch   int
	kick    chan struct{}
	log     *slog.Logger
}

// recorderOf is the organisation whose identity writes an event.
func (s *shipper) recorderOf(e ledgerapi.AccessEvent) string {
	if e.ActorRole == ledgerapi.RolePatient {
		return s.own
	}
	return e.ActorOrg
}

// canRecord reports whether the shipper has the ledger identity that writes
// the accesses of an organisation's people (role patient: the service's own).
func (s *shipper) canRecord(role, org string) bool {
	if role == ledgerapi.RolePatient {
		org = s.own
	}
	_, ok := s.sinks[org]
	return ok
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
		// One transaction per organisation, in the order they first appear;
		// the window leaves the journal once all of them committed.
		var orgs []string
		byOrg := map[string][]ledgerapi.AccessEvent{}
		for _, e := range entries {
			org := s.recorderOf(e.Record)
			if _, seen := byOrg[org]; !seen {
				orgs = append(orgs, org)
			}
			byOrg[org] = append(byOrg[org], e.Record)
		}
		for _, org := range orgs {
			sink, ok := s.sinks[org]
			if !ok {
				return fmt.Errorf("no ledger identity of organisation %q to write %d access events with (the service's organisations changed?)", org, len(byOrg[org]))
			}
			if err := s.append(ctx, sink, byOrg[org]); err != nil {
				return err
			}
		}
		if err := s.journal.Ack(entries[len(entries)-1].Seq); err != nil {
			return err
		}
	}
}

// append writes events in one transaction. When the chaincode refuses the
// batch, it writes them one by one, and sets aside each event it refuses
// alone: one bad event must not hold up the access log.
func (s *shipper) append(ctx context.Context, sink eventSink, events []ledgerapi.AccessEvent) error {
	_, err := sink.AppendAccessEvents(ctx, events)
	if !errors.Is(err, ledger.ErrRejected) {
		return err
	}
	if len(events) > 1 {
		for i := range events {
			if err := s.append(ctx, sink, events[i:i+1]); err != nil {
				return err
			}
		}
		return nil
	}
	s.log.Error("access log: the ledger refused an access event; it is set aside", "event", events[0].EventID,
		"patient", events[0].PatientID, "org", events[0].ActorOrg, "err", err)
	if s.refused == nil {
		return nil
	}
	_, aerr := s.refused.Append(ctx, events...)
	return aerr
}
