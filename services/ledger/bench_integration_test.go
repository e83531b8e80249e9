//go:build integration

package ledger_test

import (
	"sort"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

// BenchmarkConsentGrantCommit measures what a patient waits for when granting
// access: endorse on both organisations' peers, order, commit, and the
// commit status back. One grant at a time, as a person would.
func BenchmarkConsentGrantCommit(b *testing.B) {
	ctx := testContext(b)
	providers := dial(b, "providers")
	p := newPatient(b)
	if _, err := providers.RegisterPatient(ctx, must(p.Register())); err != nil {
		b.Fatal(err)
	}
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		g := must(p.Grant(ledgerapi.ConsentGrant{
			ConsentID:  unique("bench"),
			Grantee:    ledgerapi.Grantee{Kind: "user", ID: "dr-bench"},
			Categories: []string{"labs"},
			Purposes:   []string{"treatment"},
		}))
		start := time.Now()
		if _, err := providers.GrantConsent(ctx, g); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
