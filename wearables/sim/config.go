package sim

import (
	"fmt"
	"log/slog"
	"time"

	"healthexchange/wearables/mhealth"
)

// Mode is how the readings' times relate to the clock.
type Mode int

const (
	// RealTime starts the readings at the clock's now and sends each when
	// its time comes: what a worn device does (make demo).
	RealTime Mode = iota + 1
	// Load starts the readings Config.Backlog before the clock's now and
	// sends them as fast as the service takes them; a device that catches up
	// with now goes on in real time, so no reading is ever in the future, and
	// none is older than mhealth.DefaultMaxAge unless a run outlasts the
	// difference between the two (a day with the default backlog).
	Load
)

// LoadBacklog is the default and the longest Backlog: six days, a day short
// of mhealth.DefaultMaxAge, so a load run's oldest readings are still
// accepted when they arrive.
const LoadBacklog = 6 * 24 * time.Hour

// String is "realtime" or "load".
func (m Mode) String() string {
	switch m {
	case RealTime:
		return "realtime"
	case Load:
		return "load"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Config is how devices generate and stream. Durations marked "on Clock"
// pass as Clock says; the others are real time.
type Config struct {
	Mode Mode
	// Backlog is how far before the clock's now a Load run's readings start
	// (more than 0, at most LoadBacklog); RealTime ignores it.
	Backlog time.Duration
	// BatchSize is the most readings in a batch (1 to mhealth.MaxReadings).
	BatchSize int
	// MaxBatchInterval is the longest a reading waits, on Clock, for its
	// batch to fill before the batch is sent anyway.
	MaxBatchInterval time.Duration
	// Window is the most batches a device has sent or signed and not yet
	// had answered; generation waits while it is full, so memory stays flat.
	Window int
	// Duration is how long devices generate, on Clock; 0 is until the
	// context is cancelled or Readings are made.
	Duration time.Duration
	// Readings is how many readings each device makes; 0 is no limit.
	Readings int
	// Implausible is the fraction of readings made implausible (see
	// WithImplausible).
	Implausible float64
	// Seed makes the readings reproducible (see DeviceSeed).
	Seed uint64
	// BackoffInitial and BackoffMax bound the jittered exponential wait
	// between failed streams.
	BackoffInitial, BackoffMax time.Duration
	// StopTimeout is how long, once generation stops, outstanding batches
	// may take to be answered before they are given up as lost.
	StopTimeout time.Duration
	// Clock paces generation.
	Clock Clock
	// Log receives reconnections, rejected batches and rejected readings.
	Log *slog.Logger
}

// Defaults of NewConfig.
const (
	DefaultBatchSize        = 60
	DefaultMaxBatchInterval = 10 * time.Second
	DefaultWindow           = 64
	DefaultBackoffInitial   = 200 * time.Millisecond
	DefaultBackoffMax       = 10 * time.Second
	DefaultStopTimeout      = 10 * time.Second
	maxWindow               = 4096
)

// NewConfig returns the defaults: real time (a backlog of LoadBacklog for
// Load), batches of 60 readings or 10 s, 64 batches in flight, no limit,
// backoff 200 ms to 10 s, 10 s to stop, the real clock and no log.
func NewConfig() Config {
	return Config{
		Mode:             RealTime,
		Backlog:          LoadBacklog,
		BatchSize:        DefaultBatchSize,
		MaxBatchInterval: DefaultMaxBatchInterval,
		Window:           DefaultWindow,
		BackoffInitial:   DefaultBackoffInitial,
		BackoffMax:       DefaultBackoffMax,
		StopTimeout:      DefaultStopTimeout,
		Clock:            RealClock(),
		Log:              slog.New(slog.DiscardHandler),
	}
}

// Validate reports the first invalid field, wrapping ErrConfig.
func (c Config) Validate() error {
	switch {
	case c.Mode != RealTime && c.Mode != Load:
		return fmt.Errorf("%w: mode %v: must be realtime or load", ErrConfig, c.Mode)
	case c.Mode == Load && (c.Backlog <= 0 || c.Backlog > LoadBacklog):
		return fmt.Errorf("%w: backlog %v: must be positive and at most %v, so readings are never older than %v", ErrConfig, c.Backlog, LoadBacklog, mhealth.DefaultMaxAge)
	case c.BatchSize < 1 || c.BatchSize > mhealth.MaxReadings:
		return fmt.Errorf("%w: batch size %d: must be 1 to %d", ErrConfig, c.BatchSize, mhealth.MaxReadings)
	case c.MaxBatchInterval <= 0:
		return fmt.Errorf("%w: max batch interval %v: must be positive", ErrConfig, c.MaxBatchInterval)
	case c.Window < 1 || c.Window > maxWindow:
		return fmt.Errorf("%w: window %d: must be 1 to %d batches", ErrConfig, c.Window, maxWindow)
	case c.Duration < 0:
		return fmt.Errorf("%w: duration %v: must not be negative", ErrConfig, c.Duration)
	case c.Readings < 0:
		return fmt.Errorf("%w: readings %d: must not be negative", ErrConfig, c.Readings)
	case !(c.Implausible >= 0 && c.Implausible <= 1):
		return fmt.Errorf("%w: implausible fraction %v: must be 0 to 1", ErrConfig, c.Implausible)
	case c.BackoffInitial <= 0 || c.BackoffMax < c.BackoffInitial:
		return fmt.Errorf("%w: backoff %v to %v: initial must be positive and at most the max", ErrConfig, c.BackoffInitial, c.BackoffMax)
	case c.StopTimeout <= 0:
		return fmt.Errorf("%w: stop timeout %v: must be positive", ErrConfig, c.StopTimeout)
	case c.Clock == nil:
		return fmt.Errorf("%w: no clock", ErrConfig)
	case c.Log == nil:
		return fmt.Errorf("%w: no logger", ErrConfig)
	}
	return nil
}

// Start is the time a device's readings start from, for a run that starts
// at now: now in RealTime, now - Backlog in Load, rounded up to the second
// (the generator works in whole seconds) so that no reading is older than
// Backlog.
func (c Config) Start(now time.Time) time.Time {
	if c.Mode != Load {
		return now
	}
	start := now.Add(-c.Backlog)
	if s := start.Truncate(time.Second); s.Before(start) {
		start = s.Add(time.Second)
	}
	return start
}
