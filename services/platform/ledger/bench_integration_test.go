//go:build integration

package ledger_test

import (
	"slices"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

// BenchmarkConsentGrantCommit measures what a patient waits for when granting
// access: endorsement on both organisations' peers, ordering, commit, and the
// commit status back; one grant at a time, as a person would. The baseline,
// measured in the same run, is reading the same consent back (evaluate on one
// peer, no ordering): the ratio is the price of a committed write.
func BenchmarkConsentGrantCommit(b *testing.B) {
	ctx := testContext(b)
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
