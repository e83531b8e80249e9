package research

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/vault/vaulttest"
	"healthexchange/services/store/readingstore"
	"healthexchange/services/store/recordstore"
	"healthexchange/wearables/mhealth"
)

// dirObjects is objectstore.Objects over a folder, a key a file: a store
// that is neither a server nor in the heap the benchmark measures.
type dirObjects struct{ root string }

func (d dirObjects) path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

func (d dirObjects) Put(_ context.Context, key string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(d.path(key)), 0o700); err != nil {
		return err
	}
	return os.WriteFile(d.path(key), data, 0o600)
}

func (d dirObjects) Get(_ context.Context, key string, maxSize int64) ([]byte, error) {
	data, err := os.ReadFile(d.path(key))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("get %s: %w", key, objectstore.ErrNotFound)
	case err == nil && int64(len(data)) > maxSize:
		return nil, fmt.Errorf("get %s: %w", key, objectstore.ErrTooLarge)
	}
	return data, err
}

func (d dirObjects) Delete(_ context.Context, key string) error { return os.Remove(d.path(key)) }

// List lists a folder's keys (every prefix the archives use ends in /).
func (d dirObjects) List(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(d.path(prefix), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(d.root, p)
		keys = append(keys, filepath.ToSlash(rel))
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	slices.Sort(keys)
	return keys, err
}

// memSources are the real archives over folders, with the notarizations in
// a map.
type memSources struct {
	*storeSources
	latest map[string][]ledgerapi.Notarization
}

func (s *memSources) Latest(_ context.Context, patientID string) ([]ledgerapi.Notarization, error) {
	return s.latest[patientID], nil
}

// BenchmarkBuild is the build's own cost, without an object store server:
// 1000 patients with 100 heart-rate readings an hour each, sealed as the
// ingest service stores them, in files, built as raw rows over 1 and 10
// hours (10^5 and 10^6 rows): reading, decrypting and decoding the batches,
// de-identifying, spooling, writing CSV and NDJSON and the independent check
// over them. It reports rows/s and the peak heap in use during the build
// (and the peak resident set of the process, which includes the seeding). With HX_BENCH_ROWS_10M=1 it also builds 10^7 rows (100 hours).
// make bench measures the same against MinIO (BenchmarkDataset).
func BenchmarkBuild(b *testing.B) {
	const patients, perHour = 1000, 100
	windows := benchWindows()
	hours := windows[len(windows)-1]
	ctx := b.Context()
	v := vaulttest.New(b)
	src := &memSources{storeSources: &storeSources{records: recordstore.NewArchive(dirObjects{b.TempDir()}, v),
		readings: readingstore.NewArchive(dirObjects{b.TempDir()}, v)}, latest: map[string][]ledgerapi.Notarization{}}
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cohort := Cohort{Time: start.Add(24 * time.Hour)}
	for i := range patients {
		id := fmt.Sprintf("bench-pat-%04d", i)
		patient := fmt.Sprintf(`{"resourceType":"Patient","gender":%q,"birthDate":"%d-03-01","address":[{"postalCode":%q}]}`,
			[]string{"female", "male"}[i%2], 1940+i%60, []string{"02139", "02141", "10027", "94110"}[i%4])
		sum := fhir.Digest([]byte(patient))
		n := ledgerapi.Notarization{RecordID: "rec-" + id, PatientID: id, SHA256: sum, Category: "demographics", Version: 1}
		if err := src.records.StoreVerbatim(ctx, n, []byte(patient)); err != nil {
			b.Fatal(err)
		}
		src.latest[id] = []ledgerapi.Notarization{n}
		for h := range hours {
			rs := make([]mhealth.Reading, perHour)
			for r := range rs {
				rs[r] = mhealth.NewHeartRate(float64(55+(i+r)%60), start.Add(time.Duration(h)*time.Hour+time.Duration(r)*36*time.Second))
			}
			payload, err := mhealth.Batch{DeviceID: "watch-" + id, PatientID: id, Seq: uint64(h + 1), Readings: rs}.Encode()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := src.readings.StoreSigned(ctx, payload, []byte("signature"), start); err != nil {
				b.Fatal(err)
			}
		}
		cohort.Members = append(cohort.Members, Member{PatientID: id, ConsentIDs: []string{"c-" + id}})
	}
	quiet := slog.New(slog.DiscardHandler)
	took := map[int]time.Duration{} // by window
	for _, hours := range windows {
		b.Run(fmt.Sprintf("raw-%dh", hours), func(b *testing.B) {
			spec := Spec{StudyID: "bench", Categories: []string{"vitals"}, From: start, To: start.Add(time.Duration(hours) * time.Hour),
				K: 5, Readings: RawReadings, Dates: ShiftedDays}
			if err := spec.validate(); err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			for range b.N {
				stop := memoryPeak()
				t0 := time.Now()
				rows, _ := buildAndCheck(ctx, b, src, spec, cohort, dir, quiet)
				took[hours] = time.Since(t0)
				heap, rss := stop()
				b.ReportMetric(float64(rows), "rows")
				b.ReportMetric(float64(rows)/took[hours].Seconds(), "rows/s")
				if tenth := took[hours/10]; tenth > 0 {
					b.ReportMetric(took[hours].Seconds()/tenth.Seconds(), "x-time-10x-rows")
				}
				b.ReportMetric(float64(heap)/1e6, "MB-heap-peak")
				b.ReportMetric(float64(rss)/1e6, "MB-rss-peak")
			}
		})
	}
}

// benchWindows are the windows, in hours, the dataset benchmarks build
// raw rows over (1000 patients, 100 readings an hour each): 10^5 and 10^6
// rows, and 10^7 when HX_BENCH_ROWS_10M=1 (the one place they read it).
func benchWindows() []int {
	if os.Getenv("HX_BENCH_ROWS_10M") == "1" {
		return []int{1, 10, 100}
	}
	return []int{1, 10}
}

// buildAndCheck is a build, its files written and the independent check
// over them, as release does them (less storing them); it returns the rows
// and the bytes of both files.
func buildAndCheck(ctx context.Context, b *testing.B, src Sources, spec Spec, cohort Cohort, dir string, log *slog.Logger) (rows, bytes int64) {
	built, err := build(ctx, src, spec, cohort, dir, func(string, int, int, int64) {}, log)
	if err != nil {
		b.Fatal(err)
	}
	defer built.Close()
	files, err := writeFiles(ctx, built, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer files.Close()
	csvRead, ndjsonRead, err := checkFiles(files.csv.reader(), files.ndjson.reader(), files.rows, built.columns, built.qis, spec.K)
	if err != nil {
		b.Fatal(err)
	}
	if csvRead != files.csv.digest() || ndjsonRead != files.ndjson.digest() {
		b.Fatal("the check did not read the files written")
	}
	return files.rows, files.csv.bytes + files.ndjson.bytes
}
