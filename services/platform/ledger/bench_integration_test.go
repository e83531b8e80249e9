//go:build integration

package ledger_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/ledger"
)

// BenchmarkConsentGrantCommit measures what a patient waits for when granting
// access: endorsement on both organisations' peers, ordering, commit, and the
// commit status back; one grant at a time, as a person would. The baseline,
// measured in the same run, is reading the same consent back (evaluate on one
// peer, no ordering): the ratio is the price of a committed write.
func BenchmarkConsentGrantCommit(b *testing.B) {
	ctx := itest.BenchContext(b)
	providers := dial(b, "providers")
	p := newPatient(b)
	if _, err := providers.RegisterPatient(ctx, must(p.Register())); err != nil {
		b.Fatal(err)
	}
	grants := make([]time.Duration, 0, b.N)
	reads := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		g := must(p.Grant(ledgerapi.ConsentGrant{
			ConsentID:  unique("bench"),
			Grantee:    ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, "dr-bench"),
			Categories: []string{"labs"},
			Purposes:   []string{"treatment"},
		}))
		start := time.Now()
		c, err := providers.GrantConsent(ctx, g)
		if err != nil {
			b.Fatal(err)
		}
		grants = append(grants, time.Since(start))

		start = time.Now()
		if _, err := providers.Consent(ctx, c.ConsentID); err != nil {
			b.Fatal(err)
		}
		reads = append(reads, time.Since(start))
	}
	b.StopTimer()
	grantP50, readP50 := percentile(grants, 0.50), percentile(reads, 0.50)
	b.ReportMetric(grantP50, "grant-p50-ms")
	b.ReportMetric(percentile(grants, 0.99), "grant-p99-ms")
	b.ReportMetric(readP50, "read-p50-ms")
	b.ReportMetric(grantP50/readP50, "grant/read-p50")
}

// percentile returns the q-quantile of ds in milliseconds.
func percentile(ds []time.Duration, q float64) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000
}

// BenchmarkSustainedGrants: many patients granting at once, as on a busy
// morning: 64 registered patients, each granting one consent after another
// from its own client goroutine, b.N grants in all (committed: endorsed on
// both organisations' peers, ordered, committed, status back). It reports
// committed grants per second, each grant's latency, and the cores each
// kind of network process used meanwhile (where the CPU goes).
func BenchmarkSustainedGrants(b *testing.B) {
	const patients = 64
	ctx := itest.BenchContext(b)
	clients := []*ledger.Client{dial(b, "providers"), dial(b, "research")}
	keys := make([]*patientkey.Key, patients)
	var wg sync.WaitGroup
	for i := range keys {
		keys[i] = newPatient(b)
		wg.Go(func() {
			if _, err := clients[i%2].RegisterPatient(ctx, must(keys[i].Register())); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	net0 := itest.NetworkCPU(b)
	start := time.Now()
	for i, key := range keys {
		n := b.N / patients
		if i < b.N%patients {
			n++
		}
		wg.Go(func() {
			for range n {
				g := must(key.Grant(ledgerapi.ConsentGrant{ConsentID: unique("load"), Grantee: ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, "dr-load"),
					Categories: []string{"labs"}, Purposes: []string{"treatment"}}))
				t0 := time.Now()
				if _, err := clients[i%2].GrantConsent(ctx, g); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lat) == 0 {
		return
	}
	itest.CPUShare(b, net0, itest.NetworkCPU(b), elapsed)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "grants/s")
	b.ReportMetric(percentile(lat, 0.50), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
