package mhealth

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	const skew, age = 2 * time.Minute, 48 * time.Hour
	at := now.Add(-time.Minute)
	steps := func(n int64, d time.Duration) Reading { return NewStepCount(n, at.Add(-d), at) }
	withUnit := func(r Reading, unit string) Reading { r.Unit = unit; return r }
	for _, tc := range []struct {
		name  string
		r     Reading
		want  error  // nil: valid
		field string // the message must name it
	}{
		{"heart rate at lower edge", NewHeartRate(20, at), nil, ""},
		{"heart rate at upper edge", NewHeartRate(250, at), nil, ""},
		{"heart rate below range", NewHeartRate(19.9, at), ErrImplausible, "heart_rate.value"},
		{"heart rate above range", NewHeartRate(250.1, at), ErrImplausible, "heart_rate.value"},
		{"heart rate NaN", NewHeartRate(math.NaN(), at), ErrImplausible, "heart_rate.value"},
		{"heart rate infinite", NewHeartRate(math.Inf(1), at), ErrImplausible, "heart_rate.value"},
		{"heart rate in bpm", withUnit(NewHeartRate(72, at), "bpm"), ErrUnit, "heart_rate.unit"},
		{"heart rate without unit", withUnit(NewHeartRate(72, at), ""), ErrUnit, "heart_rate.unit"},

		{"blood pressure at lower edges", NewBloodPressure(50, 20, at), nil, ""},
		{"blood pressure at upper edges", NewBloodPressure(260, 160, at), nil, ""},
		{"systolic below range", NewBloodPressure(49.9, 20, at), ErrImplausible, "systolic_blood_pressure.value"},
		{"systolic above range", NewBloodPressure(260.1, 90, at), ErrImplausible, "systolic_blood_pressure.value"},
		{"diastolic below range", NewBloodPressure(120, 19.9, at), ErrImplausible, "diastolic_blood_pressure.value"},
		{"diastolic above range", NewBloodPressure(200, 160.1, at), ErrImplausible, "diastolic_blood_pressure.value"},
		{"systolic equal to diastolic", NewBloodPressure(80, 80, at), ErrImplausible, "must be above diastolic"},
		{"systolic below diastolic", NewBloodPressure(80, 120, at), ErrImplausible, "must be above diastolic"},
		{"diastolic NaN", NewBloodPressure(120, math.NaN(), at), ErrImplausible, "diastolic_blood_pressure.value"},
		{"blood pressure in kPa", withUnit(NewBloodPressure(120, 80, at), "kPa"), ErrUnit, "systolic_blood_pressure.unit"},
		{"blood pressure unit in lower case", withUnit(NewBloodPressure(120, 80, at), "mmhg"), ErrUnit, "unit"},

		{"SpO2 at lower edge", NewOxygenSaturation(50, at), nil, ""},
		{"SpO2 at upper edge", NewOxygenSaturation(100, at), nil, ""},
		{"SpO2 below range", NewOxygenSaturation(49.9, at), ErrImplausible, "oxygen_saturation.value"},
		{"SpO2 above range", NewOxygenSaturation(100.1, at), ErrImplausible, "oxygen_saturation.value"},
		{"SpO2 as a fraction", NewOxygenSaturation(0.98, at), ErrImplausible, "oxygen_saturation.value"},
		{"SpO2 in percent spelled out", withUnit(NewOxygenSaturation(98, at), "percent"), ErrUnit, "oxygen_saturation.unit"},

		{"temperature at lower edge", NewBodyTemperature(30, at), nil, ""},
		{"temperature at upper edge", NewBodyTemperature(45, at), nil, ""},
		{"temperature below range", NewBodyTemperature(29.9, at), ErrImplausible, "body_temperature.value"},
		{"temperature above range", NewBodyTemperature(45.1, at), ErrImplausible, "body_temperature.value"},
		{"Fahrenheit value sent as Celsius", NewBodyTemperature(98.6, at), ErrImplausible, "body_temperature.value"},
		{"temperature in Fahrenheit", withUnit(NewBodyTemperature(98.6, at), "F"), ErrUnit, "body_temperature.unit"},
		{"temperature in degrees C", withUnit(NewBodyTemperature(37, at), "°C"), ErrUnit, "body_temperature.unit"},

		{"no steps", steps(0, time.Minute), nil, ""},
		{"steps at 5 per second", steps(300, time.Minute), nil, ""},
		{"steps above 5 per second", steps(301, time.Minute), ErrImplausible, "step_count.value"},
		{"negative steps", steps(-1, time.Minute), ErrImplausible, "step_count.value"},
		{"fractional steps", Reading{Kind: StepCount, Value: 12.5, Unit: UnitSteps, TimeFrame: Interval(at.Add(-time.Minute), at)}, ErrImplausible, "step_count.value"},
		{"steps over exactly 24 h", steps(432_000, 24*time.Hour), nil, ""},
		{"steps over 24 h and 1 ns", steps(0, 24*time.Hour+1), ErrTime, "time_interval"},
		{"steps over an empty interval", steps(0, 0), ErrTime, "time_interval"},
		{"steps over a reversed interval", NewStepCount(0, at, at.Add(-time.Minute)), ErrTime, "time_interval"},
		{"steps in count", withUnit(steps(10, time.Minute), "count"), ErrUnit, "step_count.unit"},
		{"steps at an instant", Reading{Kind: StepCount, Value: 10, Unit: UnitSteps, TimeFrame: Instant(at)}, ErrTime, "time_interval"},
		{"steps without end", Reading{Kind: StepCount, Value: 10, Unit: UnitSteps, TimeFrame: TimeFrame{Start: at}}, ErrTime, "time_interval"},
		{"heart rate over an interval", Reading{Kind: HeartRate, Value: 72, Unit: UnitBeatsPerMinute, TimeFrame: Interval(at.Add(-time.Minute), at)}, ErrTime, "date_time"},
		{"heart rate with both frames", Reading{Kind: HeartRate, Value: 72, Unit: UnitBeatsPerMinute, TimeFrame: TimeFrame{At: at, Start: at, End: at}}, ErrTime, "date_time"},
		{"heart rate without time", NewHeartRate(72, time.Time{}), ErrTime, "date_time"},
		{"diastolic on a heart rate", Reading{Kind: HeartRate, Value: 72, Diastolic: 80, Unit: UnitBeatsPerMinute, TimeFrame: Instant(at)}, ErrFormat, "diastolic"},

		{"at the clock-skew limit", NewHeartRate(72, now.Add(skew)), nil, ""},
		{"past the clock-skew limit", NewHeartRate(72, now.Add(skew+1)), ErrTime, "effective_time_frame.date_time"},
		{"at the age limit", NewHeartRate(72, now.Add(-age)), nil, ""},
		{"past the age limit", NewHeartRate(72, now.Add(-age-1)), ErrTime, "effective_time_frame.date_time"},
		{"steps ending past the skew limit", NewStepCount(10, now, now.Add(skew+1)), ErrTime, "end_date_time"},
		{"steps starting past the age limit", NewStepCount(10, now.Add(-age-1), now.Add(-age+time.Minute)), ErrTime, "start_date_time"},
		{"year 2300", NewHeartRate(72, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)), ErrTime, "date_time"},

		{"kind 0", Reading{Value: 72, Unit: UnitBeatsPerMinute, TimeFrame: Instant(at)}, ErrUnknownKind, "kind"},
		{"kind 99", Reading{Kind: 99, Value: 72, Unit: UnitBeatsPerMinute, TimeFrame: Instant(at)}, ErrUnknownKind, "kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate(now, skew, age)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %q, want the message to name %q", err, tc.field)
			}
		})
	}
}

func TestValidateWindowParameters(t *testing.T) {
	r := NewHeartRate(72, now)
	for _, tc := range []struct {
		name            string
		maxSkew, maxAge time.Duration
		want            error
	}{
		{"defaults", DefaultMaxSkew, DefaultMaxAge, nil},
		{"no skew allowed", 0, time.Hour, nil},
		{"negative skew", -time.Second, time.Hour, ErrTime},
		{"zero age", time.Minute, 0, ErrTime},
		{"negative age", time.Minute, -time.Hour, ErrTime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.Validate(now, tc.maxSkew, tc.maxAge); !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKindNames(t *testing.T) {
	for _, k := range Kinds() {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v, want %v", k.String(), got, err, k)
		}
	}
	for _, name := range []string{"", "Heart-Rate", "heart_rate", "kind(1)", "blood-glucose"} {
		if _, err := ParseKind(name); !errors.Is(err, ErrUnknownKind) {
			t.Errorf("ParseKind(%q) = %v, want ErrUnknownKind", name, err)
		}
	}
	if got := Kind(0).String(); got != "kind(0)" {
		t.Errorf("Kind(0).String() = %q", got)
	}
}
