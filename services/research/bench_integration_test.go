//go:build integration

package research

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"runtime"
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
	benchHours           = 10  // 1000 patients x 10 hours x 100 = 10^6 readings
	benchSeedWorkers     = 8
)

// BenchmarkDataset builds datasets over 1000 synthetic patients with 1000
// heart-rate readings each (10^6 in all, sealed in MinIO as the ingest
// service stores them): raw rows over windows of 1, 3 and 10 hours (10^5,
// 3x10^5 and 10^6 rows), and daily summaries of all 10^6. Each build reads,
// decrypts and decodes every batch of the window, de-identifies, encodes CSV
// and NDJSON and runs the independent check. The baseline, in the same run,
// reads, decrypts and decodes the same batches, with as many readers, and
// does nothing else.
func BenchmarkDataset(b *testing.B) {
	ctx := context.Background()
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
	seedStart := time.Now()
	cohort := seedBench(ctx, b, src, start)
	b.Logf("seeded %d patients, %d readings in %d batches, in %v", benchPatients, benchPatients*benchHours*benchReadingsPerHour,
		benchPatients*benchHours, time.Since(seedStart).Round(time.Millisecond))

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var baseline time.Duration
	for _, hours := range []int{1, 3, 10} {
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
			if mode == DailySummary && hours != benchHours {
				continue
			}
			b.Run(fmt.Sprintf("%s-%dh", mode, hours), func(b *testing.B) {
				spec := Spec{StudyID: "bench", Categories: []string{"vitals"}, From: start, To: start.Add(window), K: 5,
					Readings: mode, Dates: ShiftedDays}
				if err := spec.validate(); err != nil {
					b.Fatal(err)
				}
				for range b.N {
					var ms runtime.MemStats
					t0 := time.Now()
					built, err := build(ctx, src, spec, cohort, func(string, int, int, int64) {}, quiet)
					if err != nil {
						b.Fatal(err)
					}
					files, err := encode(built)
					if err != nil {
						b.Fatal(err)
					}
					if err := checkFiles(files, built.columns, built.qis, spec.K); err != nil {
						b.Fatal(err)
					}
					took := time.Since(t0)
					runtime.ReadMemStats(&ms)
					b.ReportMetric(float64(files.rows), "rows")
					b.ReportMetric(float64(files.rows)/took.Seconds(), "rows/s")
					b.ReportMetric(float64(benchPatients*hours*benchReadingsPerHour)/took.Seconds(), "readings/s")
					b.ReportMetric(took.Seconds()/baseline.Seconds(), "x-baseline")
					b.ReportMetric(float64(len(files.csv)+len(files.ndjson))/1e6, "MB-out")
					b.ReportMetric(float64(ms.HeapInuse)/1e6, "MB-heap")
				}
			})
		}
	}
}

// seedBench stores each patient's demographics record and batches, and
// returns the cohort of all of them.
func seedBench(ctx context.Context, b *testing.B, src *benchSources, start time.Time) Cohort {
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
				canonical, sum, err := fhir.Hash([]byte(patient))
				if err != nil {
					errs <- err
					return
				}
				n := ledgerapi.Notarization{RecordID: "rec-" + id, PatientID: id, SHA256: sum, Category: "demographics", Version: 1}
				if err := src.records.StoreVerbatim(ctx, n, canonical); err != nil {
					errs <- err
					return
				}
				for h := range benchHours {
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
