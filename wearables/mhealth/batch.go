package mhealth

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

// Batch is what a device sends in one signed message: its readings of one
// patient, numbered by Seq. Seq starts at 1 and strictly increases per
// device; the codec only refuses 0, the ingest service enforces the order.
type Batch struct {
	DeviceID  string
	PatientID string
	Seq       uint64
	Readings  []Reading
}

// The binary encoding, version 1. Integers are big-endian; a reading's unit
// is implied by its kind.
//
//	magic      4 bytes  "HXWB"
//	version    1 byte   1
//	device id  1 byte length n (1-128), n bytes (a ledgerapi id)
//	patient id 1 byte length m (1-128), m bytes (a ledgerapi id)
//	seq        8 bytes  uint64, at least 1
//	count      2 bytes  uint16, 1 to MaxReadings
//	count readings, each a kind byte then
//	  heart-rate, oxygen-saturation, body-temperature (17 bytes in all):
//	    time int64 Unix ns, value float64
//	  blood-pressure (25 bytes): time int64 Unix ns, systolic float64, diastolic float64
//	  step-count (25 bytes): start int64 Unix ns, end int64 Unix ns, steps int64
//
// Floats are finite and steps within ±2^53, so every value survives the trip
// through Reading; with every length fixed by the data before it, each batch
// has exactly one encoding and Encode(Decode(p)) == p for every accepted p.
const (
	magic = "HXWB"
	// Version is the version byte of the encoding Encode writes.
	Version = 1
	// MaxReadings is the most readings a batch may carry.
	MaxReadings = 10_000
	// MaxPayloadBytes is the length of the longest valid encoding.
	MaxPayloadBytes = headerFixed + 2*maxIDLen + MaxReadings*largeRecord

	maxIDLen    = 128
	headerFixed = len(magic) + 1 + 1 + 1 + 8 + 2 // magic, version, two id lengths, seq, count
	smallRecord = 1 + 8 + 8                      // kind, time, value
	largeRecord = 1 + 8 + 8 + 8                  // kind, time or start, two values or end and steps
)

func recordLen(k Kind) int {
	if k == BloodPressure || k == StepCount {
		return largeRecord
	}
	return smallRecord
}

// Encode returns the binary encoding of b. It refuses, with ErrFormat (and
// the ledgerapi error for ids), ErrUnknownKind, ErrUnit or ErrTime, a batch
// it could not encode without loss or that Decode would refuse: invalid ids,
// seq 0, no readings or more than MaxReadings, and any reading with an
// unknown kind, a unit other than the kind's, a time frame of the wrong form
// or outside the int64 nanosecond range, a non-finite value, a step count
// that is not a whole number within ±2^53, or a field its kind does not use.
// It does not check plausibility; that is Validate's. Decode(Encode(b))
// equals b except that times come back in UTC without a monotonic reading.
func (b Batch) Encode() ([]byte, error) {
	n, err := b.encodedLen()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	b.put(buf)
	return buf, nil
}

// encodedLen checks that b can be encoded and returns the encoding's length.
func (b Batch) encodedLen() (int, error) {
	if err := checkHeader(b.DeviceID, b.PatientID, b.Seq, len(b.Readings)); err != nil {
		return 0, err
	}
	n := headerFixed + len(b.DeviceID) + len(b.PatientID)
	for i, r := range b.Readings {
		if err := r.checkEncodable(); err != nil {
			return 0, fmt.Errorf("reading %d: %w", i, err)
		}
		n += recordLen(r.Kind)
	}
	return n, nil
}

func checkHeader(deviceID, patientID string, seq uint64, count int) error {
	if err := ledgerapi.ValidateID("deviceId", deviceID); err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if seq == 0 {
		return fmt.Errorf("%w: seq: must be at least 1", ErrFormat)
	}
	if count < 1 || count > MaxReadings {
		return fmt.Errorf("%w: readings: a batch carries 1 to %d readings, not %d", ErrFormat, MaxReadings, count)
	}
	return nil
}

// checkEncodable checks that r survives the binary encoding unchanged.
func (r Reading) checkEncodable() error {
	s, err := r.checkShape()
	if err != nil {
		return err
	}
	if r.Unit != s.unit {
		return fmt.Errorf("%w: %s.unit %q: the binary form carries %s readings in %q only", ErrUnit, s.body, r.Unit, s.name, s.unit)
	}
	if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || math.IsNaN(r.Diastolic) || math.IsInf(r.Diastolic, 0) {
		return fmt.Errorf("%w: %s.value: must be a finite number", ErrFormat, s.body)
	}
	if r.Kind == StepCount && (r.Value != math.Trunc(r.Value) || math.Abs(r.Value) > maxExactSteps) {
		return fmt.Errorf("%w: step_count.value %g: must be a whole number within ±2^53", ErrFormat, r.Value)
	}
	return nil
}

// put writes b, already checked by encodedLen, into buf of exactly its length.
func (b Batch) put(buf []byte) {
	be := binary.BigEndian
	p := copy(buf, magic)
	buf[p] = Version
	p++
	for _, id := range [2]string{b.DeviceID, b.PatientID} {
		buf[p] = byte(len(id))
		p++
		p += copy(buf[p:], id)
	}
	be.PutUint64(buf[p:], b.Seq)
	be.PutUint16(buf[p+8:], uint16(len(b.Readings)))
	p += 10
	for i := range b.Readings {
		r := &b.Readings[i]
		buf[p] = byte(r.Kind)
		switch r.Kind {
		case StepCount:
			be.PutUint64(buf[p+1:], uint64(r.TimeFrame.Start.UnixNano()))
			be.PutUint64(buf[p+9:], uint64(r.TimeFrame.End.UnixNano()))
			be.PutUint64(buf[p+17:], uint64(int64(r.Value)))
		case BloodPressure:
			be.PutUint64(buf[p+1:], uint64(r.TimeFrame.At.UnixNano()))
			be.PutUint64(buf[p+9:], math.Float64bits(r.Value))
			be.PutUint64(buf[p+17:], math.Float64bits(r.Diastolic))
		default:
			be.PutUint64(buf[p+1:], uint64(r.TimeFrame.At.UnixNano()))
			be.PutUint64(buf[p+9:], math.Float64bits(r.Value))
		}
		p += recordLen(r.Kind)
	}
}

// Decode parses a binary batch. It is strict: wrong magic or version, an id
// that is not a ledgerapi id, seq 0, a reading count of 0 or above
// MaxReadings, an unknown kind, a non-finite value, a step count beyond
// ±2^53, a short payload or trailing bytes are refused with ErrFormat (and
// ErrUnknownKind for a kind). It does not check plausibility or time windows:
// call Validate on each reading, so one bad reading can be refused on its own.
// Readings come back with their kind's canonical unit and times in UTC.
func Decode(data []byte) (Batch, error) {
	be := binary.BigEndian
	if len(data) < headerFixed+2 {
		return Batch{}, fmt.Errorf("%w: %d bytes is shorter than any batch", ErrFormat, len(data))
	}
	if string(data[:len(magic)]) != magic {
		return Batch{}, fmt.Errorf("%w: not a wearable batch (magic %q)", ErrFormat, data[:len(magic)])
	}
	if v := data[len(magic)]; v != Version {
		return Batch{}, fmt.Errorf("%w: version %d: only version %d is understood", ErrFormat, v, Version)
	}
	p := len(magic) + 1
	var ids [2]string
	for i, field := range [2]string{"deviceId", "patientId"} {
		n := int(data[p])
		p++
		if n < 1 || n > maxIDLen || len(data)-p < n+1 {
			return Batch{}, fmt.Errorf("%w: %s length %d: must be 1 to %d and within the payload", ErrFormat, field, n, maxIDLen)
		}
		ids[i] = string(data[p : p+n])
		p += n
	}
	if len(data)-p < 10 {
		return Batch{}, fmt.Errorf("%w: truncated before seq and count", ErrFormat)
	}
	seq := be.Uint64(data[p:])
	count := int(be.Uint16(data[p+8:]))
	p += 10
	if err := checkHeader(ids[0], ids[1], seq, count); err != nil {
		return Batch{}, err
	}
	// Refuse before allocating when the payload cannot hold count readings.
	if len(data)-p < count*smallRecord {
		return Batch{}, fmt.Errorf("%w: %d bytes cannot hold %d readings", ErrFormat, len(data)-p, count)
	}
	b := Batch{DeviceID: ids[0], PatientID: ids[1], Seq: seq, Readings: make([]Reading, count)}
	for i := range b.Readings {
		if p == len(data) {
			return Batch{}, fmt.Errorf("%w: truncated before reading %d of %d", ErrFormat, i, count)
		}
		k := Kind(data[p])
		s, ok := k.spec()
		if !ok {
			return Batch{}, fmt.Errorf("%w: reading %d: kind byte %d: %w", ErrFormat, i, data[p], ErrUnknownKind)
		}
		n := recordLen(k)
		if len(data)-p < n {
			return Batch{}, fmt.Errorf("%w: reading %d: truncated %s", ErrFormat, i, s.name)
		}
		rec := data[p+1 : p+n]
		p += n
		r := &b.Readings[i]
		r.Kind, r.Unit = k, s.unit
		t0 := time.Unix(0, int64(be.Uint64(rec))).UTC()
		switch k {
		case StepCount:
			steps := int64(be.Uint64(rec[16:]))
			if steps > maxExactSteps || steps < -maxExactSteps {
				return Batch{}, fmt.Errorf("%w: reading %d: step_count.value %d: must be within ±2^53", ErrFormat, i, steps)
			}
			r.Value = float64(steps)
			r.TimeFrame = TimeFrame{Start: t0, End: time.Unix(0, int64(be.Uint64(rec[8:]))).UTC()}
		case BloodPressure:
			r.Diastolic = math.Float64frombits(be.Uint64(rec[16:]))
			fallthrough
		default:
			r.Value = math.Float64frombits(be.Uint64(rec[8:]))
			r.TimeFrame = TimeFrame{At: t0}
		}
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || math.IsNaN(r.Diastolic) || math.IsInf(r.Diastolic, 0) {
			return Batch{}, fmt.Errorf("%w: reading %d: %s.value: must be a finite number", ErrFormat, i, s.body)
		}
	}
	if p != len(data) {
		return Batch{}, fmt.Errorf("%w: %d bytes after the last reading", ErrFormat, len(data)-p)
	}
	return b, nil
}
