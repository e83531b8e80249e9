package consent

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/ledger"
)

// Loaded view of the decision benchmarks: 100,000 consents of 10,000
// patients, each patient's ten consents to a mix of clinicians (by user)
// and organisations, over several categories, some revoked or expired.
const (
	loadedPatients           = 10_000
	loadedConsentsPerPatient = 10
)

// loadedView builds the loaded view, live.
func loadedView(b *testing.B) *View {
	v := NewView()
	events := make([]ledger.Event, 0, loadedPatients*(1+loadedConsentsPerPatient))
	categories := []string{"labs", "conditions", "vitals", "notes", "imaging", "medications"}
	for p := range loadedPatients {
		patient := fmt.Sprintf("pat-%05d", p)
		events = append(events, registeredEvent(b, patient))
		for i := range loadedConsentsPerPatient {
			id := fmt.Sprintf("c-%05d-%02d", p, i)
			var c ledgerapi.Consent
			switch {
			case i < 6: // to clinicians dr-0..dr-5 at Providers, one category each
				c = activeConsent(id, patient, ledgerapi.GranteeUser, ledgerapi.ProvidersMSP+"/dr-"+fmt.Sprint(i), categories[i:i+1], []string{"treatment"})
			case i == 6: // to St Mary's, all categories
				c = activeConsent(id, patient, ledgerapi.GranteeOrg, "StMarysMSP", categories, []string{"treatment"})
			case i == 7: // revoked, to dr-0
				c = revoked(activeConsent(id, patient, ledgerapi.GranteeUser, ledgerapi.ProvidersMSP+"/dr-0", categories, []string{"treatment"}))
			case i == 8: // expired, to dr-1
				c = activeConsent(id, patient, ledgerapi.GranteeUser, ledgerapi.ProvidersMSP+"/dr-1", categories, []string{"treatment"})
				c.ExpiresAt = "2030-01-01T00:00:00Z"
			default: // an insurer's claims
				c = activeConsent(id, patient, ledgerapi.GranteeOrg, "InsurerMSP", []string{"claims"}, []string{"payment"})
			}
			events = append(events, consentEvent(b, eventConsentGranted, c))
		}
	}
	if err := v.Apply(ledger.Block{Number: 0, Events: events}); err != nil {
		b.Fatal(err)
	}
	v.follow(1)
	return v
}

// loadedRequest is dr-<n>'s read of a random patient's category: with
// allow, the category dr-<n>'s own consent covers (it also holds a revoked
// and, for dr-1, an expired consent of the patient); otherwise one it
// does not.
func loadedRequest(r *rand.Rand, allow bool) policy.Input {
	n := r.IntN(6)
	category := []string{"labs", "conditions", "vitals", "notes", "imaging", "medications"}[n]
	if !allow {
		category = "allergies"
	}
	return policy.Input{
		Subject:  policy.Subject{ID: fmt.Sprintf("dr-%d", n), Role: "clinician", Org: ledgerapi.ProvidersMSP},
		Action:   "read",
		Resource: policy.Resource{PatientID: fmt.Sprintf("pat-%05d", r.IntN(loadedPatients)), Category: category},
		Purpose:  "treatment",
		Time:     "2031-06-01T12:00:00Z",
	}
}

// BenchmarkDecisionLoaded is what a decision costs the consent service
// before its access event: the patient's matching consents from the view
// (100,000 consents loaded) and the policy's decision over them. It reports
// the p50 and p99 of single decisions, allows and denies apart.
func BenchmarkDecisionLoaded(b *testing.B) {
	v := loadedView(b)
	e := realEngine(b)
	ctx := b.Context()
	for _, allow := range []bool{true, false} {
		name := map[bool]string{true: "allow", false: "deny"}[allow]
		b.Run(name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			for b.Loop() {
				in := loadedRequest(r, allow)
				t0 := time.Now()
				in.Prepared = v.MatchingPrepared(in.Resource.PatientID, in.Subject.ID, in.Subject.Org)
				d, err := e.Decide(ctx, in)
				lat = append(lat, time.Since(t0))
				if err != nil || d.Allow != allow {
					b.Fatalf("decision %+v, %v; want allow=%v", d, err, allow)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-us")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-us")
		})
	}
}

// BenchmarkViewMemory is what the decision view holds in memory for
// 100,000 consents of 10,000 patients (consents, indexes and prepared
// policy documents): the heap in use after loading it, less before, per
// consent. The sizing in deploy/SCALING.md starts from it.
func BenchmarkViewMemory(b *testing.B) {
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		v := loadedView(b)
		runtime.GC()
		runtime.ReadMemStats(&after)
		held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric(held/float64(loadedPatients*loadedConsentsPerPatient), "bytes/consent")
		b.ReportMetric(held/1e6, "MB-view")
		runtime.KeepAlive(v)
	}
	b.ReportMetric(0, "ns/op")
}
