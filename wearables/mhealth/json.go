package mhealth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// The JSON form of a reading is an Open mHealth data point body with a "kind"
// naming its schema, for example
//
//	{"kind":"heart-rate","heart_rate":{"value":72,"unit":"beats/min"},
//	 "effective_time_frame":{"date_time":"2025-06-01T12:00:00Z"}}
//	{"kind":"blood-pressure",
//	 "systolic_blood_pressure":{"value":120,"unit":"mmHg"},
//	 "diastolic_blood_pressure":{"value":80,"unit":"mmHg"},
//	 "effective_time_frame":{"date_time":"2025-06-01T12:00:00Z"}}
//	{"kind":"step-count","step_count":{"value":120,"unit":"steps"},
//	 "effective_time_frame":{"time_interval":{
//	   "start_date_time":"2025-06-01T12:00:00Z","end_date_time":"2025-06-01T12:01:00Z"}}}
//
// Times are RFC 3339 and come back in UTC.

type unitValueJSON struct {
	Value *float64 `json:"value"`
	Unit  *string  `json:"unit"`
}

type timeIntervalJSON struct {
	Start *string `json:"start_date_time"`
	End   *string `json:"end_date_time"`
}

type timeFrameJSON struct {
	DateTime     *string           `json:"date_time,omitempty"`
	TimeInterval *timeIntervalJSON `json:"time_interval,omitempty"`
}

type readingJSON struct {
	Kind               *string        `json:"kind"`
	HeartRate          *unitValueJSON `json:"heart_rate,omitempty"`
	Systolic           *unitValueJSON `json:"systolic_blood_pressure,omitempty"`
	Diastolic          *unitValueJSON `json:"diastolic_blood_pressure,omitempty"`
	OxygenSaturation   *unitValueJSON `json:"oxygen_saturation,omitempty"`
	BodyTemperature    *unitValueJSON `json:"body_temperature,omitempty"`
	StepCount          *unitValueJSON `json:"step_count,omitempty"`
	EffectiveTimeFrame *timeFrameJSON `json:"effective_time_frame"`
}

// jsonKeys is every key the JSON form has, at any depth. encoding/json
// matches keys case-insensitively and lets a duplicate key win silently;
// UnmarshalJSON refuses both, so two parsers can never read one document
// differently.
var jsonKeys = map[string]bool{
	"kind": true, "heart_rate": true, "systolic_blood_pressure": true, "diastolic_blood_pressure": true,
	"oxygen_saturation": true, "body_temperature": true, "step_count": true, "value": true, "unit": true,
	"effective_time_frame": true, "date_time": true, "time_interval": true,
	"start_date_time": true, "end_date_time": true,
}

// bodies returns the value objects of w by JSON key.
func (w *readingJSON) bodies() map[string]*unitValueJSON {
	return map[string]*unitValueJSON{
		"heart_rate": w.HeartRate, "systolic_blood_pressure": w.Systolic, diastolicBody: w.Diastolic,
		"oxygen_saturation": w.OxygenSaturation, "body_temperature": w.BodyTemperature, "step_count": w.StepCount,
	}
}

// MarshalJSON encodes r in its Open mHealth shape. It refuses a reading of an
// unknown kind, with a time frame of the wrong form or a field its kind does
// not use, since the JSON would not say the same thing as r.
func (r Reading) MarshalJSON() ([]byte, error) {
	s, err := r.checkShape()
	if err != nil {
		return nil, err
	}
	name := s.name
	w := readingJSON{Kind: &name}
	body := &unitValueJSON{Value: &r.Value, Unit: &r.Unit}
	switch r.Kind {
	case HeartRate:
		w.HeartRate = body
	case BloodPressure:
		w.Systolic = body
		w.Diastolic = &unitValueJSON{Value: &r.Diastolic, Unit: &r.Unit}
	case OxygenSaturation:
		w.OxygenSaturation = body
	case BodyTemperature:
		w.BodyTemperature = body
	case StepCount:
		w.StepCount = body
	}
	if s.interval {
		start, end := formatTime(r.TimeFrame.Start), formatTime(r.TimeFrame.End)
		w.EffectiveTimeFrame = &timeFrameJSON{TimeInterval: &timeIntervalJSON{Start: &start, End: &end}}
	} else {
		at := formatTime(r.TimeFrame.At)
		w.EffectiveTimeFrame = &timeFrameJSON{DateTime: &at}
	}
	data, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFormat, s.name, err)
	}
	return data, nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// UnmarshalJSON decodes exactly one reading in its Open mHealth shape. It is
// strict: unknown, duplicate or differently cased keys, null, trailing data,
// a value object that does not belong to the kind, a missing value or unit,
// a time frame of the wrong form, a time the binary form cannot carry, and
// blood pressure in two different units are refused. Otherwise it checks the
// shape only: the unit, the ranges and the time window are Validate's, so a
// caller can refuse one reading with its own error. On error r is unchanged.
func (r *Reading) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return fmt.Errorf("%w: a reading must be an object, not null", ErrFormat)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w readingJSON
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("%w: reading JSON: %w", ErrFormat, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: unexpected data after the reading", ErrFormat)
	}
	if err := checkKeys(data); err != nil {
		return err
	}
	if w.Kind == nil {
		return fmt.Errorf("%w: missing kind", ErrFormat)
	}
	kind, err := ParseKind(*w.Kind)
	if err != nil {
		return err
	}
	s := &specs[kind]
	out := Reading{Kind: kind}
	for key, body := range w.bodies() {
		wanted := key == s.body || (kind == BloodPressure && key == diastolicBody)
		switch {
		case wanted && body == nil:
			return fmt.Errorf("%w: missing %s in a %s reading", ErrFormat, key, s.name)
		case !wanted && body != nil:
			return fmt.Errorf("%w: %s does not belong in a %s reading", ErrFormat, key, s.name)
		case !wanted:
			continue
		}
		if body.Value == nil || body.Unit == nil {
			return fmt.Errorf("%w: %s needs a value and a unit", ErrFormat, key)
		}
		if key == diastolicBody {
			out.Diastolic = *body.Value
		} else {
			out.Value, out.Unit = *body.Value, *body.Unit
		}
	}
	if kind == BloodPressure && *w.Systolic.Unit != *w.Diastolic.Unit {
		return fmt.Errorf("%w: systolic_blood_pressure.unit %q and diastolic_blood_pressure.unit %q differ", ErrUnit, *w.Systolic.Unit, *w.Diastolic.Unit)
	}
	if out.TimeFrame, err = parseTimeFrame(w.EffectiveTimeFrame, s); err != nil {
		return err
	}
	*r = out
	return nil
}

func parseTimeFrame(f *timeFrameJSON, s *spec) (TimeFrame, error) {
	if f == nil {
		return TimeFrame{}, fmt.Errorf("%w: missing effective_time_frame", ErrFormat)
	}
	if s.interval {
		if f.DateTime != nil || f.TimeInterval == nil {
			return TimeFrame{}, fmt.Errorf("%w: effective_time_frame: a %s reading needs a time_interval and no date_time", ErrTime, s.name)
		}
		start, err := parseTime("effective_time_frame.time_interval.start_date_time", f.TimeInterval.Start)
		if err != nil {
			return TimeFrame{}, err
		}
		end, err := parseTime("effective_time_frame.time_interval.end_date_time", f.TimeInterval.End)
		if err != nil {
			return TimeFrame{}, err
		}
		return Interval(start, end), nil
	}
	if f.TimeInterval != nil || f.DateTime == nil {
		return TimeFrame{}, fmt.Errorf("%w: effective_time_frame: a %s reading needs a date_time and no time_interval", ErrTime, s.name)
	}
	at, err := parseTime("effective_time_frame.date_time", f.DateTime)
	if err != nil {
		return TimeFrame{}, err
	}
	return Instant(at), nil
}

func parseTime(field string, v *string) (time.Time, error) {
	if v == nil {
		return time.Time{}, fmt.Errorf("%w: missing %s", ErrFormat, field)
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q: must be an RFC 3339 time", ErrFormat, field, *v)
	}
	t = t.UTC()
	if err := checkRepresentable(field, t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// checkKeys refuses keys that are not spelled exactly as in jsonKeys and
// duplicate keys in one object. data has already been decoded into
// readingJSON, so it is well-formed and at most a few levels deep.
func checkKeys(data []byte) error {
	type frame struct {
		keys    map[string]bool // keys seen so far; nil in an array
		wantKey bool            // in an object, the next token is a key
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: reading JSON: %w", ErrFormat, err)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			key, _ := tok.(string)
			top := stack[n-1]
			if !jsonKeys[key] {
				return fmt.Errorf("%w: unknown field %q", ErrFormat, key)
			}
			if top.keys[key] {
				return fmt.Errorf("%w: duplicate field %q", ErrFormat, key)
			}
			top.keys[key] = true
			top.wantKey = false
			continue
		}
		valueDone()
	}
}
