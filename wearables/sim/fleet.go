package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	ingestv1 "healthexchange/proto/ingest/v1"
)

// Fleet runs many devices at once against one service, for load: one
// Streamer, and so one Upload stream, per device, all on the client given
// (one gRPC connection when it is one ClientConn).
type Fleet struct {
	streamers []*Streamer
	ran       atomic.Bool
}

// NewFleet returns a fleet of devices, each streaming as cfg says. It
// refuses an empty fleet and two devices with one id (their sequence
// numbers would collide).
func NewFleet(client ingestv1.IngestServiceClient, devices []Device, cfg Config) (*Fleet, error) {
	if len(devices) == 0 {
		return nil, fmt.Errorf("%w: a fleet needs at least one device", ErrConfig)
	}
	f := &Fleet{}
	seen := make(map[string]bool, len(devices))
	for _, d := range devices {
		if d == nil {
			return nil, fmt.Errorf("%w: nil device", ErrConfig)
		}
		if seen[d.ID()] {
			return nil, fmt.Errorf("%w: device %s given twice", ErrConfig, d.ID())
		}
		seen[d.ID()] = true
		s, err := NewStreamer(client, d, cfg)
		if err != nil {
			return nil, err
		}
		f.streamers = append(f.streamers, s)
	}
	return f, nil
}

// Run runs every device (see Streamer.Run) and returns when all have
// stopped, with their summed stats and every device's error joined. A Fleet
// runs once.
func (f *Fleet) Run(ctx context.Context) (Summary, error) {
	if f.ran.Swap(true) {
		return Summary{}, errors.New("sim: a fleet runs once")
	}
	start := time.Now()
	errs := make([]error, len(f.streamers))
	var wg sync.WaitGroup
	for i, s := range f.streamers {
		wg.Go(func() { errs[i] = s.Run(ctx) })
	}
	wg.Wait()
	return newSummary(len(f.streamers), f.Stats(), time.Since(start)), errors.Join(errs...)
}

// Stats are the fleet's counts so far, summed over its devices.
func (f *Fleet) Stats() Stats {
	var sum Stats
	for _, s := range f.streamers {
		sum.Add(s.Stats())
	}
	return sum
}
