//go:build integration

package consent_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/policies"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
)

const benchWorkers = 8

// report adds rate and latency percentiles to a benchmark.
func report(b *testing.B, unit string, elapsed time.Duration, lat []time.Duration) {
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// parallel runs n calls of fn over benchWorkers goroutines and returns each
// call's latency.
func parallel(b *testing.B, n int, fn func() error) ([]time.Duration, time.Duration) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	start := time.Now()
	for range benchWorkers {
		wg.Go(func() {
			for range jobs {
				t0 := time.Now()
				if err := fn(); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat, time.Since(start)
}

// BenchmarkAuthorize: whole decisions through the running service: mutual
// TLS, token verification, the view, the OPA policy, and the access event
// made durable in the journal before the answer. In the same run, the bare
// prepared OPA evaluation of the same policy, and the ratio of the two.
func BenchmarkAuthorize(b *testing.B) {
	ctx := itest.Context(b)
	c := itest.NewConsentd(b, consentdBin)
	dc := c.Decisions(b)
	p := itest.NewPatient(b, c)
	clinician := itest.Unique("dr")
	drToken := itest.Token(b, clinician, auth.RoleClinician, ledgerapi.ProvidersMSP)
	for _, cat := range []string{"labs", "conditions", "vitals", "notes", "imaging"} {
		c.Grant(b, p, "--to", "user:ProvidersMSP/"+clinician, "--categories", cat, "--purposes", "treatment")
	}
	req := read(p.ID, "labs", "treatment")
	b.ResetTimer()
	lat, elapsed := parallel(b, b.N, func() error {
		d, err := itest.Authorize(ctx, b, dc, drToken, req)
		if err == nil && !d.GetAllow() {
			b.Fatalf("benchmark decision denied: %v", d)
		}
		return err
	})
	b.StopTimer()
	report(b, "decisions", elapsed, lat)
	bareLat, bareElapsed := bareOPA(ctx, b, b.N)
	slices.Sort(bareLat)
	bareRate := float64(len(bareLat)) / bareElapsed.Seconds()
	b.ReportMetric(bareRate, "bare-opa-evals/s")
	b.ReportMetric(float64(bareLat[len(bareLat)/2].Microseconds())/1000, "bare-opa-p50-ms")
	b.ReportMetric(bareRate/(float64(len(lat))/elapsed.Seconds()), "bare/service")
}

// bareOPA evaluates the same policy on the same kind of input (a clinician,
// five consents) n times with a bare prepared OPA query in this process: the
// floor under a decision through the service.
func bareOPA(ctx context.Context, b *testing.B, n int) ([]time.Duration, time.Duration) {
	modules, err := policies.Modules()
	if err != nil {
		b.Fatal(err)
	}
	opts := []func(*rego.Rego){rego.Query(policies.DecisionQuery)}
	for name, src := range modules {
		opts = append(opts, rego.Module(name, src))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		b.Fatal(err)
	}
	in := policy.Input{
		Subject: policy.Subject{ID: "dr-a", Role: "clinician", Org: ledgerapi.ProvidersMSP}, Action: "read",
		Resource: policy.Resource{PatientID: "pat-a", Category: "labs"}, Purpose: "treatment",
		Time: ledgerapi.FormatTime(time.Now()),
	}
	for i, cat := range []string{"conditions", "imaging", "labs", "notes", "vitals"} {
		in.Consents = append(in.Consents, policy.Consent{ConsentID: "c" + string(rune('0'+i)),
			Grantee: policy.Grantee{Kind: "user", ID: "ProvidersMSP/dr-a"}, Categories: []string{cat},
			Purposes: []string{"treatment"}, RecordIDs: []string{}, Status: "active"})
	}
	raw, _ := json.Marshal(in)
	var input map[string]any
	json.Unmarshal(raw, &input)
	return parallel(b, n, func() error {
		rs, err := pq.Eval(ctx, rego.EvalInput(input))
		if err == nil && rs[0].Expressions[0].Value.(map[string]any)["allow"] != true {
			b.Fatal("bare evaluation denied")
		}
		return err
	})
}

// BenchmarkCommitToDeny: a revocation committed on the ledger by someone
// else (straight through the ledger client, not this service); the time from
// its commit until the service's first deny.
func BenchmarkCommitToDeny(b *testing.B) {
	ctx := itest.Context(b)
	c := itest.NewConsentd(b, consentdBin)
	dc := c.Decisions(b)
	lcfg, err := itest.Env(b).Ledger("providers")
	if err != nil {
		b.Fatal(err)
	}
	lc, err := ledger.Dial(lcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer lc.Close()
	key, err := patientkey.Generate(itest.Unique("pat"))
	if err != nil {
		b.Fatal(err)
	}
	s, _ := key.Register()
	if _, err := lc.RegisterPatient(ctx, s); err != nil {
		b.Fatal(err)
	}
	clinician := itest.Unique("dr")
	drToken := itest.Token(b, clinician, auth.RoleClinician, ledgerapi.ProvidersMSP)
	req := read(key.PatientID(), "labs", "treatment")
	decide := func() bool {
		d, err := itest.Authorize(ctx, b, dc, drToken, req)
		if err != nil {
			b.Fatal(err)
		}
		return d.GetAllow()
	}
	var delays []time.Duration
	b.ResetTimer()
	for range b.N {
		g, _ := key.Grant(ledgerapi.ConsentGrant{ConsentID: itest.Unique("c"), Grantee: ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, clinician),
			Categories: []string{"labs"}, Purposes: []string{"treatment"}})
		consent, err := lc.GrantConsent(ctx, g)
		if err != nil {
			b.Fatal(err)
		}
		waitFor(b, func() bool { return decide() })
		r, _ := key.Revoke(consent.ConsentID)
		if _, err := lc.RevokeConsent(ctx, r); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		waitFor(b, func() bool { return !decide() })
		delays = append(delays, time.Since(committed))
	}
	b.StopTimer()
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "commit-to-deny-p50-ms")
	b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "commit-to-deny-max-ms")
	b.ReportMetric(0, "ns/op")
}

func waitFor(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("condition not reached within 30s")
		}
	}
}
