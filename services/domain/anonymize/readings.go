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
	if g != ByDay && g != WholeWindow {
		return nil, fail(ErrConfig, "unknown granularity %d", g)
	}
	type key struct{ pid, kind, day string }
	type acc struct {
		n             int
		min, max, sum float64
	}
	pseudonyms := map[string]string{}
	accs := map[key]*acc{}
	for i, r := range readings {
		if r.PatientID == "" || r.Kind == "" || r.Time.IsZero() || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			return nil, fail(ErrInvalidValue, "reading %d: missing patient, kind or time, or non-finite value", i)
		}
		ps, ok := pseudonyms[r.PatientID]
		if !ok {
			ps = p.Pseudonym(r.PatientID)
			pseudonyms[r.PatientID] = ps
		}
		k := key{pid: ps, kind: r.Kind}
		if g == ByDay {
			k.day = p.ShiftDate(r.PatientID, r.Time).UTC().Format(time.DateOnly)
		}
		a := accs[k]
		if a == nil {
			a = &acc{min: r.Value, max: r.Value}
			accs[k] = a
		}
		a.n++
		a.sum += r.Value
		a.min = min(a.min, r.Value)
		a.max = max(a.max, r.Value)
	}
	out := make([]Summary, 0, len(accs))
	for k, a := range accs {
		out = append(out, Summary{Pseudonym: k.pid, Kind: k.kind, Day: k.day, Count: a.n, Min: a.min, Max: a.max, Mean: a.sum / float64(a.n)})
	}
	slices.SortFunc(out, func(a, b Summary) int {
		return cmp.Or(cmp.Compare(a.Pseudonym, b.Pseudonym), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Day, b.Day))
	})
	return out, nil
}
