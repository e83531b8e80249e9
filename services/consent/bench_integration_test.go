//go:build integration

package consent_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
)

const benchWorkers = 8

// report adds rate and latency percentiles to a benchmark.
func report(b *testing.B, unit string, elapsed time.Duration, lat []time.Duration) {
	if len(lat) == 0 {
		return // every call failed, and said so
	}
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
	return parallelN(b, benchWorkers, n, fn)
}

// parallelN runs n calls of fn over workers goroutines and returns each
// call's latency.
func parallelN(b *testing.B, workers, n int, fn func() error) ([]time.Duration, time.Duration) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
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

// decisionCallers is how many callers ask the decision service at once in
// BenchmarkDecisions (an enforcement point's concurrent requests).
const decisionCallers = 32

// BenchmarkDecisions: whole decisions through the running service, as an
// enforcement point asks for them: mutual TLS with its certificate, on
// behalf of the clinician it verified, 32 callers on one connection; the
// view, the policy and the access event made durable in the journal before
// each answer. single is one Authorize per decision, batch50 BatchAuthorize
// with 50 resources (b.N is decisions; rates are decisions per second).
// Each reports consentd's CPU per decision and the cores the ledger's
// processes used meanwhile. First, in the same run, the same decision made
// by the policy engine in this process, and single's ratio to it.
func BenchmarkDecisions(b *testing.B) {
	ctx := itest.BenchContext(b)
	c := itest.NewConsentd(b, consentdBin, "-decision-rate", "1000000", "-decision-burst", "1000000")
	dc := c.Decisions(b)
	clinician := itest.Unique("dr")
	var patients []string
	for range 4 {
		p := itest.NewPatient(b, c)
		for _, cat := range []string{"labs", "conditions", "vitals", "notes", "imaging"} {
			c.Grant(b, p, "--to", "user:ProvidersMSP/"+clinician, "--categories", cat, "--purposes", "treatment")
		}
		patients = append(patients, p.ID)
	}
	idp, err := itest.Env(b).IdPFor(ledgerapi.ProvidersMSP)
	if err != nil {
		b.Fatal(err)
	}
	who := &consentv1.Subject{Id: clinician, Role: string(auth.RoleClinician), Org: ledgerapi.ProvidersMSP, Issuer: idp.Issuer}
	categories := []string{"labs", "conditions", "vitals", "notes", "imaging"}
	var next atomic.Uint64
	resource := func() *consentv1.Resource {
		i := next.Add(1)
		return &consentv1.Resource{PatientId: patients[i%uint64(len(patients))], Category: categories[(i/4)%5]}
	}
	// In-process first, before the service's access events keep the
	// ledger busy.
	var floor float64
	b.Run("in-process", func(b *testing.B) {
		lat, elapsed := inProcess(ctx, b, b.N)
		report(b, "decisions", elapsed, lat)
		floor = float64(len(lat)) / elapsed.Seconds()
	})
	// measure runs fn and adds where the CPU went: consentd's CPU time per
	// decision, and the cores the ledger's processes used meanwhile (each
	// decision's access event is written to the ledger).
	measure := func(b *testing.B, perCall int, fn func() error) ([]time.Duration, time.Duration) {
		net0, cpu0 := itest.NetworkCPU(b), cpuTime(b, c.Pid())
		lat, elapsed := parallelN(b, decisionCallers, max(b.N/perCall, 1), fn)
		used := cpuTime(b, c.Pid()) - cpu0
		b.ReportMetric(float64(used.Microseconds())/float64(perCall*len(lat)), "consentd-cpu-us/decision")
		itest.CPUShare(b, net0, itest.NetworkCPU(b), elapsed)
		return lat, elapsed
	}
	b.Run("single", func(b *testing.B) {
		lat, elapsed := measure(b, 1, func() error {
			resp, err := dc.Authorize(ctx, &consentv1.AuthorizeRequest{OnBehalfOf: who, Action: "read", Purpose: "treatment", Resource: resource()})
			if err == nil && !resp.GetDecision().GetAllow() {
				b.Fatalf("benchmark decision denied: %v", resp.GetDecision())
			}
			return err
		})
		report(b, "decisions", elapsed, lat)
		if floor > 0 {
			b.ReportMetric(float64(len(lat))/elapsed.Seconds()/floor, "service/in-process")
		}
	})
	b.Run("batch50", func(b *testing.B) {
		lat, elapsed := measure(b, 50, func() error {
			rs := make([]*consentv1.Resource, 50)
			for i := range rs {
				rs[i] = resource()
			}
			resp, err := dc.BatchAuthorize(ctx, &consentv1.BatchAuthorizeRequest{OnBehalfOf: who, Action: "read", Purpose: "treatment", Resources: rs})
			if err == nil {
				for _, d := range resp.GetDecisions() {
					if !d.GetAllow() {
						b.Fatalf("benchmark decision denied: %v", d)
					}
				}
			}
			return err
		})
		report(b, "calls", elapsed, lat)
		b.ReportMetric(50*float64(len(lat))/elapsed.Seconds(), "decisions/s")
	})
}

func cpuTime(b *testing.B, pid int) time.Duration {
	d, err := itest.CPUTime(pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// inProcess makes the same decision (a clinician, five consents of the
// patient, the right one among them) n times with the policy engine in this
// process: the floor under a decision through the service, which adds
// mutual TLS, token checks, the view lookup and the durable access event.
func inProcess(ctx context.Context, b *testing.B, n int) ([]time.Duration, time.Duration) {
	e, err := policy.New(ctx)
	if err != nil {
		b.Fatal(err)
	}
	in := policy.Input{
		Subject: policy.Subject{ID: "dr-a", Role: "clinician", Org: ledgerapi.ProvidersMSP}, Action: "read",
		Resource: policy.Resource{PatientID: "pat-a", Category: "labs"}, Purpose: "treatment",
		Time: ledgerapi.FormatTime(time.Now()),
	}
	for i, cat := range []string{"conditions", "imaging", "labs", "notes", "vitals"} {
		in.Prepared = append(in.Prepared, policy.PrepareConsent(policy.Consent{ConsentID: fmt.Sprintf("c%d", i), PatientID: "pat-a",
			Grantee: policy.Grantee{Kind: "user", ID: "ProvidersMSP/dr-a"}, Categories: []string{cat},
			Purposes: []string{"treatment"}, RecordIDs: []string{}, Status: "active"}))
	}
	return parallel(b, n, func() error {
		d, err := e.Decide(ctx, in)
		if err == nil && d.ConsentID != "c2" {
			b.Fatalf("in-process decision %+v: want allowed by c2", d)
		}
		return err
	})
}

// BenchmarkCommitToDeny: a revocation committed on the ledger by someone
// else (straight through the ledger client, not this service); the time from
// its commit until the service's first deny, while 16 other callers keep
// asking for decisions (allowed ones, each with its access event on the
// ledger) as fast as the service answers.
func BenchmarkCommitToDeny(b *testing.B) {
	ctx := itest.BenchContext(b)
	c := itest.NewConsentd(b, consentdBin, "-decision-rate", "1000000", "-decision-burst", "1000000")
	dc := c.Decisions(b)
	loaded := decisionLoad(ctx, b, c, dc, 16)
	defer func() { b.ReportMetric(loaded(), "load-decisions/s") }()
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

// decisionLoad keeps callers goroutines asking dc for allowed decisions
// (a clinician on one patient's labs) until the returned function is
// called, which stops them and says how many decisions per second they got.
func decisionLoad(ctx context.Context, b *testing.B, c *itest.Consentd, dc consentv1.DecisionServiceClient, callers int) func() float64 {
	clinician := itest.Unique("dr-load")
	p := itest.NewPatient(b, c)
	c.Grant(b, p, "--to", "user:ProvidersMSP/"+clinician, "--categories", "labs", "--purposes", "treatment")
	idp, err := itest.Env(b).IdPFor(ledgerapi.ProvidersMSP)
	if err != nil {
		b.Fatal(err)
	}
	req := &consentv1.AuthorizeRequest{Action: "read", Purpose: "treatment", Resource: &consentv1.Resource{PatientId: p.ID, Category: "labs"},
		OnBehalfOf: &consentv1.Subject{Id: clinician, Role: string(auth.RoleClinician), Org: ledgerapi.ProvidersMSP, Issuer: idp.Issuer}}
	stop := make(chan struct{})
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := dc.Authorize(ctx, req)
				if err != nil || !resp.GetDecision().GetAllow() {
					b.Errorf("load decision: %v %v", resp.GetDecision(), err)
					return
				}
				done.Add(1)
			}
		})
	}
	return func() float64 {
		close(stop)
		wg.Wait()
		return float64(done.Load()) / time.Since(start).Seconds()
	}
}

func waitFor(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("condition not reached within 30s")
		}
	}
}
