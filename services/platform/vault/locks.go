package vault

import (
	"context"
	"sync"
)

// patientLocks serialises the work on one patient's key record (loading,
// creating, erasing, re-creating) within a vault, so two first Seals make
// one key and a Seal racing an Erase cannot cache the erased key. Waiting
// ends with the context.
type patientLocks struct {
	mu sync.Mutex
	m  map[string]*patientLock
}

type patientLock struct {
	held    chan struct{} // holds a token while locked
	waiters int           // holders and waiters; the entry goes at zero
}

// lock waits for the patient's lock and returns its release.
func (l *patientLocks) lock(ctx context.Context, patientID string) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*patientLock{}
	}
	pl, ok := l.m[patientID]
	if !ok {
		pl = &patientLock{held: make(chan struct{}, 1)}
		l.m[patientID] = pl
	}
	pl.waiters++
	l.mu.Unlock()

	select {
	case pl.held <- struct{}{}:
		return func() {
			<-pl.held
			l.release(patientID, pl)
		}, nil
	case <-ctx.Done():
		l.release(patientID, pl)
		return nil, ctx.Err()
	}
}

func (l *patientLocks) release(patientID string, pl *patientLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pl.waiters--
	if pl.waiters == 0 {
		delete(l.m, patientID)
	}
}
