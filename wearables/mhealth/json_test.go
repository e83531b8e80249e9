package mhealth

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// goldenReadings are the readings of testdata/readings.json.
func goldenReadings() []Reading {
	at := now.Add(-time.Minute)
	return []Reading{
		NewHeartRate(72, at),
		NewBloodPressure(120.5, 80, at.Add(123456789*time.Nanosecond)),
		NewOxygenSaturation(97.5, at),
		NewBodyTemperature(36.6, at),
		NewStepCount(120, at.Add(-time.Minute), at),
	}
}

func TestJSONGolden(t *testing.T) {
	golden, err := os.ReadFile("testdata/readings.json")
	if err != nil {
		t.Fatal(err)
	}
	var got []Reading
	if err := json.Unmarshal(golden, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenReadings(), got); diff != "" {
		t.Fatalf("decoded readings differ (-want +got):\n%s", diff)
	}
	for i, r := range got {
		if err := r.Validate(now, DefaultMaxSkew, DefaultMaxAge); err != nil {
			t.Errorf("reading %d: %v", i, err)
		}
	}
	out, err := json.MarshalIndent(goldenReadings(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(golden), string(out)+"\n"); diff != "" {
		t.Fatalf("encoded readings differ from testdata/readings.json (-want +got):\n%s", diff)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	zone := time.FixedZone("CEST", 2*60*60)
	for _, tc := range []struct {
		name string
		r    Reading
	}{
		{"wrong unit is kept for Validate to refuse", Reading{Kind: BodyTemperature, Value: 98.6, Unit: "F", TimeFrame: Instant(now)}},
		{"implausible value is kept", NewHeartRate(-5, now)},
		{"nanoseconds", NewHeartRate(60, now.Add(1))},
		{"negative zero", NewHeartRate(math.Copysign(0, -1), now)},
		{"large step count", NewStepCount(1<<53, now, now.Add(time.Hour))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			var back Reading
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatalf("Unmarshal(%s): %v", data, err)
			}
			if diff := cmp.Diff(tc.r, back); diff != "" {
				t.Fatalf("round trip of %s differs (-want +got):\n%s", data, diff)
			}
		})
	}
	t.Run("times come back in UTC", func(t *testing.T) {
		data, err := json.Marshal(NewHeartRate(72, now.In(zone)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte(`"date_time":"2025-06-01T12:00:00Z"`)) {
			t.Fatalf("Marshal = %s, want the time in UTC", data)
		}
		var back Reading
		if err := json.Unmarshal([]byte(`{"kind":"heart-rate","heart_rate":{"value":72,"unit":"beats/min"},"effective_time_frame":{"date_time":"2025-06-01T14:00:00+02:00"}}`), &back); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(NewHeartRate(72, now), back); diff != "" || back.TimeFrame.At.Location() != time.UTC {
			t.Fatalf("offset time decoded as %v (-want +got):\n%s", back.TimeFrame.At, diff)
		}
	})
}

func TestUnmarshalJSONRejects(t *testing.T) {
	const (
		hr   = `"heart_rate":{"value":72,"unit":"beats/min"}`
		when = `"effective_time_frame":{"date_time":"2025-06-01T12:00:00Z"}`
		span = `"effective_time_frame":{"time_interval":{"start_date_time":"2025-06-01T11:00:00Z","end_date_time":"2025-06-01T12:00:00Z"}}`
	)
	for _, tc := range []struct {
		name, doc string
		want      error
	}{
		{"unknown top-level field", `{"kind":"heart-rate",` + hr + `,` + when + `,"note":"x"}`, ErrFormat},
		{"unknown nested field", `{"kind":"heart-rate","heart_rate":{"value":72,"unit":"beats/min","source":"x"},` + when + `}`, ErrFormat},
		{"key in other case", `{"Kind":"heart-rate",` + hr + `,` + when + `}`, ErrFormat},
		{"nested key in other case", `{"kind":"heart-rate","heart_rate":{"VALUE":72,"unit":"beats/min"},` + when + `}`, ErrFormat},
		{"key with kelvin sign folding", `{"\u212aind":"heart-rate",` + hr + `,` + when + `}`, ErrFormat},
		{"duplicate key", `{"kind":"heart-rate",` + hr + `,` + hr + `,` + when + `}`, ErrFormat},
		{"duplicate nested key", `{"kind":"heart-rate","heart_rate":{"value":72,"value":250,"unit":"beats/min"},` + when + `}`, ErrFormat},
		{"trailing data", `{"kind":"heart-rate",` + hr + `,` + when + `} {}`, ErrFormat},
		{"null", `null`, ErrFormat},
		{"array", `[]`, ErrFormat},
		{"empty", ``, ErrFormat},
		{"missing kind", `{` + hr + `,` + when + `}`, ErrFormat},
		{"unknown kind", `{"kind":"blood-glucose",` + hr + `,` + when + `}`, ErrUnknownKind},
		{"value object of another kind", `{"kind":"oxygen-saturation",` + hr + `,` + when + `}`, ErrFormat},
		{"two value objects", `{"kind":"heart-rate",` + hr + `,"oxygen_saturation":{"value":98,"unit":"%"},` + when + `}`, ErrFormat},
		{"missing value object", `{"kind":"heart-rate",` + when + `}`, ErrFormat},
		{"blood pressure without diastolic", `{"kind":"blood-pressure","systolic_blood_pressure":{"value":120,"unit":"mmHg"},` + when + `}`, ErrFormat},
		{"blood pressure in two units", `{"kind":"blood-pressure","systolic_blood_pressure":{"value":120,"unit":"mmHg"},"diastolic_blood_pressure":{"value":10,"unit":"kPa"},` + when + `}`, ErrUnit},
		{"missing value", `{"kind":"heart-rate","heart_rate":{"unit":"beats/min"},` + when + `}`, ErrFormat},
		{"missing unit", `{"kind":"heart-rate","heart_rate":{"value":72},` + when + `}`, ErrFormat},
		{"value as string", `{"kind":"heart-rate","heart_rate":{"value":"72","unit":"beats/min"},` + when + `}`, ErrFormat},
		{"plain number as in Open mHealth 1.0", `{"kind":"heart-rate","heart_rate":72,` + when + `}`, ErrFormat},
		{"missing time frame", `{"kind":"heart-rate",` + hr + `}`, ErrFormat},
		{"time without offset", `{"kind":"heart-rate",` + hr + `,"effective_time_frame":{"date_time":"2025-06-01T12:00:00"}}`, ErrFormat},
		{"time as number", `{"kind":"heart-rate",` + hr + `,"effective_time_frame":{"date_time":1748779200}}`, ErrFormat},
		{"time before 1678", `{"kind":"heart-rate",` + hr + `,"effective_time_frame":{"date_time":"1600-01-01T00:00:00Z"}}`, ErrTime},
		{"heart rate over an interval", `{"kind":"heart-rate",` + hr + `,` + span + `}`, ErrTime},
		{"both time forms", `{"kind":"heart-rate",` + hr + `,"effective_time_frame":{"date_time":"2025-06-01T12:00:00Z","time_interval":{"start_date_time":"2025-06-01T11:00:00Z","end_date_time":"2025-06-01T12:00:00Z"}}}`, ErrTime},
		{"steps at an instant", `{"kind":"step-count","step_count":{"value":5,"unit":"steps"},` + when + `}`, ErrTime},
		{"steps without end", `{"kind":"step-count","step_count":{"value":5,"unit":"steps"},"effective_time_frame":{"time_interval":{"start_date_time":"2025-06-01T11:00:00Z"}}}`, ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewHeartRate(1, now)
			before := r
			err := r.UnmarshalJSON([]byte(tc.doc))
			if !errors.Is(err, tc.want) {
				t.Fatalf("UnmarshalJSON = %v, want %v", err, tc.want)
			}
			if diff := cmp.Diff(before, r); diff != "" {
				t.Fatalf("a refused document changed the reading:\n%s", diff)
			}
		})
	}
}

func TestMarshalJSONRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Reading
		want error
	}{
		{"unknown kind", Reading{Kind: 9, TimeFrame: Instant(now)}, ErrUnknownKind},
		{"diastolic on oxygen saturation", Reading{Kind: OxygenSaturation, Value: 98, Diastolic: 1, Unit: UnitPercent, TimeFrame: Instant(now)}, ErrFormat},
		{"steps at an instant", Reading{Kind: StepCount, Unit: UnitSteps, TimeFrame: Instant(now)}, ErrTime},
		{"no time", Reading{Kind: HeartRate, Value: 72, Unit: UnitBeatsPerMinute}, ErrTime},
		{"NaN", NewHeartRate(math.NaN(), now), ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := json.Marshal(tc.r); !errors.Is(err, tc.want) {
				t.Fatalf("Marshal = %v, want %v", err, tc.want)
			}
		})
	}
}
