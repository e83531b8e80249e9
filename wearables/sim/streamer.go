package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/wearables/mhealth"
)

// Device is what a streamer needs of a wearable: its ids, sequence numbers
// that are never handed out twice, and its signature (*device.Device).
type Device interface {
	ID() string
	PatientID() string
	NextSeq() (uint64, error)
	Sign(mhealth.Batch) (mhealth.SignedBatch, error)
}

// Streamer generates one device's readings and uploads them, on one Upload
// stream at a time, until told to stop.
type Streamer struct {
	client ingestv1.IngestServiceClient
	dev    Device
	cfg    Config
	c      counters
	ran    atomic.Bool

	slots   chan struct{} // one token per batch in the window
	changed chan struct{} // a batch was added or answered, or generation ended

	mu       sync.Mutex
	unacked  []*outgoing // oldest first
	produced bool        // generation has ended and its last batch is in unacked
}

// outgoing is a batch in the window.
type outgoing struct {
	seq      uint64
	readings int
	req      *ingestv1.UploadRequest
	session  int // the stream it was last sent on; 0 before its first send
	sends    int
}

// NewStreamer returns a streamer of dev's readings to client.
func NewStreamer(client ingestv1.IngestServiceClient, dev Device, cfg Config) (*Streamer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil || dev == nil {
		return nil, fmt.Errorf("%w: a streamer needs a client and a device", ErrConfig)
	}
	return &Streamer{
		client:  client,
		dev:     dev,
		cfg:     cfg,
		slots:   make(chan struct{}, cfg.Window),
		changed: make(chan struct{}, 1),
	}, nil
}

// Stats are the streamer's counts so far.
func (s *Streamer) Stats() Stats { return s.c.snapshot() }

// Run generates and uploads until the context is cancelled, Duration has
// passed on the clock or Readings are made; then it sends what it has
// generated and waits up to StopTimeout for every outstanding batch to be
// answered. It returns nil when every batch made was answered, an error
// wrapping ErrUnacknowledged when some were not, and the error when the
// device could not number or sign a batch or the service refused the stream
// for good (Unimplemented, Unauthenticated, PermissionDenied). Any other
// stream error is retried on a new stream after a jittered exponential
// backoff, resending the unanswered batches. A Streamer runs once.
func (s *Streamer) Run(ctx context.Context) error {
	if s.ran.Swap(true) {
		return errors.New("sim: a streamer runs once")
	}
	begin := s.cfg.Clock.Now()
	gen, err := NewGenerator(DeviceSeed(s.cfg.Seed, s.dev.ID()), s.cfg.Start(begin), WithImplausible(s.cfg.Implausible))
	if err != nil {
		return err
	}

	// Generation stops with ctx (or at the end of Duration); sending goes
	// on after it, until everything is answered or StopTimeout has passed.
	genCtx, stopGenerating := context.WithCancel(ctx)
	defer stopGenerating()
	sendCtx, stopSending := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSending()
	if s.cfg.Duration > 0 {
		go func() {
			select {
			case <-s.cfg.Clock.After(s.cfg.Duration):
				stopGenerating()
			case <-genCtx.Done():
			}
		}()
	}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-stopped:
		case <-sendCtx.Done():
			return
		}
		t := time.NewTimer(s.cfg.StopTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			stopSending()
		case <-sendCtx.Done():
		}
	}()
	produced := make(chan error, 1)
	go func() { produced <- s.produce(genCtx, sendCtx, gen, begin, stopped) }()

	sendErr := s.send(sendCtx)
	stopGenerating()
	stopSending()
	prodErr := <-produced

	s.mu.Lock()
	var unacked, lost int64
	for _, b := range s.unacked {
		unacked++
		lost += int64(b.readings)
	}
	s.mu.Unlock()
	s.c.unacked.Add(unacked)
	s.c.lost.Add(lost)
	if unacked > 0 {
		sendErr = fmt.Errorf("device %s: %w: %d batches (%d readings): %w", s.dev.ID(), ErrUnacknowledged, unacked, lost, sendErr)
	} else if errors.Is(sendErr, context.Canceled) {
		sendErr = nil // stopped after everything was answered
	}
	return errors.Join(prodErr, sendErr)
}

// produce generates readings into batches until genCtx ends or a limit is
// reached, closes stopped, and sends what is pending with sendCtx. It marks
// generation ended whatever happens.
func (s *Streamer) produce(genCtx, sendCtx context.Context, gen *Generator, begin time.Time, stopped chan<- struct{}) error {
	defer s.endGeneration()
	cfg := s.cfg
	var pending []mhealth.Reading
	made := 0
	budgetLeft := func() bool { return cfg.Readings == 0 || made < cfg.Readings }
	for genCtx.Err() == nil && budgetLeft() {
		now := cfg.Clock.Now()
		if cfg.Duration > 0 && now.Sub(begin) >= cfg.Duration {
			break
		}
		for len(pending) < cfg.BatchSize && budgetLeft() && !gen.Due().After(now) {
			if pending == nil {
				pending = make([]mhealth.Reading, 0, cfg.BatchSize)
			}
			pending = append(pending, gen.Next())
			made++
			s.c.generated.Add(1)
		}
		flushBy := time.Time{}
		if len(pending) > 0 {
			flushBy = readingTime(pending[0]).Add(cfg.MaxBatchInterval)
		}
		if len(pending) == cfg.BatchSize || (len(pending) > 0 && !now.Before(flushBy)) {
			if err := s.flush(genCtx, pending); err != nil {
				if genCtx.Err() != nil {
					break // sent below, with sendCtx
				}
				close(stopped)
				s.c.lost.Add(int64(len(pending)))
				return err
			}
			pending = nil
			continue
		}
		if !budgetLeft() {
			break
		}
		wake := gen.Due()
		if len(pending) > 0 && flushBy.Before(wake) {
			wake = flushBy
		}
		select {
		case <-cfg.Clock.After(wake.Sub(now)):
		case <-genCtx.Done():
		}
	}
	close(stopped)
	if len(pending) > 0 {
		if err := s.flush(sendCtx, pending); err != nil {
			s.c.lost.Add(int64(len(pending)))
			return fmt.Errorf("device %s: %d readings not sent: %w", s.dev.ID(), len(pending), err)
		}
	}
	return nil
}

// readingTime is when a reading is known: its instant, or the end of its
// interval.
func readingTime(r mhealth.Reading) time.Time {
	if r.TimeFrame.IsInterval() {
		return r.TimeFrame.End
	}
	return r.TimeFrame.At
}

// flush numbers, signs and queues a batch once the window has room.
func (s *Streamer) flush(ctx context.Context, readings []mhealth.Reading) error {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	seq, err := s.dev.NextSeq()
	if err != nil {
		<-s.slots
		return err
	}
	signed, err := s.dev.Sign(mhealth.Batch{DeviceID: s.dev.ID(), PatientID: s.dev.PatientID(), Seq: seq, Readings: readings})
	if err != nil {
		<-s.slots
		return fmt.Errorf("device %s: sign batch %d: %w", s.dev.ID(), seq, err)
	}
	b := &outgoing{
		seq:      seq,
		readings: len(readings),
		req:      &ingestv1.UploadRequest{DeviceId: s.dev.ID(), Payload: signed.Payload, Signature: signed.Signature},
	}
	s.mu.Lock()
	s.unacked = append(s.unacked, b)
	s.mu.Unlock()
	s.c.batches.Add(1)
	s.c.readings.Add(int64(len(readings)))
	s.notify()
	return nil
}

func (s *Streamer) endGeneration() {
	s.mu.Lock()
	s.produced = true
	s.mu.Unlock()
	s.notify()
}

func (s *Streamer) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// send runs streams until everything generated is answered, ctx ends, or
// an error is permanent.
func (s *Streamer) send(ctx context.Context) error {
	failures := 0
	for session := 1; ; session++ {
		progressed, err := s.session(ctx, session)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if permanent(err) {
			return fmt.Errorf("device %s: upload refused: %w", s.dev.ID(), err)
		}
		if progressed {
			failures = 0
		}
		wait := s.backoff(failures)
		failures++
		s.c.reconnects.Add(1)
		s.cfg.Log.Warn("upload stream failed; reconnecting", "device", s.dev.ID(), "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// backoff is the wait before the stream after failures consecutive failed
// ones: exponential from BackoffInitial, capped at BackoffMax, with its
// upper half jittered so many devices do not reconnect in step.
func (s *Streamer) backoff(failures int) time.Duration {
	d := s.cfg.BackoffInitial
	for range failures {
		if d >= s.cfg.BackoffMax/2 {
			d = s.cfg.BackoffMax
			break
		}
		d *= 2
	}
	d = min(d, s.cfg.BackoffMax)
	return d/2 + rand.N(d/2+1)
}

// permanent reports a stream error that retrying cannot cure.
func permanent(err error) bool {
	switch status.Code(err) {
	case codes.Unimplemented, codes.Unauthenticated, codes.PermissionDenied:
		return true
	}
	return false
}

// session runs one Upload stream: it sends every unanswered batch, oldest
// first, then each new one, while a receiver matches the answers to the
// window in order. It returns nil once generation has ended and every batch
// is answered, and whether any batch was answered on this stream.
func (s *Streamer) session(ctx context.Context, session int) (bool, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := s.client.Upload(sctx)
	if err != nil {
		return false, err
	}
	var answered atomic.Int64
	recvErr := make(chan error, 1)
	go func() { recvErr <- s.receive(stream, session, &answered) }()
	received := false
	defer func() {
		if !received {
			cancel()
			<-recvErr
		}
	}()

	var lastSent uint64
	for {
		b, resend, done := s.nextToSend(lastSent, session)
		if b != nil {
			if err := stream.Send(b.req); err != nil {
				if errors.Is(err, io.EOF) { // the stream ended; Recv has why
					received = true
					if err = <-recvErr; err == nil {
						err = errors.New("server ended the upload stream")
					}
				}
				return answered.Load() > 0, err
			}
			s.c.sent.Add(1)
			if resend {
				s.c.resent.Add(1)
			}
			lastSent = b.seq
			continue
		}
		if done {
			// Everything is answered: end the stream politely.
			if err := stream.CloseSend(); err == nil {
				select {
				case <-recvErr:
					received = true
				case <-ctx.Done():
				}
			}
			return true, nil
		}
		select {
		case <-s.changed:
		case err := <-recvErr:
			received = true
			if err == nil {
				err = errors.New("server ended the upload stream with batches unanswered")
			}
			return answered.Load() > 0, err
		case <-ctx.Done():
			return answered.Load() > 0, ctx.Err()
		}
	}
}

// nextToSend returns the oldest unanswered batch after seq lastSent, marked
// as sent on session, and whether it was sent before; or, with none, whether
// generation has ended with every batch answered.
func (s *Streamer) nextToSend(lastSent uint64, session int) (b *outgoing, resend, done bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.unacked {
		if o.seq > lastSent {
			resend = o.sends > 0
			o.session = session
			o.sends++
			return o, resend, false
		}
	}
	return nil, false, s.produced && len(s.unacked) == 0
}

// receive matches a stream's answers to the window until the stream ends.
func (s *Streamer) receive(stream ingestv1.IngestService_UploadClient, session int, answered *atomic.Int64) error {
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.answer(resp, session); err != nil {
			return err
		}
		answered.Add(1)
	}
}

// answer takes the oldest batch out of the window with the service's answer,
// which must be for it: answers come one per batch, in the order sent.
func (s *Streamer) answer(resp *ingestv1.UploadResponse, session int) error {
	st := resp.GetStatus()
	s.mu.Lock()
	if len(s.unacked) == 0 {
		s.mu.Unlock()
		return fmt.Errorf("%w: answer for seq %d with no batch outstanding", ErrProtocol, resp.GetSeq())
	}
	b := s.unacked[0]
	switch {
	case b.session != session:
		s.mu.Unlock()
		return fmt.Errorf("%w: answer for seq %d before it was sent on this stream", ErrProtocol, b.seq)
	case (resp.GetSeq() != 0 && resp.GetSeq() != b.seq) || (resp.GetDeviceId() != "" && resp.GetDeviceId() != s.dev.ID()):
		s.mu.Unlock()
		return fmt.Errorf("%w: answer for device %q seq %d, expected %q seq %d", ErrProtocol, resp.GetDeviceId(), resp.GetSeq(), s.dev.ID(), b.seq)
	case st != ingestv1.BatchStatus_BATCH_STATUS_ACCEPTED && st != ingestv1.BatchStatus_BATCH_STATUS_DUPLICATE && st != ingestv1.BatchStatus_BATCH_STATUS_REJECTED:
		s.mu.Unlock()
		return fmt.Errorf("%w: answer for seq %d with status %v", ErrProtocol, b.seq, st)
	}
	sends := b.sends
	s.unacked[0] = nil
	s.unacked = s.unacked[1:]
	s.mu.Unlock()
	<-s.slots
	s.notify()

	log := s.cfg.Log
	switch st {
	case ingestv1.BatchStatus_BATCH_STATUS_ACCEPTED:
		s.c.acked.Add(1)
		s.c.ackedReadings.Add(int64(b.readings))
		if n := len(resp.GetRejected()); n > 0 {
			s.c.rejectedReadings.Add(int64(n))
			first := resp.GetRejected()[0]
			log.Info("readings rejected", "device", s.dev.ID(), "seq", b.seq, "count", n, "index", first.GetIndex(), "err", first.GetError())
		}
	case ingestv1.BatchStatus_BATCH_STATUS_DUPLICATE:
		s.c.acked.Add(1)
		s.c.ackedReadings.Add(int64(b.readings))
		s.c.duplicates.Add(1)
		if sends == 1 {
			log.Warn("the service already had a batch sent only once; was the device's state file restored from an old copy?", "device", s.dev.ID(), "seq", b.seq)
		}
	case ingestv1.BatchStatus_BATCH_STATUS_REJECTED:
		s.c.rejectedBatches.Add(1)
		log.Warn("batch rejected", "device", s.dev.ID(), "seq", b.seq, "readings", b.readings, "err", resp.GetError())
	}
	return nil
}
