package mhealth

import (
	"crypto/ed25519"
	"crypto/sha256"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// now is the fixed "current time" of the tests.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

const (
	idFirst = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	idRest  = idFirst + "._:@-"
)

func randomID(rng *rand.Rand) string {
	n := 1 + rng.IntN(maxIDLen)
	if rng.IntN(2) == 0 {
		n = 1 + rng.IntN(16)
	}
	var sb strings.Builder
	sb.WriteByte(idFirst[rng.IntN(len(idFirst))])
	for range n - 1 {
		sb.WriteByte(idRest[rng.IntN(len(idRest))])
	}
	return sb.String()
}

// plausibleReading returns a reading that passes Validate at now.
func plausibleReading(rng *rand.Rand) Reading {
	at := now.Add(-time.Duration(rng.Int64N(int64(time.Hour))))
	switch Kinds()[rng.IntN(len(Kinds()))] {
	case HeartRate:
		return NewHeartRate(float64(40+rng.IntN(140)), at)
	case BloodPressure:
		dia := 60 + rng.Float64()*30
		return NewBloodPressure(dia+20+rng.Float64()*60, dia, at)
	case OxygenSaturation:
		return NewOxygenSaturation(90+rng.Float64()*10, at)
	case BodyTemperature:
		return NewBodyTemperature(36+rng.Float64()*2, at)
	default:
		return NewStepCount(rng.Int64N(300), at.Add(-time.Minute), at)
	}
}

// arbitraryReading returns any reading the binary form can carry: finite
// values and times anywhere in the int64 nanosecond range.
func arbitraryReading(rng *rand.Rand) Reading {
	anyTime := func() time.Time { return time.Unix(0, int64(rng.Uint64())).UTC() }
	anyFloat := func() float64 {
		for {
			if f := math.Float64frombits(rng.Uint64()); !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f
			}
		}
	}
	k := Kinds()[rng.IntN(len(Kinds()))]
	r := Reading{Kind: k, Unit: k.Unit(), Value: anyFloat(), TimeFrame: Instant(anyTime())}
	switch k {
	case BloodPressure:
		r.Diastolic = anyFloat()
	case StepCount:
		r.Value = float64(rng.Int64N(2*maxExactSteps+1) - maxExactSteps)
		r.TimeFrame = Interval(anyTime(), anyTime())
	}
	return r
}

func randomBatch(rng *rand.Rand, n int, reading func(*rand.Rand) Reading) Batch {
	b := Batch{DeviceID: randomID(rng), PatientID: randomID(rng), Seq: 1 + rng.Uint64N(math.MaxUint64), Readings: make([]Reading, n)}
	for i := range b.Readings {
		b.Readings[i] = reading(rng)
	}
	return b
}
