package sim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"healthexchange/wearables/mhealth"
)

// Generator makes one device's readings, in the order they become known,
// from a start time on: heart rate about once a second (a bounded random walk
// from 55 to 110 beats/min, higher during workouts), blood pressure around
// 08:00, 14:00 and 20:00, SpO2 every 3 to 6 minutes (94–99 %), body
// temperature about every 15 minutes (36.2–37.4 °C) and the steps of every
// minute (none at night, walking bouts and workouts by day). The same seed
// and start give the same readings. Every reading passes mhealth Validate at
// any time from its own time to mhealth.DefaultMaxAge after it, unless it is
// one of the implausible readings WithImplausible asks for.
//
// A Generator is not safe for concurrent use.
type Generator struct {
	seed        uint64
	rng         *rand.Rand // values and schedule
	bad         *rand.Rand // which readings are made implausible, and how
	implausible float64
	loc         *time.Location

	bpm, tempDrift float64

	// When the next reading of each stream is known; for steps, the end of
	// the minute it counts.
	due [numStreams]time.Time
}

// The streams, in the order readings due at the same time come out.
const (
	streamHeartRate = iota
	streamBloodPressure
	streamOxygen
	streamTemperature
	streamSteps
	numStreams
)

// GenOption configures a Generator.
type GenOption func(*Generator) error

// WithImplausible makes about fraction (0 to 1) of the readings implausible,
// so that Validate refuses them with mhealth.ErrImplausible: a heart rate of
// 300 or 12, blood pressure with systolic below diastolic, SpO2 of 104 %, a
// Fahrenheit temperature sent as Celsius, 400 steps in a minute. Which
// readings is decided by its own random source, so the plausible readings are
// the same as without the option.
func WithImplausible(fraction float64) GenOption {
	return func(g *Generator) error {
		if !(fraction >= 0 && fraction <= 1) {
			return fmt.Errorf("%w: implausible fraction %v: must be 0 to 1", ErrConfig, fraction)
		}
		g.implausible = fraction
		return nil
	}
}

// WithLocation sets the wearer's time zone, which decides night and day
// (default UTC).
func WithLocation(loc *time.Location) GenOption {
	return func(g *Generator) error {
		if loc == nil {
			return fmt.Errorf("%w: nil location", ErrConfig)
		}
		g.loc = loc
		return nil
	}
}

// NewGenerator returns a generator of the readings from start (truncated to
// the second) on.
func NewGenerator(seed uint64, start time.Time, opts ...GenOption) (*Generator, error) {
	if start.IsZero() {
		return nil, errors.New("sim: generator start time is zero")
	}
	g := &Generator{
		seed: seed,
		rng:  rand.New(rand.NewPCG(seed, 0x5eed_0f_7ea1)),
		bad:  rand.New(rand.NewPCG(seed, 0xbad_0_ba7c)),
		loc:  time.UTC,
	}
	for _, o := range opts {
		if err := o(g); err != nil {
			return nil, err
		}
	}
	start = start.UTC().Truncate(time.Second)
	act, intensity := g.activityAt(start)
	g.bpm = heartTarget(act, intensity)
	g.due[streamHeartRate] = start
	g.due[streamBloodPressure] = g.nextBloodPressure(start)
	g.due[streamOxygen] = start.Add(time.Duration(g.rng.IntN(180)) * time.Second)
	g.due[streamTemperature] = start.Add(time.Duration(g.rng.IntN(900)) * time.Second)
	minute := start.Truncate(time.Minute)
	if minute.Before(start) {
		minute = minute.Add(time.Minute)
	}
	g.due[streamSteps] = minute.Add(time.Minute)
	return g, nil
}

// DeviceSeed is the generator seed of one device of a run seeded with seed,
// so the devices of a fleet differ and each is reproducible on its own.
func DeviceSeed(seed uint64, deviceID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(deviceID))
	return mix(seed, h.Sum64(), 3)
}

// Due is when the next reading is known: its time, or the end of a step
// count's interval. Readings come out in order of Due.
func (g *Generator) Due() time.Time {
	return g.due[g.nextStream()]
}

func (g *Generator) nextStream() int {
	next := 0
	for s := 1; s < numStreams; s++ {
		if g.due[s].Before(g.due[next]) {
			next = s
		}
	}
	return next
}

// Next returns the next reading and schedules the one after it.
func (g *Generator) Next() mhealth.Reading {
	s := g.nextStream()
	at := g.due[s]
	act, intensity := g.activityAt(at)
	var r mhealth.Reading
	switch s {
	case streamHeartRate:
		r = mhealth.NewHeartRate(g.heartRate(act, intensity), at)
		g.due[s] = at.Add(900*time.Millisecond + time.Duration(g.rng.IntN(201))*time.Millisecond)
	case streamBloodPressure:
		r = g.bloodPressure(act, at)
		g.due[s] = g.nextBloodPressure(at)
	case streamOxygen:
		spo2 := 97.2 + 0.9*g.rng.NormFloat64()
		if act == asleep {
			spo2 -= 0.7
		}
		r = mhealth.NewOxygenSaturation(clamp(math.Round(spo2), 94, 99), at)
		g.due[s] = at.Add(3*time.Minute + time.Duration(g.rng.IntN(181))*time.Second)
	case streamTemperature:
		r = mhealth.NewBodyTemperature(g.temperature(act, at), at)
		g.due[s] = at.Add(13*time.Minute + 30*time.Second + time.Duration(g.rng.IntN(181))*time.Second)
	case streamSteps:
		start := at.Add(-time.Minute)
		act, _ = g.activityAt(start)
		r = mhealth.NewStepCount(g.steps(act), start, at)
		g.due[s] = at.Add(time.Minute)
	}
	if g.implausible > 0 && g.bad.Float64() < g.implausible {
		r = g.corrupt(r)
	}
	return r
}

// heartTarget is the rate the random walk is drawn to.
func heartTarget(act activity, intensity float64) float64 {
	switch act {
	case asleep:
		return 60
	case walking:
		return 92
	case exercising:
		return 125 + 30*intensity
	default:
		return 71
	}
}

// heartRate steps the random walk: bounded to 55–110 except in a workout
// (up to 175) and while recovering from one (only down).
func (g *Generator) heartRate(act activity, intensity float64) float64 {
	next := g.bpm + 0.08*(heartTarget(act, intensity)-g.bpm) + 1.1*g.rng.NormFloat64()
	switch {
	case act == exercising:
		next = clamp(next, 55, 175)
	case g.bpm > 110:
		next = clamp(next, 55, g.bpm)
	default:
		next = clamp(next, 55, 110)
	}
	g.bpm = next
	return math.Round(next)
}

// bloodPressureHours are when the wearer takes a measurement, ±30 minutes.
var bloodPressureHours = [...]int{8, 14, 20}

// nextBloodPressure is the first measurement time after t.
func (g *Generator) nextBloodPressure(t time.Time) time.Time {
	y, m, d := t.In(g.loc).Date()
	for day := 0; ; day++ {
		for _, h := range bloodPressureHours {
			slot := time.Date(y, m, d+day, h, 0, 0, 0, g.loc)
			if slot.Add(-30 * time.Minute).After(t) {
				jitter := time.Duration(g.rng.IntN(3600))*time.Second - 30*time.Minute
				return slot.Add(jitter).UTC()
			}
		}
	}
}

func (g *Generator) bloodPressure(act activity, at time.Time) mhealth.Reading {
	sys := 118 + 7*g.rng.NormFloat64()
	if act == exercising {
		sys += 12
	}
	dia := math.Round(clamp(76+5*g.rng.NormFloat64(), 60, 92))
	sys = math.Round(clamp(sys, max(100, dia+25), 150))
	return mhealth.NewBloodPressure(sys, dia, at)
}

// temperature follows the circadian rhythm (lowest about 04:00, highest
// about 16:00) with a slow drift, warmer in a workout, to 0.1 °C.
func (g *Generator) temperature(act activity, at time.Time) float64 {
	local := at.In(g.loc)
	hour := float64(local.Hour()) + float64(local.Minute())/60
	g.tempDrift += 0.03*g.rng.NormFloat64() - 0.1*g.tempDrift
	t := 36.8 + 0.25*math.Sin(2*math.Pi*(hour-10)/24) + g.tempDrift
	if act == exercising {
		t += 0.3
	}
	return math.Round(clamp(t, 36.2, 37.4)*10) / 10
}

// steps is one minute's count.
func (g *Generator) steps(act activity) int64 {
	switch act {
	case asleep:
		return 0
	case exercising:
		return 130 + g.rng.Int64N(41)
	case walking:
		return 70 + g.rng.Int64N(46)
	default:
		if g.rng.IntN(3) == 0 {
			return g.rng.Int64N(25)
		}
		return 0
	}
}

// corrupt makes r implausible the way a faulty sensor or device would.
func (g *Generator) corrupt(r mhealth.Reading) mhealth.Reading {
	switch r.Kind {
	case mhealth.HeartRate:
		r.Value = 300
		if g.bad.IntN(2) == 0 {
			r.Value = 12
		}
	case mhealth.BloodPressure:
		r.Value, r.Diastolic = r.Diastolic, r.Value
	case mhealth.OxygenSaturation:
		r.Value = 104
	case mhealth.BodyTemperature:
		r.Value = math.Round((r.Value*9/5+32)*10) / 10
	case mhealth.StepCount:
		r.Value = 400
	}
	return r
}

func clamp(v, lo, hi float64) float64 { return min(max(v, lo), hi) }
