package records

import (
	"context"
	"strings"
	"time"

	"healthexchange/services/store/recordstore"
)

// Sweep removes what puts that never finished left behind: for every plan
// older than the service's pending age whose version is not notarized, its
// object and then the plan. A plan whose version is notarized is a finished
// put's idempotency entry and stays, so its retries are still answered. It
// returns how many unfinished puts it removed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	ctx, span := tracer.Start(ctx, "sweep")
	defer span.End()
	keys, err := s.objects.List(ctx, "")
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, key := range keys {
		if !recordstore.IsIdempotencyKey(key) {
			continue
		}
		if s.sweepOne(ctx, key) {
			removed++
		}
	}
	return removed, nil
}

// sweepOne removes one unfinished put, holding its key's lock so that a
// retry of that put in this process waits.
func (s *Service) sweepOne(ctx context.Context, key string) bool {
	unlock, err := s.locks.Lock(ctx, key)
	if err != nil {
		return false
	}
	defer unlock()
	pl, found, err := s.loadPlan(ctx, key)
	if err != nil || !found {
		return false // unreadable now: next sweep
	}
	if s.now().Sub(pl.Created) < s.pendingAfter || !strings.HasPrefix(key, recordstore.PatientPrefix(pl.PatientID)) {
		return false
	}
	if _, done, err := s.notarized(ctx, pl); err != nil || done {
		return false
	}
	pl.Entry = key
	s.abandon(ctx, pl)
	s.log.InfoContext(ctx, "unfinished put removed", "record", pl.RecordID, "version", pl.Version, "patient", pl.PatientID)
	return true
}

// sweepEvery runs Sweep until ctx ends.
func (s *Service) sweepEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
