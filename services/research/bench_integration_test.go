//go:build integration

package research

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/vault/vaulttest"
	"healthexchange/services/store/readingstore"
	"healthexchange/services/store/recordstore"
	"healthexchange/wearables/mhealth"
)

// benchSources are the real archives on a real (private) MinIO, with the
// notarizations kept in memory: the ledger is not what is measured here.
type benchSources struct {
	*storeSources
	latest map[string][]ledgerapi.Notarization
}

func (s *benchSources) Latest(_ context.Context, patientID string) ([]ledgerapi.Notarization, error) {
	return s.latest[patientID], nil
}

const (
	benchPatients        = 1000
	benchReadingsPerHour = 100 // one batch per patient per hour
	benchSeedWorkers     = 8
)

// BenchmarkDataset builds datasets over 1000 synthetic patients with 100
// heart-rate readings an hour each (10 hours, 10^6 readings in all, sealed
// in MinIO as the ingest service stores them; 100 hours and 10^7 with
// HX_BENCH_ROWS_10M=1, see benchWindows): raw rows over windows of 1, 3 and
// 10 hours (10^5, 3x10^5 and 10^6 rows, and 100 hours, 10^7 rows), and
// daily summaries of 10 hours' 10^6 readings. Each build reads, decrypts
// and decodes every batch of the window, de-identifies, spools the rows,
// writes CSV and NDJSON to temporary files and runs the independent check
// over them (storing them is not measured). It reports rows/s and the peak
// heap in use during the build, sampled (MB-heap-peak), and the process's
// peak resident set during it (MB-rss-peak, Linux). The baseline, in the
// same run, reads, decrypts and decodes the same batches, with as many
// readers, and does nothing else.
func BenchmarkDataset(b *testing.B) {
	ctx := itest.BenchContext(b)
	minio, err := itest.StartMinIO()
	if err != nil {
		b.Fatal(err)
	}
	defer minio.Close()
	cfg, err := objectstore.ConfigFromFile(minio.ConfigPath())
	if err != nil {
		b.Fatal(err)
	}
	v := vaulttest.New(b)
	bucket := func(name string) *objectstore.Bucket {
		bk, err := objectstore.OpenBucket(ctx, cfg, name, 30*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		return bk
	}
	src := &benchSources{
		storeSources: &storeSources{records: recordstore.NewArchive(bucket("records"), v), readings: readingstore.NewArchive(bucket("wearables"), v)},
		latest:       map[string][]ledgerapi.Notarization{},
	}
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	windows := benchWindows()
	seeded := windows[len(windows)-1]
	seedStart := time.Now()
	cohort := seedBench(ctx, b, src, start, seeded)
	b.Logf("seeded %d patients, %d readings in %d batches, in %v", benchPatients, benchPatients*seeded*benchReadingsPerHour,
		benchPatients*seeded, time.Since(seedStart).Round(time.Millisecond))

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var baseline time.Duration
	raw := map[int]time.Duration{} // raw build time by window
	for _, hours := range append([]int{windows[0], 3}, windows[1:]...) {
		window := time.Duration(hours) * time.Hour
		b.Run(fmt.Sprintf("baseline-read-%dh", hours), func(b *testing.B) {
			for range b.N {
				t0 := time.Now()
				var n atomic.Int64
				next := make(chan string)
				var wg sync.WaitGroup
				for range readers { // as many readers as build uses
					wg.Add(1)
					go func() {
						defer wg.Done()
						for id := range next {
							if err := src.Readings(ctx, id, start, start.Add(window), func(readingstore.StoredReading) error { n.Add(1); return nil }); err != nil {
								b.Error(err)
							}
						}
					}()
				}
				for _, m := range cohort.Members {
					next <- m.PatientID
				}
				close(next)
				wg.Wait()
				baseline = time.Since(t0)
				b.ReportMetric(float64(n.Load())/baseline.Seconds(), "readings/s")
			}
		})
		for _, mode := range []ReadingsMode{RawReadings, DailySummary} {
			if mode == DailySummary && hours != 10 {
				continue
			}
			b.Run(fmt.Sprintf("%s-%dh", mode, hours), func(b *testing.B) {
				spec := Spec{StudyID: "bench", Categories: []string{"vitals"}, From: start, To: start.Add(window), K: 5,
					Readings: mode, Dates: ShiftedDays}
				if err := spec.validate(); err != nil {
					b.Fatal(err)
				}
				dir := b.TempDir()
				for range b.N {
					stop := memoryPeak()
					t0 := time.Now()
					rows, out := buildAndCheck(ctx, b, src, spec, cohort, dir, quiet)
					took := time.Since(t0)
					heap, rss := stop()
					if mode == RawReadings {
						raw[hours] = took
						if tenth := raw[hours/10]; hours >= 10 && tenth > 0 {
							b.ReportMetric(took.Seconds()/tenth.Seconds(), "x-time-10x-rows")
						}
					}
					b.ReportMetric(float64(rows), "rows")
					b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
					b.ReportMetric(float64(benchPatients*hours*benchReadingsPerHour)/took.Seconds(), "readings/s")
					b.ReportMetric(took.Seconds()/baseline.Seconds(), "x-baseline")
					b.ReportMetric(float64(out)/1e6, "MB-out")
					b.ReportMetric(float64(heap)/1e6, "MB-heap-peak")
					b.ReportMetric(float64(rss)/1e6, "MB-rss-peak")
				}
			})
		}
	}
	// The target: 10x the rows in at most 11x the time.
	for _, h := range windows[1:] {
		if raw[h] > 0 && raw[h/10] > 0 {
			b.Logf("raw rows, %dh over %dh: 10x the rows in %.1fx the time", h, h/10, raw[h].Seconds()/raw[h/10].Seconds())
		}
	}
}

// seedBench stores each patient's demographics record and a batch for each
// of hours, and returns the cohort of all of them.
func seedBench(ctx context.Context, b *testing.B, src *benchSources, start time.Time, hours int) Cohort {
	_, devKey, _ := ed25519.GenerateKey(nil)
	cohort := Cohort{Time: start.Add(24 * time.Hour)}
	sexes := []string{"female", "male"}
	zips := []string{"02139", "02141", "10027", "94110"}
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := make(chan error, benchSeedWorkers)
	for range benchSeedWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id := fmt.Sprintf("bench-pat-%04d", i)
				patient := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"gender":%q,"birthDate":"%d-03-01","address":[{"postalCode":%q}]}`,
					id, sexes[i%2], 1940+i%60, zips[i%4])
				sum := fhir.Digest([]byte(patient))
				n := ledgerapi.Notarization{RecordID: "rec-" + id, PatientID: id, SHA256: sum, Category: "demographics", Version: 1}
				if err := src.records.StoreVerbatim(ctx, n, []byte(patient)); err != nil {
					errs <- err
					return
				}
				for h := range hours {
					rs := make([]mhealth.Reading, benchReadingsPerHour)
					for r := range rs {
						rs[r] = mhealth.NewHeartRate(float64(55+(i+r)%60), start.Add(time.Duration(h)*time.Hour+time.Duration(r)*36*time.Second))
					}
					sb, err := mhealth.Sign(devKey, mhealth.Batch{DeviceID: "watch-" + id, PatientID: id, Seq: uint64(h + 1), Readings: rs})
					if err == nil {
						_, err = src.readings.StoreSigned(ctx, sb.Payload, sb.Signature, start)
					}
					if err != nil {
						errs <- err
						return
					}
				}
				mu.Lock()
				src.latest[id] = []ledgerapi.Notarization{n}
				mu.Unlock()
			}
		}()
	}
	for i := range benchPatients {
		select {
		case jobs <- i:
		case err := <-errs:
			b.Fatal(err)
		}
		cohort.Members = append(cohort.Members, Member{PatientID: fmt.Sprintf("bench-pat-%04d", i), ConsentIDs: []string{fmt.Sprintf("c-%d", i)}})
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	return cohort
}
