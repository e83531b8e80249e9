//go:build integration

package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/objectstore"
	wdevice "healthexchange/wearables/device"
	"healthexchange/wearables/mhealth"
	"healthexchange/wearables/sim"
)

// Load of BenchmarkIngest: devices, readings each, readings per batch.
const (
	benchDevices  = 16
	benchReadings = 200000
	benchBatch    = 1000
)

// BenchmarkIngest streams benchDevices simulated devices, each sending
// benchReadings readings in batches of benchBatch, through the whole path:
// sign (on the device), stream over mutual TLS, look the device up on the
// ledger, verify, validate, encrypt, store in MinIO, journal, anchor. It
// reports the sustained acknowledged readings per second, the ledger
// transactions per second that anchoring caused, and, in the same run, the
// readings per second of writing the same signed batches to MinIO with the
// same concurrency, unencrypted and unanchored: the baseline.
func BenchmarkIngest(b *testing.B) {
	flags := []string{"-anchor-every", "1s"}
	if p := os.Getenv("HX_INGEST_CPUPROFILE"); p != "" {
		flags = append(flags, "-cpuprofile", p) // written when ingestd stops
	}
	h := startB(b, flags...)
	ctx := itest.BenchContext(b)
	var devs []sim.Device
	for range benchDevices {
		devs = append(devs, h.pairKeyFile(b, itest.NewPatient(b, h.consent)))
	}
	cfg := sim.NewConfig()
	cfg.Mode, cfg.BatchSize, cfg.Readings, cfg.Window, cfg.StopTimeout = sim.Load, benchBatch, benchReadings, 4, time.Minute
	fleet, err := sim.NewFleet(h.client, devs, cfg)
	if err != nil {
		b.Fatal(err)
	}
	anchorsBefore := len(h.ingest.LogLines("batches anchored"))
	b.ResetTimer()
	s, err := fleet.Run(ctx)
	b.StopTimer()
	if err != nil || s.Lost != 0 || s.RejectedBatches != 0 {
		b.Fatalf("fleet: %v (%+v)", err, s)
	}
	anchors := len(h.ingest.LogLines("batches anchored")) - anchorsBefore

	baseline := plainMinIO(ctx, b, s.Batches)
	b.ReportMetric(s.ReadingsPerSecond, "readings/s")
	b.ReportMetric(float64(anchors)/s.Elapsed.Seconds(), "ledger-tx/s")
	b.ReportMetric(float64(s.Batches)/s.Elapsed.Seconds(), "batches/s")
	b.ReportMetric(baseline, "plain-minio-readings/s")
	b.ReportMetric(baseline/s.ReadingsPerSecond, "baseline-ratio")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d devices, %d readings in %d batches in %.1f s; %d anchor transactions", benchDevices, s.AckedReadings, s.Batches, s.Elapsed.Seconds(), anchors)
}

// plainMinIO writes n signed batches of benchBatch readings to a bucket of
// the same MinIO server with benchDevices writers, unencrypted and
// unanchored, and returns the readings per second.
func plainMinIO(ctx context.Context, b *testing.B, n int64) float64 {
	b.Helper()
	scfg, err := objectstore.ConfigFromFile(store.ConfigPath())
	if err != nil {
		b.Fatal(err)
	}
	client, err := objectstore.New(scfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := objectstore.EnsureBucket(ctx, client, "baseline"); err != nil {
		b.Fatal(err)
	}
	d, err := wdevice.Create(filepath.Join(b.TempDir(), "device.json"), "watch-baseline", "pat-baseline")
	if err != nil {
		b.Fatal(err)
	}
	gen, err := sim.NewGenerator(1, time.Now().Add(-sim.LoadBacklog))
	if err != nil {
		b.Fatal(err)
	}
	payloads := make([][]byte, n)
	for i := range payloads {
		rs := make([]mhealth.Reading, benchBatch)
		for j := range rs {
			rs[j] = gen.Next()
		}
		sb, err := d.Sign(mhealth.Batch{DeviceID: d.ID(), PatientID: d.PatientID(), Seq: uint64(i + 1), Readings: rs})
		if err != nil {
			b.Fatal(err)
		}
		payloads[i] = sb.Payload
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range benchDevices {
		wg.Go(func() {
			for i := range jobs {
				if _, err := client.PutObject(ctx, "baseline", fmt.Sprintf("batch/%d", i), bytes.NewReader(payloads[i]),
					int64(len(payloads[i])), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range payloads {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return float64(n*benchBatch) / time.Since(start).Seconds()
}
