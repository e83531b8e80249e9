package sim

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Stats count what devices made, sent and had answered.
type Stats struct {
	// Generated counts the readings generated; each goes into a batch
	// unless the run failed first (then it is counted in Lost).
	Generated int64 `json:"generated"`
	// Batches and Readings are the batches made (numbered and signed) and
	// the readings in them.
	Batches  int64 `json:"batches"`
	Readings int64 `json:"readings"`
	// Sent counts batch sends, resends included; Resent the sends of a batch
	// already sent on an earlier stream.
	Sent   int64 `json:"sent"`
	Resent int64 `json:"resent"`
	// Acked counts batches answered ACCEPTED or DUPLICATE (stored), and
	// AckedReadings the readings in them; Duplicates is how many of them were
	// DUPLICATE (stored by an earlier send whose answer was lost).
	Acked         int64 `json:"acked"`
	AckedReadings int64 `json:"ackedReadings"`
	Duplicates    int64 `json:"duplicates"`
	// RejectedBatches were answered REJECTED: nothing stored, not resent.
	RejectedBatches int64 `json:"rejectedBatches"`
	// RejectedReadings are the readings of ACCEPTED batches that the service
	// listed as rejected (implausible) and does not keep.
	RejectedReadings int64 `json:"rejectedReadings"`
	// Reconnects counts streams opened after a failed one.
	Reconnects int64 `json:"reconnects"`
	// Unacked counts batches never answered (stop deadline or a fatal
	// error); Lost the readings made but never answered, theirs included.
	Unacked int64 `json:"unacked"`
	Lost    int64 `json:"lost"`
}

// Add adds o's counts to s.
func (s *Stats) Add(o Stats) {
	s.Generated += o.Generated
	s.Batches += o.Batches
	s.Readings += o.Readings
	s.Sent += o.Sent
	s.Resent += o.Resent
	s.Acked += o.Acked
	s.AckedReadings += o.AckedReadings
	s.Duplicates += o.Duplicates
	s.RejectedBatches += o.RejectedBatches
	s.RejectedReadings += o.RejectedReadings
	s.Reconnects += o.Reconnects
	s.Unacked += o.Unacked
	s.Lost += o.Lost
}

// counters are a streamer's Stats as they change.
type counters struct {
	generated, batches, readings, sent, resent, acked, ackedReadings, duplicates,
	rejectedBatches, rejectedReadings, reconnects, unacked, lost atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Generated: c.generated.Load(), Batches: c.batches.Load(), Readings: c.readings.Load(),
		Sent: c.sent.Load(), Resent: c.resent.Load(),
		Acked: c.acked.Load(), AckedReadings: c.ackedReadings.Load(), Duplicates: c.duplicates.Load(),
		RejectedBatches: c.rejectedBatches.Load(), RejectedReadings: c.rejectedReadings.Load(),
		Reconnects: c.reconnects.Load(), Unacked: c.unacked.Load(), Lost: c.lost.Load(),
	}
}

// Summary is a fleet's Stats, summed over its devices, and its throughput.
type Summary struct {
	Devices int `json:"devices"`
	Stats
	// Elapsed is the wall-clock time the run took.
	Elapsed time.Duration `json:"-"`
	// ElapsedSeconds is Elapsed in seconds.
	ElapsedSeconds float64 `json:"elapsedSeconds"`
	// ReadingsPerSecond is AckedReadings per wall-clock second.
	ReadingsPerSecond float64 `json:"readingsPerSecond"`
}

func newSummary(devices int, s Stats, elapsed time.Duration) Summary {
	sum := Summary{Devices: devices, Stats: s, Elapsed: elapsed, ElapsedSeconds: elapsed.Seconds()}
	if elapsed > 0 {
		sum.ReadingsPerSecond = float64(s.AckedReadings) / elapsed.Seconds()
	}
	return sum
}

// WriteText prints the summary for people.
func (s Summary) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, `devices            %d
elapsed            %s
batches            %d made, %d sent (%d resent), %d acked (%d duplicate), %d rejected
readings           %d generated, %d acked, %d rejected as implausible, %d lost
reconnects         %d
unacked batches    %d
readings/s         %.0f
`, s.Devices, s.Elapsed.Round(time.Millisecond),
		s.Batches, s.Sent, s.Resent, s.Acked, s.Duplicates, s.RejectedBatches,
		s.Generated, s.AckedReadings, s.RejectedReadings, s.Lost,
		s.Reconnects, s.Unacked, s.ReadingsPerSecond)
	return err
}
