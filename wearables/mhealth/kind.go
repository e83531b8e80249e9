package mhealth

import "fmt"

// Kind is the kind of a reading. Its numeric value is the kind byte of the
// binary encoding, so existing values must never change.
type Kind uint8

// The kinds of reading, named as the Open mHealth schemas they follow
// (omh:heart-rate, omh:blood-pressure, ...).
const (
	HeartRate        Kind = 1 // beats/min at an instant
	BloodPressure    Kind = 2 // systolic and diastolic mmHg at an instant
	OxygenSaturation Kind = 3 // SpO2 in % at an instant
	BodyTemperature  Kind = 4 // degrees Celsius at an instant
	StepCount        Kind = 5 // steps over a time interval
)

// Canonical units, exactly as Open mHealth spells them. Each kind has one
// unit and no other is accepted: body temperature is Celsius only (a device
// that measures Fahrenheit converts, c = (f-32)*5/9, before it builds the
// reading), so plausibility rules, storage and research queries never have to
// convert.
const (
	UnitBeatsPerMinute = "beats/min"
	UnitMmHg           = "mmHg"
	UnitPercent        = "%"
	UnitCelsius        = "C"
	UnitSteps          = "steps"
)

// spec is what the package knows about a kind.
type spec struct {
	name     string // Open mHealth schema name, the JSON "kind"
	body     string // JSON key of the value (systolic for blood pressure)
	unit     string
	min, max float64 // plausible range of the value, inclusive
	interval bool    // effective time frame is an interval, not an instant
}

// Plausible ranges, inclusive. They are wide on purpose: they catch sensor
// faults, unit mix-ups and corrupted or forged data, not clinical alarms, so
// an extreme but real measurement is never dropped.
//   - heart rate 20–250 beats/min: below 20 a wrist or chest sensor is not
//     measuring a beating heart; 250 is above any sustained sinus or
//     supraventricular rate in adults.
//   - blood pressure systolic 50–260 and diastolic 20–160 mmHg, and systolic
//     strictly above diastolic: the limits of validated automatic cuffs; equal
//     or inverted values are a swapped or failed measurement.
//   - oxygen saturation 50–100 %: pulse oximeters are not calibrated below
//     about 70 % and cannot read above 100 %.
//   - body temperature 30–45 °C: below is severe hypothermia that a wearable
//     cannot tell from a detached sensor, above is not survivable; 30–45 also
//     rejects a Fahrenheit value (86–113) sent as Celsius in most cases.
//   - step count 0 to 5 steps per second of its interval, interval at most
//     24 h: 5 Hz is above the cadence of a sprinting athlete.
const (
	minSystolic, maxSystolic   = 50, 260
	minDiastolic, maxDiastolic = 20, 160
	maxStepsPerSecond          = 5
)

var specs = [...]spec{
	HeartRate:        {name: "heart-rate", body: "heart_rate", unit: UnitBeatsPerMinute, min: 20, max: 250},
	BloodPressure:    {name: "blood-pressure", body: "systolic_blood_pressure", unit: UnitMmHg, min: minSystolic, max: maxSystolic},
	OxygenSaturation: {name: "oxygen-saturation", body: "oxygen_saturation", unit: UnitPercent, min: 50, max: 100},
	BodyTemperature:  {name: "body-temperature", body: "body_temperature", unit: UnitCelsius, min: 30, max: 45},
	StepCount:        {name: "step-count", body: "step_count", unit: UnitSteps, min: 0, interval: true},
}

// diastolicBody is the JSON key of the diastolic pressure.
const diastolicBody = "diastolic_blood_pressure"

// Kinds lists every kind, in kind-byte order.
func Kinds() []Kind {
	return []Kind{HeartRate, BloodPressure, OxygenSaturation, BodyTemperature, StepCount}
}

func (k Kind) spec() (*spec, bool) {
	if k == 0 || int(k) >= len(specs) {
		return nil, false
	}
	return &specs[k], true
}

// String returns the Open mHealth name of the kind, e.g. "heart-rate".
func (k Kind) String() string {
	if s, ok := k.spec(); ok {
		return s.name
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Unit returns the canonical unit of the kind, or "" for an unknown kind.
func (k Kind) Unit() string {
	if s, ok := k.spec(); ok {
		return s.unit
	}
	return ""
}

// ParseKind returns the kind named name (its Open mHealth name).
func ParseKind(name string) (Kind, error) {
	for _, k := range Kinds() {
		if specs[k].name == name {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: kind %q: must be one of heart-rate, blood-pressure, oxygen-saturation, body-temperature, step-count", ErrUnknownKind, name)
}
