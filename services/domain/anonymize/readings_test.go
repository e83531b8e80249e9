package anonymize

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSummarizeReadings(t *testing.T) {
	p := newP(t)
	day1 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	readings := []Reading{
		{PatientID: "A", Kind: "heart-rate", Time: day1, Value: 60},
		{PatientID: "A", Kind: "heart-rate", Time: day1.Add(time.Hour), Value: 80},
		{PatientID: "A", Kind: "heart-rate", Time: day2, Value: 100},
		{PatientID: "A", Kind: "step-count", Time: day1, Value: 5000},
	}
	d1 := p.ShiftDate("A", day1).Format(time.DateOnly)
	d2 := p.ShiftDate("A", day2).Format(time.DateOnly)
	ps := p.Pseudonym("A")

	window, err := p.SummarizeReadings(readings, WholeWindow)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Summary{
		{Pseudonym: ps, Kind: "heart-rate", Count: 3, Min: 60, Max: 100, Mean: 80},
		{Pseudonym: ps, Kind: "step-count", Count: 1, Min: 5000, Max: 5000, Mean: 5000},
	}, window); diff != "" {
		t.Errorf("window (-want +got):\n%s", diff)
	}

	daily, err := p.SummarizeReadings(readings, ByDay)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Summary{
		{Pseudonym: ps, Kind: "heart-rate", Day: d1, Count: 2, Min: 60, Max: 80, Mean: 70},
		{Pseudonym: ps, Kind: "heart-rate", Day: d2, Count: 1, Min: 100, Max: 100, Mean: 100},
		{Pseudonym: ps, Kind: "step-count", Day: d1, Count: 1, Min: 5000, Max: 5000, Mean: 5000},
	}, daily); diff != "" {
		t.Errorf("daily (-want +got):\n%s", diff)
	}
	if d1 == "2024-05-01" {
		t.Error("day not shifted")
	}

	for name, r := range map[string]Reading{
		"NaN":        {PatientID: "A", Kind: "hr", Time: day1, Value: math.NaN()},
		"Inf":        {PatientID: "A", Kind: "hr", Time: day1, Value: math.Inf(1)},
		"no patient": {Kind: "hr", Time: day1, Value: 1},
		"no time":    {PatientID: "A", Kind: "hr", Value: 1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := p.SummarizeReadings([]Reading{r}, ByDay); !errors.Is(err, ErrInvalidValue) {
				t.Errorf("err = %v, want ErrInvalidValue", err)
			}
		})
	}
	if _, err := p.SummarizeReadings(readings, Granularity(0)); !errors.Is(err, ErrConfig) {
		t.Errorf("granularity 0: %v", err)
	}
}

// TestSummarizerAdd: a refused reading is named by its position and left
// out of the summaries.
func TestSummarizerAdd(t *testing.T) {
	p := newP(t)
	s, err := p.NewSummarizer(WholeWindow)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	if err := s.Add(Reading{PatientID: "A", Kind: "heart-rate", Time: at, Value: 60}); err != nil {
		t.Fatal(err)
	}
	err = s.Add(Reading{PatientID: "A", Kind: "heart-rate", Time: at, Value: math.Inf(-1)})
	if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "reading 1") {
		t.Errorf("Add = %v, want ErrInvalidValue naming reading 1", err)
	}
	if got := s.Summaries(); len(got) != 1 || got[0].Count != 1 || got[0].Mean != 60 {
		t.Errorf("Summaries = %+v, want the one valid reading", got)
	}
	if _, err := p.NewSummarizer(Granularity(7)); !errors.Is(err, ErrConfig) {
		t.Errorf("granularity 7: %v", err)
	}
}
