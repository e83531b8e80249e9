package mhealth

import (
	"fmt"
	"math"
	"time"
)

// Defaults for the time rules of Validate.
const (
	// DefaultMaxSkew is how far in the future a reading's time may be: the
	// drift a device clock may have between synchronisations.
	DefaultMaxSkew = 2 * time.Minute
	// DefaultMaxAge is how old a reading may be when it arrives: a device may
	// be offline for some days and upload what it buffered.
	DefaultMaxAge = 7 * 24 * time.Hour
	// MaxInterval is the longest interval a step count may cover.
	MaxInterval = 24 * time.Hour
)

// Reading is one measurement in an Open mHealth shape. The device that made it
// is named by the Batch that carries it.
type Reading struct {
	Kind Kind
	// Value is the measurement in Unit: beats/min, the systolic pressure for
	// blood pressure, % SpO2, °C, or the number of steps (a whole number).
	Value float64
	// Diastolic is the diastolic pressure of a blood-pressure reading and
	// zero for every other kind.
	Diastolic float64
	// Unit is the kind's canonical unit (Kind.Unit); Validate refuses any other.
	Unit string
	// TimeFrame is when the measurement applies: an instant for every kind
	// but StepCount, an interval for StepCount.
	TimeFrame TimeFrame
}

// TimeFrame is an Open mHealth effective time frame: either an instant (At)
// or an interval (Start to End), never both.
type TimeFrame struct {
	// At is the instant of a point measurement; zero for an interval.
	At time.Time
	// Start and End bound an interval, Start before End; zero for an instant.
	Start, End time.Time
}

// Instant is the time frame of a point measurement at t.
func Instant(t time.Time) TimeFrame { return TimeFrame{At: t} }

// Interval is the time frame of a measurement over start to end.
func Interval(start, end time.Time) TimeFrame { return TimeFrame{Start: start, End: end} }

// IsInterval reports whether f is an interval rather than an instant.
func (f TimeFrame) IsInterval() bool { return !f.Start.IsZero() || !f.End.IsZero() }

// Begin is when the time frame starts: its instant, or its interval's start.
func (f TimeFrame) Begin() time.Time {
	if f.IsInterval() {
		return f.Start
	}
	return f.At
}

// NewHeartRate returns a heart-rate reading of bpm beats/min at at.
func NewHeartRate(bpm float64, at time.Time) Reading {
	return Reading{Kind: HeartRate, Value: bpm, Unit: UnitBeatsPerMinute, TimeFrame: Instant(at)}
}

// NewBloodPressure returns a blood-pressure reading in mmHg at at.
func NewBloodPressure(systolic, diastolic float64, at time.Time) Reading {
	return Reading{Kind: BloodPressure, Value: systolic, Diastolic: diastolic, Unit: UnitMmHg, TimeFrame: Instant(at)}
}

// NewOxygenSaturation returns an SpO2 reading of percent % at at.
func NewOxygenSaturation(percent float64, at time.Time) Reading {
	return Reading{Kind: OxygenSaturation, Value: percent, Unit: UnitPercent, TimeFrame: Instant(at)}
}

// NewBodyTemperature returns a body-temperature reading of celsius °C at at.
func NewBodyTemperature(celsius float64, at time.Time) Reading {
	return Reading{Kind: BodyTemperature, Value: celsius, Unit: UnitCelsius, TimeFrame: Instant(at)}
}

// NewStepCount returns a step-count reading of steps over start to end.
func NewStepCount(steps int64, start, end time.Time) Reading {
	return Reading{Kind: StepCount, Value: float64(steps), Unit: UnitSteps, TimeFrame: Interval(start, end)}
}

// Validate checks that r is a plausible reading received at now: its kind is
// known, its unit is the kind's canonical unit, its values are inside the
// plausible ranges documented in kind.go, and its time frame has the form the
// kind needs, is at most maxSkew after now and at most maxAge before now (a
// step count's whole interval must lie in that window). maxSkew must not be
// negative and maxAge must be positive. The error wraps ErrUnknownKind,
// ErrUnit, ErrImplausible, ErrTime or ErrFormat and names the field and rule.
func (r Reading) Validate(now time.Time, maxSkew, maxAge time.Duration) error {
	if maxSkew < 0 || maxAge <= 0 {
		return fmt.Errorf("%w: validation window: maxSkew %v must not be negative and maxAge %v must be positive", ErrTime, maxSkew, maxAge)
	}
	s, err := r.checkShape()
	if err != nil {
		return err
	}
	if r.Unit != s.unit {
		return fmt.Errorf("%w: %s.unit %q: a %s reading is in %q", ErrUnit, s.body, r.Unit, s.name, s.unit)
	}
	if err := r.checkValues(s); err != nil {
		return err
	}
	return r.checkTimes(s, now, maxSkew, maxAge)
}

// checkShape checks what every encoding needs: a known kind, the time frame
// form of the kind, and no field the kind does not use (it would be lost).
func (r Reading) checkShape() (*spec, error) {
	s, ok := r.Kind.spec()
	if !ok {
		return nil, fmt.Errorf("%w: kind %d: must be one of heart-rate, blood-pressure, oxygen-saturation, body-temperature, step-count", ErrUnknownKind, uint8(r.Kind))
	}
	if r.Kind != BloodPressure && r.Diastolic != 0 {
		return nil, fmt.Errorf("%w: %s: a diastolic value belongs to blood-pressure readings only", ErrFormat, s.name)
	}
	f := r.TimeFrame
	if s.interval {
		if !f.At.IsZero() || f.Start.IsZero() || f.End.IsZero() {
			return nil, fmt.Errorf("%w: effective_time_frame: a %s reading needs a time_interval (start and end) and no date_time", ErrTime, s.name)
		}
		if err := checkRepresentable("effective_time_frame.time_interval.start_date_time", f.Start); err != nil {
			return nil, err
		}
		if err := checkRepresentable("effective_time_frame.time_interval.end_date_time", f.End); err != nil {
			return nil, err
		}
		return s, nil
	}
	if f.At.IsZero() || f.IsInterval() {
		return nil, fmt.Errorf("%w: effective_time_frame: a %s reading needs a date_time and no time_interval", ErrTime, s.name)
	}
	return s, checkRepresentable("effective_time_frame.date_time", f.At)
}

// The times a reading may carry: those representable as int64 Unix
// nanoseconds, as the binary encoding stores them (1677-09-21 to 2262-04-11).
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

func checkRepresentable(field string, t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("%w: %s %s: must be between %s and %s", ErrTime, field, t.Format(time.RFC3339), minTime.Format(time.RFC3339), maxTime.Format(time.RFC3339))
	}
	return nil
}

// maxExactSteps is the largest step count a float64 holds exactly (2^53).
const maxExactSteps = 1 << 53

// checkValues checks the values against the plausible ranges. Comparisons are
// written so NaN fails every one.
func (r Reading) checkValues(s *spec) error {
	v := r.Value
	switch r.Kind {
	case BloodPressure:
		if !(v >= minSystolic && v <= maxSystolic) {
			return fmt.Errorf("%w: systolic_blood_pressure.value %g mmHg: must be %d to %d", ErrImplausible, v, minSystolic, maxSystolic)
		}
		d := r.Diastolic
		if !(d >= minDiastolic && d <= maxDiastolic) {
			return fmt.Errorf("%w: diastolic_blood_pressure.value %g mmHg: must be %d to %d", ErrImplausible, d, minDiastolic, maxDiastolic)
		}
		if !(v > d) {
			return fmt.Errorf("%w: systolic_blood_pressure.value %g mmHg: must be above diastolic_blood_pressure.value %g mmHg", ErrImplausible, v, d)
		}
		return nil
	case StepCount:
		f := r.TimeFrame
		if !f.Start.Before(f.End) {
			return fmt.Errorf("%w: effective_time_frame.time_interval: start_date_time %s must be before end_date_time %s", ErrTime, f.Start.Format(time.RFC3339Nano), f.End.Format(time.RFC3339Nano))
		}
		d := f.End.Sub(f.Start)
		if d > MaxInterval {
			return fmt.Errorf("%w: effective_time_frame.time_interval: %v long, a step count covers at most %v", ErrTime, d, MaxInterval)
		}
		limit := d.Seconds() * maxStepsPerSecond
		if !(v >= 0 && v <= limit) || v != math.Trunc(v) {
			return fmt.Errorf("%w: step_count.value %g steps: must be a whole number from 0 to %d per second of the %v interval (%g)", ErrImplausible, v, maxStepsPerSecond, d, math.Floor(limit))
		}
		return nil
	default:
		if !(v >= s.min && v <= s.max) {
			return fmt.Errorf("%w: %s.value %g %s: must be %g to %g", ErrImplausible, s.body, v, s.unit, s.min, s.max)
		}
		return nil
	}
}

// checkTimes checks the time frame against the window [now-maxAge, now+maxSkew].
func (r Reading) checkTimes(s *spec, now time.Time, maxSkew, maxAge time.Duration) error {
	latest, earliest := now.Add(maxSkew), now.Add(-maxAge)
	first, last := r.TimeFrame.At, r.TimeFrame.At
	firstField, lastField := "effective_time_frame.date_time", "effective_time_frame.date_time"
	if s.interval {
		first, last = r.TimeFrame.Start, r.TimeFrame.End
		firstField, lastField = "effective_time_frame.time_interval.start_date_time", "effective_time_frame.time_interval.end_date_time"
	}
	if last.After(latest) {
		return fmt.Errorf("%w: %s %s: is %v after now, more than the allowed clock skew of %v", ErrTime, lastField, last.Format(time.RFC3339Nano), last.Sub(now), maxSkew)
	}
	if first.Before(earliest) {
		return fmt.Errorf("%w: %s %s: is %v before now, older than the allowed %v", ErrTime, firstField, first.Format(time.RFC3339Nano), now.Sub(first), maxAge)
	}
	return nil
}
