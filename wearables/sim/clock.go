package sim

import "time"

// Clock is the time that paces generation: which readings are due (Now) and
// how long to wait for the next (After). Backoff and the stop deadline are
// in real time whatever the clock.
type Clock interface {
	// Now is the current time on this clock.
	Now() time.Time
	// After sends the time on the returned channel once d has passed on
	// this clock (as time.After does for the real one).
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
