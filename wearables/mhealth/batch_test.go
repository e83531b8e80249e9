package mhealth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"healthexchange/chaincode/ledgerapi"
)

// TestEncodeLayout pins the version 1 layout byte by byte: a change here is a
// change of the wire format and needs a new version.
func TestEncodeLayout(t *testing.T) {
	at := time.Unix(0, 0x0102030405060708).UTC()
	b := Batch{DeviceID: "dev-1", PatientID: "p1", Seq: 7, Readings: []Reading{
		NewHeartRate(72, at),
		NewBloodPressure(120, 80, at),
		NewStepCount(42, at, at.Add(time.Minute)),
	}}
	var want []byte
	want = append(want, "HXWB"...)
	want = append(want, 1)
	want = append(want, 5, 'd', 'e', 'v', '-', '1')
	want = append(want, 2, 'p', '1')
	want = binary.BigEndian.AppendUint64(want, 7)
	want = binary.BigEndian.AppendUint16(want, 3)
	want = append(want, 1, 1, 2, 3, 4, 5, 6, 7, 8)
	want = binary.BigEndian.AppendUint64(want, math.Float64bits(72))
	want = append(want, 2, 1, 2, 3, 4, 5, 6, 7, 8)
	want = binary.BigEndian.AppendUint64(want, math.Float64bits(120))
	want = binary.BigEndian.AppendUint64(want, math.Float64bits(80))
	want = append(want, 5, 1, 2, 3, 4, 5, 6, 7, 8)
	want = binary.BigEndian.AppendUint64(want, 0x0102030405060708+uint64(time.Minute))
	want = binary.BigEndian.AppendUint64(want, 42)
	got, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode =\n%x\nwant\n%x", got, want)
	}
	back, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, back); diff != "" {
		t.Fatalf("Decode differs (-want +got):\n%s", diff)
	}
}

func TestRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		gen := arbitraryReading
		if i%2 == 0 {
			gen = plausibleReading
		}
		b := randomBatch(rng, 1+rng.IntN(200), gen)
		enc, err := b.Encode()
		if err != nil {
			t.Fatalf("batch %d: Encode: %v", i, err)
		}
		back, err := Decode(enc)
		if err != nil {
			t.Fatalf("batch %d: Decode: %v", i, err)
		}
		if diff := cmp.Diff(b, back); diff != "" {
			t.Fatalf("batch %d: Decode(Encode(b)) differs (-want +got):\n%s", i, diff)
		}
		again, err := back.Encode()
		if err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("batch %d: Encode(Decode(p)) != p (err %v)", i, err)
		}
	}
}

func TestRoundTripLimits(t *testing.T) {
	long := strings.Repeat("x", maxIDLen)
	readings := make([]Reading, MaxReadings)
	for i := range readings {
		readings[i] = NewStepCount(int64(i), now, now.Add(time.Hour))
	}
	b := Batch{DeviceID: long, PatientID: long, Seq: math.MaxUint64, Readings: readings}
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != MaxPayloadBytes {
		t.Fatalf("largest batch encodes to %d bytes, MaxPayloadBytes is %d", len(enc), MaxPayloadBytes)
	}
	back, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, back); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// valid is a small valid encoding for the reject tests to break.
func valid(t testing.TB) []byte {
	t.Helper()
	enc, err := Batch{DeviceID: "dev-1", PatientID: "p1", Seq: 1, Readings: goldenReadings()}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func TestDecodeRejects(t *testing.T) {
	good := valid(t)
	header := func(dev, pat string, seq uint64, count uint16) []byte {
		h := append([]byte("HXWB\x01"), byte(len(dev)))
		h = append(h, dev...)
		h = append(h, byte(len(pat)))
		h = append(h, pat...)
		h = binary.BigEndian.AppendUint64(h, seq)
		return binary.BigEndian.AppendUint16(h, count)
	}
	hr := func(v float64) []byte {
		r := binary.BigEndian.AppendUint64([]byte{byte(HeartRate)}, uint64(now.UnixNano()))
		return binary.BigEndian.AppendUint64(r, math.Float64bits(v))
	}
	steps := func(n int64) []byte {
		r := binary.BigEndian.AppendUint64([]byte{byte(StepCount)}, uint64(now.UnixNano()))
		r = binary.BigEndian.AppendUint64(r, uint64(now.Add(time.Hour).UnixNano()))
		return binary.BigEndian.AppendUint64(r, uint64(n))
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	if _, err := Decode(cat(header("d", "p", 1, 1), hr(72))); err != nil {
		t.Fatalf("the reject tests' base case is refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"wrong magic", cat([]byte("HXWC"), good[4:]), ErrFormat},
		{"version 0", cat(good[:4], []byte{0}, good[5:]), ErrFormat},
		{"version 2", cat(good[:4], []byte{2}, good[5:]), ErrFormat},
		{"empty device id", cat(header("", "p", 1, 1), hr(72)), ErrFormat},
		{"device id of 129 bytes", cat(header(strings.Repeat("d", 129), "p", 1, 1), hr(72)), ErrFormat},
		{"device id with a space", cat(header("dev 1", "p", 1, 1), hr(72)), ledgerapi.ErrInvalid},
		{"device id starting with a dot", cat(header(".dev", "p", 1, 1), hr(72)), ledgerapi.ErrInvalid},
		{"patient id not UTF-8", cat(header("d", "p\xff", 1, 1), hr(72)), ledgerapi.ErrInvalid},
		{"seq 0", cat(header("d", "p", 0, 1), hr(72)), ErrFormat},
		{"no readings", header("d", "p", 1, 0), ErrFormat},
		{"more readings than allowed", cat(header("d", "p", 1, MaxReadings+1), bytes.Repeat(hr(72), MaxReadings+1)), ErrFormat},
		{"count above the readings", cat(header("d", "p", 1, 2), hr(72)), ErrFormat},
		{"long records use up the space of the count", cat(header("d", "p", 1, 4), steps(1), steps(1), steps(1)), ErrFormat},
		{"count below the readings", cat(header("d", "p", 1, 1), hr(72), hr(72)), ErrFormat},
		{"huge count in a short payload", cat(header("d", "p", 1, MaxReadings), hr(72)), ErrFormat},
		{"kind 0", cat(header("d", "p", 1, 1), []byte{0}, hr(72)[1:]), ErrUnknownKind},
		{"kind 6", cat(header("d", "p", 1, 1), []byte{6}, hr(72)[1:]), ErrUnknownKind},
		{"NaN", cat(header("d", "p", 1, 1), hr(math.NaN())), ErrFormat},
		{"infinity", cat(header("d", "p", 1, 1), hr(math.Inf(-1))), ErrFormat},
		{"steps above 2^53", cat(header("d", "p", 1, 1), steps(maxExactSteps+1)), ErrFormat},
		{"steps below -2^53", cat(header("d", "p", 1, 1), steps(-maxExactSteps-1)), ErrFormat},
		{"trailing byte", cat(good, []byte{0}), ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Decode(tc.data)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrFormat) {
				t.Fatalf("Decode = %v, want %v (and ErrFormat)", err, tc.want)
			}
			if diff := cmp.Diff(Batch{}, b); diff != "" {
				t.Fatalf("a refused payload returned a batch:\n%s", diff)
			}
		})
	}
}

// TestDecodeMutations breaks a valid encoding every way one edit can: every
// truncation and every extension is refused; a flipped bit is refused or, if
// it still decodes, re-encodes to exactly the mutated bytes.
func TestDecodeMutations(t *testing.T) {
	good := valid(t)
	t.Run("truncated", func(t *testing.T) {
		for n := range len(good) {
			if _, err := Decode(good[:n]); !errors.Is(err, ErrFormat) {
				t.Fatalf("Decode of the first %d of %d bytes = %v, want ErrFormat", n, len(good), err)
			}
		}
	})
	t.Run("extended", func(t *testing.T) {
		for _, tail := range [][]byte{{0}, {1}, {0xff}, good[len(good)-smallRecord:]} {
			if _, err := Decode(append(bytes.Clone(good), tail...)); !errors.Is(err, ErrFormat) {
				t.Fatalf("Decode with %x appended = %v, want ErrFormat", tail, err)
			}
		}
	})
	t.Run("bit flipped", func(t *testing.T) {
		decoded := 0
		for i := range len(good) * 8 {
			data := bytes.Clone(good)
			data[i/8] ^= 1 << (i % 8)
			b, err := Decode(data)
			if err != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("bit %d: Decode = %v, want ErrFormat", i, err)
				}
				continue
			}
			decoded++
			again, err := b.Encode()
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("bit %d: decoded but re-encodes differently (err %v)", i, err)
			}
		}
		if decoded == 0 {
			t.Fatal("no flipped bit decoded: the re-encoding check never ran")
		}
	})
}

func TestEncodeRejects(t *testing.T) {
	ok := NewHeartRate(72, now)
	batch := func(rs ...Reading) Batch { return Batch{DeviceID: "d", PatientID: "p", Seq: 1, Readings: rs} }
	for _, tc := range []struct {
		name string
		b    Batch
		want error
	}{
		{"empty device id", Batch{PatientID: "p", Seq: 1, Readings: []Reading{ok}}, ledgerapi.ErrInvalid},
		{"long patient id", Batch{DeviceID: "d", PatientID: strings.Repeat("p", 129), Seq: 1, Readings: []Reading{ok}}, ledgerapi.ErrInvalid},
		{"seq 0", Batch{DeviceID: "d", PatientID: "p", Readings: []Reading{ok}}, ErrFormat},
		{"no readings", batch(), ErrFormat},
		{"too many readings", batch(make([]Reading, MaxReadings+1)...), ErrFormat},
		{"unknown kind", batch(Reading{Kind: 42, TimeFrame: Instant(now)}), ErrUnknownKind},
		{"wrong unit", batch(Reading{Kind: BodyTemperature, Value: 98.6, Unit: "F", TimeFrame: Instant(now)}), ErrUnit},
		{"no unit", batch(Reading{Kind: HeartRate, Value: 72, TimeFrame: Instant(now)}), ErrUnit},
		{"NaN", batch(NewHeartRate(math.NaN(), now)), ErrFormat},
		{"infinite diastolic", batch(NewBloodPressure(120, math.Inf(1), now)), ErrFormat},
		{"fractional steps", batch(Reading{Kind: StepCount, Value: 1.5, Unit: UnitSteps, TimeFrame: Interval(now, now.Add(time.Minute))}), ErrFormat},
		{"steps above 2^53", batch(Reading{Kind: StepCount, Value: 1 << 54, Unit: UnitSteps, TimeFrame: Interval(now, now.Add(time.Minute))}), ErrFormat},
		{"diastolic on a heart rate", batch(Reading{Kind: HeartRate, Value: 72, Diastolic: 1, Unit: UnitBeatsPerMinute, TimeFrame: Instant(now)}), ErrFormat},
		{"no time", batch(NewHeartRate(72, time.Time{})), ErrTime},
		{"time after 2262", batch(NewHeartRate(72, time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC))), ErrTime},
		{"steps at an instant", batch(Reading{Kind: StepCount, Unit: UnitSteps, TimeFrame: Instant(now)}), ErrTime},
		{"heart rate over an interval", batch(Reading{Kind: HeartRate, Value: 72, Unit: UnitBeatsPerMinute, TimeFrame: Interval(now, now)}), ErrTime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if enc, err := tc.b.Encode(); !errors.Is(err, tc.want) || enc != nil {
				t.Fatalf("Encode = %x, %v, want %v", enc, err, tc.want)
			}
		})
	}
}

// TestDecodeLeavesPlausibilityToValidate: an implausible reading decodes, so
// the ingest service can refuse it alone and keep the rest of the batch.
func TestDecodeLeavesPlausibilityToValidate(t *testing.T) {
	b := Batch{DeviceID: "d", PatientID: "p", Seq: 1, Readings: []Reading{
		NewHeartRate(72, now), NewHeartRate(400, now), NewHeartRate(72, now.Add(time.Hour)),
	}}
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := []error{nil, ErrImplausible, ErrTime}
	for i, r := range back.Readings {
		if err := r.Validate(now, DefaultMaxSkew, DefaultMaxAge); !errors.Is(err, want[i]) || (want[i] == nil) != (err == nil) {
			t.Errorf("reading %d: Validate = %v, want %v", i, err, want[i])
		}
	}
}
