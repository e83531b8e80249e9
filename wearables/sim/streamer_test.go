package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/wearables/device"
	"healthexchange/wearables/mhealth"
)

// loadConfig is a load run that stops after readings per device, against
// a clock fixed at begin, with fast backoff.
func loadConfig(begin time.Time, readings, batch int) Config {
	cfg := NewConfig()
	cfg.Mode = Load
	cfg.Readings = readings
	cfg.BatchSize = batch
	cfg.Window = 8
	cfg.Seed = 42
	cfg.BackoffInitial, cfg.BackoffMax = time.Millisecond, 20*time.Millisecond
	cfg.StopTimeout = 10 * time.Second
	cfg.Clock = fixedClock{begin}
	cfg.Log = slog.New(slog.DiscardHandler)
	return cfg
}

// expected is what a device of a run with cfg started at begin generates
// first: n readings.
func expected(t *testing.T, cfg Config, begin time.Time, deviceID string, n int) []mhealth.Reading {
	t.Helper()
	return generate(t, DeviceSeed(cfg.Seed, deviceID), cfg.Start(begin), n, WithImplausible(cfg.Implausible))
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkStored checks that the fake holds exactly want for the device, in
// batches numbered 1, 2, ... without a gap.
func checkStored(t *testing.T, f *fakeIngest, dev string, want []mhealth.Reading) {
	t.Helper()
	for i, seq := range f.seqs(dev) {
		if seq != uint64(i+1) {
			t.Fatalf("device %s: stored seqs %v, want 1 to %d without a gap", dev, f.seqs(dev), len(f.seqs(dev)))
		}
	}
	got := f.readings(dev)
	if i := firstDifference(want, got); i >= 0 {
		t.Fatalf("device %s: %d readings stored, %d generated; first difference at %d", dev, len(got), len(want), i)
	}
}

func TestFleetStoresEveryReadingOnceAcrossFaults(t *testing.T) {
	const devices, readings, batch = 4, 2000, 50
	tests := []struct {
		name   string
		faults map[int]fault
		// The fewest reconnections and duplicates the faults must cause: a
		// fault ends at least the stream it hit (a killed connection also
		// ends the other devices' streams open at that moment, but how many
		// are open is up to the scheduler), and a batch stored but not
		// answered comes back as a DUPLICATE (once, even if a later fault
		// hits its resend).
		reconnects, duplicates int64
	}{
		{name: "no faults"},
		{name: "stream dropped before storing", faults: map[int]fault{10: dropBeforeStore, 50: dropBeforeStore, 90: dropBeforeStore}, reconnects: 3},
		{name: "stream dropped after storing, before answering", faults: map[int]fault{7: dropBeforeAck, 33: dropBeforeAck, 80: dropBeforeAck, 120: dropBeforeAck}, reconnects: 4, duplicates: 1},
		{name: "stream dropped after answering", faults: map[int]fault{20: dropAfterAck, 60: dropAfterAck}, reconnects: 2},
		{name: "connection killed before answering", faults: map[int]fault{15: killConn, 70: killConn, 110: killConn}, reconnects: 3, duplicates: 1},
		{name: "answer for the wrong batch", faults: map[int]fault{25: misanswer, 26: misanswer}, reconnects: 1, duplicates: 1},
		{name: "all of them", faults: map[int]fault{
			5: killConn, 12: dropBeforeAck, 13: dropBeforeStore, 40: misanswer, 41: dropAfterAck, 77: killConn, 78: killConn, 150: dropBeforeAck,
		}, reconnects: 6, duplicates: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devs := newDevices(t, devices)
			f := newFake(devs...)
			f.faults = tt.faults
			client := serve(t, f)
			begin := time.Now().Truncate(time.Second)
			cfg := loadConfig(begin, readings, batch)
			fleet, err := NewFleet(client, asDevices(devs), cfg)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := fleet.Run(testContext(t))
			if err != nil {
				t.Fatalf("fleet: %v (stats %+v)", err, sum.Stats)
			}
			f.checkNoProblems(t)
			for _, d := range devs {
				checkStored(t, f, d.ID(), expected(t, cfg, begin, d.ID(), readings))
			}
			s := sum.Stats
			wantBatches := int64(devices * readings / batch)
			if s.Generated != devices*readings || s.Batches != wantBatches || s.Readings != devices*readings || s.Acked != wantBatches || s.AckedReadings != devices*readings {
				t.Errorf("stats %+v: want %d batches and %d readings made and acked", s, wantBatches, devices*readings)
			}
			if s.Unacked != 0 || s.Lost != 0 || s.RejectedBatches != 0 || s.RejectedReadings != 0 {
				t.Errorf("stats %+v: want nothing unacked, lost or rejected", s)
			}
			if s.Reconnects < tt.reconnects || s.Duplicates < tt.duplicates {
				t.Errorf("%d reconnects and %d duplicates, want at least %d and %d", s.Reconnects, s.Duplicates, tt.reconnects, tt.duplicates)
			}
			if tt.faults == nil && (s.Reconnects != 0 || s.Duplicates != 0 || s.Resent != 0 || s.Sent != wantBatches) {
				t.Errorf("stats %+v without faults: want every batch sent once", s)
			}
			if sum.Devices != devices || sum.ReadingsPerSecond <= 0 {
				t.Errorf("summary %+v: want %d devices and a throughput", sum, devices)
			}
		})
	}
}

func TestRejectedBatchesAreCountedNotResent(t *testing.T) {
	const readings, batch = 500, 50
	devs := newDevices(t, 2)
	f := newFake(devs...)
	f.reject = map[uint64]bool{2: true, 5: true}
	client := serve(t, f)
	begin := time.Now().Truncate(time.Second)
	cfg := loadConfig(begin, readings, batch)
	fleet, err := NewFleet(client, asDevices(devs), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := fleet.Run(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	f.checkNoProblems(t)
	for _, d := range devs {
		all := expected(t, cfg, begin, d.ID(), readings)
		// Batch n holds readings [(n-1)*batch, n*batch).
		var want []mhealth.Reading
		want = append(want, all[:batch]...)
		want = append(want, all[2*batch:4*batch]...)
		want = append(want, all[5*batch:]...)
		if got := f.readings(d.ID()); firstDifference(want, got) >= 0 {
			t.Errorf("device %s: stored %d readings, want the %d outside batches 2 and 5", d.ID(), len(got), len(want))
		}
		f.mu.Lock()
		for _, seq := range []uint64{2, 5} {
			if n := f.receipts[d.ID()][seq]; n != 1 {
				t.Errorf("device %s: rejected batch %d arrived %d times, want once", d.ID(), seq, n)
			}
		}
		f.mu.Unlock()
	}
	s := sum.Stats
	if s.RejectedBatches != 4 || s.Acked != 16 || s.AckedReadings != 16*batch || s.Sent != 20 || s.Unacked != 0 || s.Lost != 0 {
		t.Errorf("stats %+v: want 4 batches rejected, 16 acked, 20 sent, none lost", s)
	}
}

func TestImplausibleReadingsAreRejectedOneByOne(t *testing.T) {
	const readings, batch = 3000, 100
	devs := newDevices(t, 2)
	f := newFake(devs...)
	client := serve(t, f)
	begin := time.Now().Truncate(time.Second)
	cfg := loadConfig(begin, readings, batch)
	cfg.Implausible = 0.05
	fleet, err := NewFleet(client, asDevices(devs), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := fleet.Run(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	f.checkNoProblems(t)
	var implausible int64
	for _, d := range devs {
		want := expected(t, cfg, begin, d.ID(), readings)
		checkStored(t, f, d.ID(), want)
		for _, r := range want {
			if r.Validate(begin, mhealth.DefaultMaxSkew, mhealth.DefaultMaxAge) != nil {
				implausible++
			}
		}
	}
	if implausible == 0 {
		t.Fatal("no implausible reading generated")
	}
	if sum.RejectedReadings != implausible || sum.Acked != sum.Batches || sum.RejectedBatches != 0 {
		t.Errorf("stats %+v: want %d readings rejected in accepted batches", sum.Stats, implausible)
	}
}

func TestRealTimeSendsReadingsAsTheyCome(t *testing.T) {
	// 300 times the wall clock: 10 minutes pass in 2 seconds.
	clock := newScaledClock(300)
	devs := newDevices(t, 1)
	f := newFake(devs...)
	f.now = clock.Now
	client := serve(t, f)
	cfg := loadConfig(clock.Now(), 0, 1000)
	cfg.Mode = RealTime
	cfg.Clock = clock
	cfg.Duration = 10 * time.Minute
	cfg.MaxBatchInterval = 30 * time.Second
	s, err := NewStreamer(client, devs[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := clock.Now()
	if err := s.Run(testContext(t)); err != nil {
		t.Fatal(err)
	}
	stats := s.Stats()
	f.checkNoProblems(t)
	got := f.readings(devs[0].ID())
	if len(got) == 0 {
		t.Fatal("nothing stored")
	}
	// The first reading is a heart rate at the run's start, to the second.
	start := got[0].TimeFrame.At
	if start.Before(before.Truncate(time.Second)) || start.After(before.Add(time.Minute)) {
		t.Fatalf("first reading at %v, run started at %v", start, before)
	}
	want := generate(t, DeviceSeed(cfg.Seed, devs[0].ID()), start, len(got))
	if i := firstDifference(want, got); i >= 0 {
		t.Fatalf("stored readings differ from the generator's at %d", i)
	}
	if last := readingTime(got[len(got)-1]); last.Before(start.Add(cfg.Duration - 2*time.Minute)) {
		t.Errorf("last reading at %v, want readings to %v", last, start.Add(cfg.Duration))
	}
	if stats.RejectedReadings != 0 || int64(len(got)) != stats.Generated || stats.Acked != stats.Batches {
		t.Errorf("stats %+v with %d readings stored: want none rejected (none in the future), all acked", stats, len(got))
	}
	// Batches go out by time, long before 1000 readings fill one.
	if stats.Batches < 10 {
		t.Errorf("%d batches in 10 minutes with a 30 s interval, want at least 10", stats.Batches)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for seq, b := range f.stored[devs[0].ID()] {
		if len(b.batch.Readings) >= cfg.BatchSize {
			t.Errorf("batch %d is full: %d readings", seq, len(b.batch.Readings))
		}
		first := readingTime(b.batch.Readings[0])
		if late := f.arrived[devs[0].ID()][seq].Sub(first); late > 5*cfg.MaxBatchInterval {
			t.Errorf("batch %d arrived %v after its first reading, want about %v", seq, late, cfg.MaxBatchInterval)
		}
	}
}

func TestCancelStopsCleanly(t *testing.T) {
	const window, batch = 8, 64
	devs := newDevices(t, 1)
	f := newFake(devs...)
	f.hold = make(chan struct{})
	client := serve(t, f)
	begin := time.Now().Truncate(time.Second)
	cfg := loadConfig(begin, 0, batch) // no limit: runs until cancelled
	cfg.Window = window
	s, err := NewStreamer(client, devs[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// The service holds its answers: the window fills and the next batch's
	// readings wait for room.
	waitFor(t, 10*time.Second, "a full window and one batch more generated", func() bool {
		st := s.Stats()
		return st.Batches == window && st.Generated == (window+1)*batch
	})
	cancel()
	close(f.hold)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	stats := s.Stats()
	f.checkNoProblems(t)
	// Everything generated before the cancel is stored, the readings that
	// were waiting for room included: nothing dropped.
	checkStored(t, f, devs[0].ID(), expected(t, cfg, begin, devs[0].ID(), (window+1)*batch))
	if stats.Batches != window+1 || stats.Acked != window+1 || stats.Unacked != 0 || stats.Lost != 0 {
		t.Errorf("stats %+v: want %d batches made and acked, none lost", stats, window+1)
	}
}

func TestStopDeadlineCountsWhatIsLost(t *testing.T) {
	const window, batch = 4, 50
	devs := newDevices(t, 1)
	f := newFake(devs...)
	f.stall = true // reads every batch, answers none
	client := serve(t, f)
	cfg := loadConfig(time.Now().Truncate(time.Second), 0, batch)
	cfg.Window = window
	cfg.StopTimeout = 200 * time.Millisecond
	s, err := NewStreamer(client, devs[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, time.Minute, "a full window sent", func() bool { return f.receivedCount() >= window })
	cancel()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after cancel and the stop deadline")
	}
	if !errors.Is(runErr, ErrUnacknowledged) {
		t.Fatalf("Run: %v, want ErrUnacknowledged", runErr)
	}
	stats := s.Stats()
	if got := f.receivedCount(); got != window {
		t.Errorf("the service received %d batches, want the window's %d: no more may be in flight", got, window)
	}
	if stats.Unacked != window || stats.Acked != 0 || stats.Lost < window*batch {
		t.Errorf("stats %+v: want %d batches unacked and their readings lost", stats, window)
	}
}

func TestSeqContinuesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "watch-1.json")
	d, err := device.Create(keyPath, "watch-1", "pat-1")
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(d)
	client := serve(t, f)
	begin := time.Now().Truncate(time.Second)
	for run, dev := range []func() *device.Device{
		func() *device.Device { return d },
		func() *device.Device { // a restarted simulator: the device from its files
			restarted, err := device.Open(keyPath)
			if err != nil {
				t.Fatal(err)
			}
			return restarted
		},
	} {
		cfg := loadConfig(begin.Add(time.Duration(run)*time.Hour), 300, 100)
		s, err := NewStreamer(client, dev(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run(testContext(t)); err != nil {
			t.Fatalf("run %d: %v", run+1, err)
		}
		if st := s.Stats(); st.Duplicates != 0 || st.Acked != 3 {
			t.Fatalf("run %d: stats %+v, want 3 new batches", run+1, st)
		}
	}
	f.checkNoProblems(t)
	if got := fmt.Sprint(f.seqs("watch-1")); got != "[1 2 3 4 5 6]" {
		t.Fatalf("stored seqs %s, want [1 2 3 4 5 6]", got)
	}
}

func TestRefusedStreamStopsTheDevice(t *testing.T) {
	devs := newDevices(t, 1)
	client := serve(t, nil) // a server without the ingest service
	cfg := loadConfig(time.Now().Truncate(time.Second), 500, 50)
	s, err := NewStreamer(client, devs[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(testContext(t))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("Run: %v, want Unimplemented", err)
	}
	if st := s.Stats(); st.Reconnects != 0 || st.Acked != 0 {
		t.Fatalf("stats %+v: want no retry of a refused stream", st)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
	}{
		{"no mode", func(c *Config) { c.Mode = 0 }},
		{"load without a backlog", func(c *Config) { c.Mode, c.Backlog = Load, 0 }},
		{"load with a backlog beyond six days", func(c *Config) { c.Mode, c.Backlog = Load, LoadBacklog+time.Second }},
		{"batch of 0", func(c *Config) { c.BatchSize = 0 }},
		{"batch above the format's limit", func(c *Config) { c.BatchSize = mhealth.MaxReadings + 1 }},
		{"zero interval", func(c *Config) { c.MaxBatchInterval = 0 }},
		{"window of 0", func(c *Config) { c.Window = 0 }},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }},
		{"negative readings", func(c *Config) { c.Readings = -1 }},
		{"implausible above 1", func(c *Config) { c.Implausible = 2 }},
		{"backoff max below initial", func(c *Config) { c.BackoffMax = c.BackoffInitial / 2 }},
		{"zero stop timeout", func(c *Config) { c.StopTimeout = 0 }},
		{"no clock", func(c *Config) { c.Clock = nil }},
		{"no log", func(c *Config) { c.Log = nil }},
	}
	if err := NewConfig().Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	realtime := NewConfig()
	realtime.Backlog = 0
	if err := realtime.Validate(); err != nil {
		t.Fatalf("real time without a backlog (which it ignores) does not validate: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConfig()
			tt.change(&c)
			if err := c.Validate(); !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate: %v, want ErrConfig", err)
			}
			if _, err := NewStreamer(nil, nil, c); !errors.Is(err, ErrConfig) {
				t.Fatalf("NewStreamer: %v, want ErrConfig", err)
			}
		})
	}
	t.Run("a fleet refuses a device twice", func(t *testing.T) {
		devs := newDevices(t, 1)
		client := ingestv1.NewIngestServiceClient(nil)
		if _, err := NewFleet(client, asDevices(devs), NewConfig()); err != nil {
			t.Fatalf("NewFleet of one device: %v", err)
		}
		if _, err := NewFleet(client, asDevices(append(devs, devs[0])), NewConfig()); !errors.Is(err, ErrConfig) {
			t.Fatalf("NewFleet: %v, want ErrConfig", err)
		}
	})
	t.Run("a run needs TLS", func(t *testing.T) {
		c := NewRunConfig()
		c.DeviceKeys = []string{"k.json"}
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Fatalf("Validate without TLS: %v, want ErrConfig", err)
		}
	})
}

func TestRunFromKeyFiles(t *testing.T) {
	dir := t.TempDir()
	var keys []string
	var devs []*device.Device
	for _, id := range []string{"watch-1", "ring-2"} {
		path := filepath.Join(dir, id+".json")
		d, err := device.Create(path, id, "pat-"+id)
		if err != nil {
			t.Fatal(err)
		}
		keys, devs = append(keys, path), append(devs, d)
	}
	f := newFake(devs...)
	addr, cliTLS := serveAt(t, f)
	begin := time.Now().Truncate(time.Second)
	cfg := NewRunConfig()
	cfg.Config = loadConfig(begin, 1000, 100)
	cfg.Server, cfg.TLS, cfg.DeviceKeys = addr, cliTLS, keys
	sum, err := Run(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.checkNoProblems(t)
	for _, d := range devs {
		checkStored(t, f, d.ID(), expected(t, cfg.Config, begin, d.ID(), 1000))
	}
	if sum.Devices != 2 || sum.AckedReadings != 2000 {
		t.Fatalf("summary %+v: want 2 devices, 2000 readings acked", sum)
	}

	t.Run("a key file others can read is refused", func(t *testing.T) {
		if err := os.Chmod(keys[1], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Run(testContext(t), cfg); !errors.Is(err, device.ErrPermissions) {
			t.Fatalf("Run: %v, want device.ErrPermissions", err)
		}
	})
}

func TestLoadBacklogBoundsReadingTimes(t *testing.T) {
	const backlog, readings = 2 * time.Minute, 60
	dir := t.TempDir()
	var keys []string
	var devs []*device.Device
	for _, id := range []string{"watch-1", "ring-2"} {
		path := filepath.Join(dir, id+".json")
		d, err := device.Create(path, id, "pat-"+id)
		if err != nil {
			t.Fatal(err)
		}
		keys, devs = append(keys, path), append(devs, d)
	}
	f := newFake(devs...)
	addr, cliTLS := serveAt(t, f)
	// Not on a whole second: the generator's seconds must not reach back
	// past the backlog.
	now := time.Now().Truncate(time.Second).Add(700 * time.Millisecond)
	cfg := NewRunConfig()
	cfg.Config = loadConfig(now, readings, 25)
	cfg.Backlog = backlog
	cfg.Server, cfg.TLS, cfg.DeviceKeys = addr, cliTLS, keys
	sum, err := Run(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.checkNoProblems(t)
	if sum.AckedReadings != 2*readings {
		t.Fatalf("summary %+v: want %d readings acked", sum, 2*readings)
	}
	earliest := now.Add(-backlog)
	for _, d := range devs {
		got := f.readings(d.ID())
		if len(got) != readings {
			t.Fatalf("device %s: %d readings stored, want %d", d.ID(), len(got), readings)
		}
		for i, r := range got {
			first, last := r.TimeFrame.At, r.TimeFrame.At
			if r.TimeFrame.IsInterval() {
				first, last = r.TimeFrame.Start, r.TimeFrame.End
			}
			if first.Before(earliest) || last.After(now) {
				t.Fatalf("device %s reading %d (%v) from %v to %v: outside [now-%v, now] = [%v, %v]",
					d.ID(), i, r.Kind, first, last, backlog, earliest, now)
			}
		}
	}
}
