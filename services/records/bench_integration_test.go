//go:build integration

package records

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/auth"
)

// tenKBResource is a lab Observation of about 10 KB (a long narrative note).
func tenKBResource(patientID string, n int) []byte {
	note := strings.Repeat("Fasting sample, no haemolysis; repeat in three months. ", 180)
	return []byte(fmt.Sprintf(`{"resourceType":"Observation","status":"final",
  "code":{"text":"HbA1c #%d"},"subject":{"reference":"Patient/%s"},
  "valueQuantity":{"value":6.1,"unit":"%%"},"note":[{"text":%q}]}`, n, patientID, note))
}

// percentile is the q-quantile of sorted latencies, in milliseconds.
func percentile(lat []time.Duration, q float64) float64 {
	return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000
}

// BenchmarkRecordPutGet measures, one call at a time, a put (validate,
// validate, authorize through consentd, seal, store in MinIO, notarize
// and wait for the commit) and a get (authorize, read, open, hash, compare
// with the ledger) of a 10 KB resource through the gRPC API, and in the same
// run a plain MinIO put and get of the same bytes: the baseline. It reports
// p50/p99 of each and the ratios of the p50s.
func BenchmarkRecordPutGet(b *testing.B) {
	h := startRecords(b)
	ctx := itest.BenchContext(b)
	p := itest.NewPatient(b, h.consent)
	h.consent.Grant(b, p, "--to", "org:ProvidersMSP", "--categories", "labs", "--purposes", "treatment")
	tok := itest.Token(b, itest.Unique("dr-bench"), auth.RoleClinician, "ProvidersMSP")
	size := len(tenKBResource(p.ID, 0))

	var put, get, plainPut, plainGet, reget []time.Duration
	var ids []string
	b.ResetTimer()
	for i := range b.N {
		raw := tenKBResource(p.ID, i)
		t0 := time.Now()
		r, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: raw}, as(tok))
		if err != nil {
			b.Fatal(err)
		}
		put = append(put, time.Since(t0))

		t0 = time.Now()
		if _, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: r.GetRecord().GetRecordId()}, as(tok)); err != nil {
			b.Fatal(err)
		}
		get = append(get, time.Since(t0))
		ids = append(ids, r.GetRecord().GetRecordId())

		key := fmt.Sprintf("baseline/%s/%d", p.ID, i)
		t0 = time.Now()
		if _, err := h.minio.PutObject(ctx, h.cfg.Bucket, key, bytes.NewReader(raw), int64(len(raw)), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			b.Fatal(err)
		}
		plainPut = append(plainPut, time.Since(t0))

		t0 = time.Now()
		obj, err := h.minio.GetObject(ctx, h.cfg.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(obj)
		obj.Close()
		if err != nil || buf.Len() != len(raw) {
			b.Fatalf("plain get: %d bytes, %v", buf.Len(), err)
		}
		plainGet = append(plainGet, time.Since(t0))
	}
	// The same records read again, later (a record is mostly read long
	// after it was written).
	for _, id := range ids {
		t0 := time.Now()
		if _, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: id}, as(tok)); err != nil {
			b.Fatal(err)
		}
		reget = append(reget, time.Since(t0))
	}
	b.StopTimer()
	for _, l := range [][]time.Duration{put, get, plainPut, plainGet, reget} {
		slices.Sort(l)
	}
	b.ReportMetric(float64(size), "resource-bytes")
	b.ReportMetric(percentile(put, 0.5), "put-p50-ms")
	b.ReportMetric(percentile(put, 0.99), "put-p99-ms")
	b.ReportMetric(percentile(get, 0.5), "get-p50-ms")
	b.ReportMetric(percentile(get, 0.99), "get-p99-ms")
	b.ReportMetric(percentile(reget, 0.5), "later-get-p50-ms")
	b.ReportMetric(percentile(reget, 0.99), "later-get-p99-ms")
	b.ReportMetric(percentile(plainPut, 0.5), "minio-put-p50-ms")
	b.ReportMetric(percentile(plainPut, 0.99), "minio-put-p99-ms")
	b.ReportMetric(percentile(plainGet, 0.5), "minio-get-p50-ms")
	b.ReportMetric(percentile(plainGet, 0.99), "minio-get-p99-ms")
	b.ReportMetric(percentile(put, 0.5)/percentile(plainPut, 0.5), "put-ratio")
	b.ReportMetric(percentile(get, 0.5)/percentile(plainGet, 0.5), "get-ratio")
	b.ReportMetric(0, "ns/op")
}
