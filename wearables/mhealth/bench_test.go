package mhealth

import (
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
)

// benchReadings is the batch size of the benchmarks: about what a device
// sends per upload.
const benchReadings = 100

func benchBatch() Batch {
	b := randomBatch(rand.New(rand.NewPCG(5, 6)), benchReadings, plausibleReading)
	b.DeviceID, b.PatientID = "watch-0001", "patient-000001"
	return b
}

func reportReadings(b *testing.B) {
	b.ReportMetric(float64(b.N)*benchReadings/b.Elapsed().Seconds(), "readings/s")
}

func BenchmarkEncode(b *testing.B) {
	batch := benchBatch()
	enc, _ := batch.Encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := batch.Encode(); err != nil {
			b.Fatal(err)
		}
	}
	reportReadings(b)
}

func BenchmarkDecode(b *testing.B) {
	enc, err := benchBatch().Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
	reportReadings(b)
}

func BenchmarkSign(b *testing.B) {
	batch, key := benchBatch(), testKey("device")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(key, batch); err != nil {
			b.Fatal(err)
		}
	}
	reportReadings(b)
}

func BenchmarkVerify(b *testing.B) {
	key := testKey("device")
	sb, err := Sign(key, benchBatch())
	if err != nil {
		b.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	b.SetBytes(int64(len(sb.Payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(pub, sb.Payload, sb.Signature); err != nil {
			b.Fatal(err)
		}
	}
	reportReadings(b)
}

// BenchmarkIngest is the ingest service's per-batch work in this package:
// verify, decode, validate every reading, hash.
func BenchmarkIngest(b *testing.B) {
	key := testKey("device")
	sb, err := Sign(key, benchBatch())
	if err != nil {
		b.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		batch, err := Verify(pub, sb.Payload, sb.Signature)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range batch.Readings {
			if err := r.Validate(now, DefaultMaxSkew, DefaultMaxAge); err != nil {
				b.Fatal(err)
			}
		}
		_ = BatchHash(sb.Payload)
	}
	reportReadings(b)
}
