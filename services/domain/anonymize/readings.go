package anonymize

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Reading is one raw wearable measurement of a patient.
type Reading struct {
	PatientID string
	// Kind is what was measured ("heart-rate", "step-count", …).
	Kind  string
	Time  time.Time
	Value float64
}

// Granularity is the time span a Summary covers.
type Granularity int

const (
	// ByDay summarizes each (shifted) UTC day.
	ByDay Granularity = iota + 1
	// WholeWindow summarizes everything a patient has of a kind.
	WholeWindow
)

// Summary is the statistics of one patient's readings of one kind over one
// day or the whole window.
type Summary struct {
	Pseudonym string
	Kind      string
	// Day is the shifted day (YYYY-MM-DD) for ByDay, empty for WholeWindow.
	Day            string
	Count          int
	Min, Max, Mean float64
}

// SummarizeReadings is step 5. It turns raw readings into per-pseudonym,
// per-kind summaries (count, min, max, mean) for each day or the whole
// window, with days shifted by the patient's date offset. It protects against
// re-identification from the raw stream: second-by-second timestamps and
// values form a trace that can be matched against another copy of the same
// device data, and real calendar days can be matched against known events.
// Output is sorted by pseudonym, kind and day. A reading without a patient id
// or kind, with a zero time or a value that is not finite is an error.
func (p *Pseudonymizer) SummarizeReadings(readings []Reading, g Granularity) ([]Summary, error) {
	s, err := p.NewSummarizer(g)
	if err != nil {
		return nil, err
	}
	for _, r := range readings {
		if err := s.Add(r); err != nil {
			return nil, err
		}
	}
	return s.Summaries(), nil
}

// Summarizer is SummarizeReadings for readings that arrive one at a time:
// it keeps one running count, minimum, maximum and sum per pseudonym, kind
// and day, never the readings, so its memory does not grow with them. It is
// for one goroutine; like its Pseudonymizer, it must not outlive Forget.
type Summarizer struct {
	p      *Pseudonymizer
	g      Granularity
	added  int
	people map[string]summaryPatient // by patient id
	accs   map[summaryKey]*summaryAcc
}

type summaryPatient struct {
	pseudonym string
	shift     int // days
}

type summaryKey struct{ pid, kind, day string }

type summaryAcc struct {
	n             int
	min, max, sum float64
}

// NewSummarizer returns an empty Summarizer of granularity g.
func (p *Pseudonymizer) NewSummarizer(g Granularity) (*Summarizer, error) {
	if g != ByDay && g != WholeWindow {
		return nil, fail(ErrConfig, "unknown granularity %d", g)
	}
	return &Summarizer{p: p, g: g, people: map[string]summaryPatient{}, accs: map[summaryKey]*summaryAcc{}}, nil
}

// Add counts one reading. A reading SummarizeReadings would refuse is an
// error naming its position among the readings added, and is not counted.
func (s *Summarizer) Add(r Reading) error {
	i := s.added
	s.added++
	if r.PatientID == "" || r.Kind == "" || r.Time.IsZero() || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		return fail(ErrInvalidValue, "reading %d: missing patient, kind or time, or non-finite value", i)
	}
	who, ok := s.people[r.PatientID]
	if !ok {
		who = summaryPatient{pseudonym: s.p.Pseudonym(r.PatientID), shift: s.p.shiftDays(r.PatientID)}
		s.people[r.PatientID] = who
	}
	k := summaryKey{pid: who.pseudonym, kind: r.Kind}
	if s.g == ByDay {
		// ShiftDate, with the patient's offset drawn once.
		k.day = r.Time.AddDate(0, 0, who.shift).UTC().Format(time.DateOnly)
	}
	a := s.accs[k]
	if a == nil {
		a = &summaryAcc{min: r.Value, max: r.Value}
		s.accs[k] = a
	}
	a.n++
	a.sum += r.Value
	a.min = min(a.min, r.Value)
	a.max = max(a.max, r.Value)
	return nil
}

// Summaries returns the summaries of the readings added so far, sorted by
// pseudonym, kind and day.
func (s *Summarizer) Summaries() []Summary {
	out := make([]Summary, 0, len(s.accs))
	for k, a := range s.accs {
		out = append(out, Summary{Pseudonym: k.pid, Kind: k.kind, Day: k.day, Count: a.n, Min: a.min, Max: a.max, Mean: a.sum / float64(a.n)})
	}
	slices.SortFunc(out, func(a, b Summary) int {
		return cmp.Or(cmp.Compare(a.Pseudonym, b.Pseudonym), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Day, b.Day))
	})
	return out
}
