package sim

import (
	"errors"
	"math"
	"testing"
	"time"

	"healthexchange/wearables/mhealth"
)

var genStart = time.Date(2025, 3, 10, 5, 17, 23, 0, time.UTC)

// generate returns the first n readings of a generator.
func generate(t *testing.T, seed uint64, start time.Time, n int, opts ...GenOption) []mhealth.Reading {
	t.Helper()
	g, err := NewGenerator(seed, start, opts...)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]mhealth.Reading, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

func TestGeneratedReadingsAreValidAndRealistic(t *testing.T) {
	tests := []struct {
		name string
		seed uint64
		loc  *time.Location
	}{
		{"seed 1 UTC", 1, time.UTC},
		{"seed 42 UTC", 42, time.UTC},
		{"seed 7 UTC+10", 7, time.FixedZone("UTC+10", 10*3600)},
	}
	const span = 48 * time.Hour
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewGenerator(tt.seed, genStart, WithLocation(tt.loc))
			if err != nil {
				t.Fatal(err)
			}
			end := genStart.Add(span)
			counts := map[mhealth.Kind]int{}
			var all []mhealth.Reading
			var prev time.Time
			var workoutMax, restMax, daySteps float64
			for g.Due().Before(end) {
				due := g.Due()
				r := g.Next()
				all = append(all, r)
				if got := readingTime(r); !got.Equal(due) {
					t.Fatalf("reading %v known at %v, Due said %v", r, got, due)
				}
				if due.Before(prev) {
					t.Fatalf("reading at %v after one at %v: not in order", due, prev)
				}
				prev = due
				// Valid when it is made, with no clock skew, and still valid
				// just before it is too old.
				if err := r.Validate(due, 0, mhealth.DefaultMaxAge); err != nil {
					t.Fatalf("reading %+v: %v", r, err)
				}
				if err := r.Validate(due.Add(mhealth.DefaultMaxAge-2*time.Minute), 0, mhealth.DefaultMaxAge); err != nil {
					t.Fatalf("reading %+v almost 7 days later: %v", r, err)
				}
				counts[r.Kind]++
				act, _ := g.activityAt(due)
				switch r.Kind {
				case mhealth.HeartRate:
					if act == exercising {
						workoutMax = max(workoutMax, r.Value)
					} else {
						restMax = max(restMax, r.Value)
					}
					if r.Value < 55 || r.Value > 175 {
						t.Errorf("heart rate %v outside 55-175", r.Value)
					}
				case mhealth.OxygenSaturation:
					if r.Value < 94 || r.Value > 99 {
						t.Errorf("SpO2 %v outside 94-99", r.Value)
					}
				case mhealth.BodyTemperature:
					if r.Value < 36.2 || r.Value > 37.4 {
						t.Errorf("temperature %v outside 36.2-37.4", r.Value)
					}
				case mhealth.StepCount:
					if h := r.TimeFrame.Start.In(tt.loc).Hour(); h >= 23 || h < 7 {
						if r.Value != 0 {
							t.Errorf("%v steps at %v local: the wearer is asleep", r.Value, r.TimeFrame.Start.In(tt.loc))
						}
					} else {
						daySteps += r.Value
					}
					if d := r.TimeFrame.End.Sub(r.TimeFrame.Start); d != time.Minute {
						t.Errorf("step interval %v, want a minute", d)
					}
				}
			}
			expect := []struct {
				kind     mhealth.Kind
				min, max int
			}{
				{mhealth.HeartRate, int(span.Seconds() * 0.95), int(span.Seconds() * 1.05)}, // about 1 Hz
				{mhealth.BloodPressure, 5, 7},                         // three a day
				{mhealth.OxygenSaturation, 48 * 60 / 6, 48 * 60 / 3},  // every 3 to 6 min
				{mhealth.BodyTemperature, 48 * 60 / 17, 48 * 60 / 13}, // about every 15 min
				{mhealth.StepCount, 48*60 - 1, 48 * 60},               // every minute
			}
			for _, e := range expect {
				if n := counts[e.kind]; n < e.min || n > e.max {
					t.Errorf("%d %s readings in 48 h, want %d to %d", n, e.kind, e.min, e.max)
				}
			}
			if restMax > 110 && workoutMax == 0 {
				t.Errorf("heart rate reached %v without a workout", restMax)
			}
			if workoutMax != 0 && workoutMax <= 110 {
				t.Errorf("heart rate peaked at %v in workouts, want a bump above 110", workoutMax)
			}
			if daySteps < 1000 {
				t.Errorf("%v steps in two days: the wearer never walks", daySteps)
			}
			for i := 0; i < len(all); i += mhealth.MaxReadings {
				b := mhealth.Batch{DeviceID: "watch-1", PatientID: "pat-1", Seq: 1, Readings: all[i:min(i+mhealth.MaxReadings, len(all))]}
				if _, err := b.Encode(); err != nil {
					t.Fatalf("batch from reading %d does not encode: %v", i, err)
				}
			}
		})
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	const n = 20_000
	base := generate(t, 9, genStart, n)
	tests := []struct {
		name  string
		seed  uint64
		start time.Time
		same  bool
	}{
		{"same seed and start", 9, genStart, true},
		{"same start second", 9, genStart.Add(400 * time.Millisecond), true},
		{"another seed", 10, genStart, false},
		{"another start", 9, genStart.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := firstDifference(base, generate(t, tt.seed, tt.start, n))
			if tt.same && i >= 0 {
				t.Fatalf("reading %d differs: %+v", i, base[i])
			}
			if !tt.same && i < 0 {
				t.Fatal("readings are the same")
			}
		})
	}
	t.Run("devices of one run differ", func(t *testing.T) {
		if DeviceSeed(1, "watch-1") == DeviceSeed(1, "watch-2") || DeviceSeed(1, "watch-1") == DeviceSeed(2, "watch-1") {
			t.Fatal("DeviceSeed collides")
		}
	})
}

func TestImplausibleReadings(t *testing.T) {
	const n = 20_000
	plain := generate(t, 3, genStart, n)
	tests := []struct {
		name     string
		fraction float64
	}{
		{"none", 0},
		{"2 percent", 0.02},
		{"20 percent", 0.2},
		{"all", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := generate(t, 3, genStart, n, WithImplausible(tt.fraction))
			bad := 0
			for i, r := range got {
				err := r.Validate(readingTime(r), 0, mhealth.DefaultMaxAge)
				if err == nil {
					if !sameReading(plain[i], r) {
						t.Fatalf("plausible reading %d is %+v, without the option %+v", i, r, plain[i])
					}
					continue
				}
				if !errors.Is(err, mhealth.ErrImplausible) {
					t.Fatalf("reading %d: %v, want ErrImplausible", i, err)
				}
				if r.Kind != plain[i].Kind || !readingTime(r).Equal(readingTime(plain[i])) {
					t.Fatalf("implausible reading %d is a %s at %v, in place of a %s at %v", i, r.Kind, readingTime(r), plain[i].Kind, readingTime(plain[i]))
				}
				bad++
			}
			// Within 4 standard deviations of the binomial mean.
			mean := tt.fraction * n
			slack := 4 * math.Sqrt(n*tt.fraction*(1-tt.fraction))
			if math.Abs(float64(bad)-mean) > slack {
				t.Fatalf("%d of %d readings implausible, want about %.0f", bad, n, mean)
			}
		})
	}
}

func TestGeneratorOptionsAreChecked(t *testing.T) {
	tests := []struct {
		name  string
		start time.Time
		opt   GenOption
	}{
		{"negative fraction", genStart, WithImplausible(-0.1)},
		{"fraction above 1", genStart, WithImplausible(1.5)},
		{"NaN fraction", genStart, WithImplausible(math.NaN())},
		{"nil location", genStart, WithLocation(nil)},
		{"zero start", time.Time{}, WithImplausible(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewGenerator(1, tt.start, tt.opt); err == nil {
				t.Fatal("NewGenerator accepted it")
			}
		})
	}
}

func sameReading(a, b mhealth.Reading) bool {
	return a.Kind == b.Kind && a.Value == b.Value && a.Diastolic == b.Diastolic && a.Unit == b.Unit &&
		a.TimeFrame.At.Equal(b.TimeFrame.At) && a.TimeFrame.Start.Equal(b.TimeFrame.Start) && a.TimeFrame.End.Equal(b.TimeFrame.End)
}

// firstDifference is the index of the first reading where a and b differ,
// len of the shorter if one is a prefix of the other, -1 if they are equal.
func firstDifference(a, b []mhealth.Reading) int {
	for i := range min(len(a), len(b)) {
		if !sameReading(a[i], b[i]) {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
