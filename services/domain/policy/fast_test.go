package policy_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"healthexchange/services/domain/policy"
)

// randomInput is a well-formed request, as the decision point checks them
// (known roles, actions, categories, purposes; ids; an RFC 3339 time), with
// consents of every kind: other patients, other grantees (the same user name
// at another organisation too), statuses, windows (open, past, future, after
// 2262, malformed), record limits.
func randomInput(r *rand.Rand) policy.Input {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	orgs := []string{"ProvidersMSP", "StMarysMSP", "PharmacyMSP"}
	role := pick("patient", "clinician", "clinician", "clinician", "pharmacist", "insurer", "researcher")
	in := policy.Input{
		Subject:  policy.Subject{ID: pick("dr-a", "dr-b", "pat-1", "pat-2"), Role: role, Org: pick(orgs...)},
		Action:   pick("read", "read", "write"),
		Resource: policy.Resource{PatientID: pick("pat-1", "pat-2"), Category: pick("labs", "notes", "prescriptions", "claims"), RecordID: pick("", "rec-1", "rec-2")},
		Purpose:  pick("treatment", "treatment", "emergency", "payment", "research"),
		Time:     pick("2030-06-01T12:00:00Z", "2030-06-01T12:00:00.5+02:00", "2031-01-01T00:00:00Z"),
	}
	if role == "patient" {
		in.Subject.Org = ""
	}
	if in.Purpose == "emergency" {
		in.BreakGlassReason = pick("", "short", "   padded    ", "unconscious in the emergency room")
	}
	times := []string{"", "", "2030-01-01T00:00:00Z", "2030-06-01T12:00:00Z", "2030-06-01T12:00:00.000000001Z", "2031-06-01T00:00:00Z", "2400-01-01T00:00:00Z", "not a time"}
	for i := range r.IntN(5) {
		c := policy.Consent{
			ConsentID:  pick("c1", "c2", "c3") + string(rune('a'+i)),
			PatientID:  pick("pat-1", "pat-2"),
			Categories: []string{pick("labs", "notes", "prescriptions", "claims")},
			Purposes:   []string{pick("treatment", "payment", "research")},
			RecordIDs:  []string{},
			NotBefore:  pick(times...),
			ExpiresAt:  pick(times...),
			Status:     pick("active", "active", "revoked"),
		}
		if r.IntN(3) == 0 {
			c.RecordIDs = []string{pick("rec-1", "rec-2")}
		}
		if r.IntN(2) == 0 {
			c.Grantee = policy.Grantee{Kind: "user", ID: pick(orgs...) + "/" + pick("dr-a", "dr-b")}
		} else {
			c.Grantee = policy.Grantee{Kind: "org", ID: pick(orgs...)}
		}
		in.Consents = append(in.Consents, c)
	}
	return in
}

// The fast allow never allows what the whole decision denies, and when it
// allows, it says exactly what the decision says. When it finds no allow,
// the engine's answer is the whole decision's.
func TestFastAllowAgreesWithTheDecision(t *testing.T) {
	e := realEngine(t)
	ctx := testContext(t)
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 1000
	}
	fastAllows, allows := 0, 0
	for i := range n {
		in := randomInput(r)
		full, err := e.FullDecision(ctx, in)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		fast, ok := e.FastAllow(ctx, in)
		if full.Allow {
			allows++
		}
		if ok {
			fastAllows++
			if diff := cmp.Diff(full, fast); diff != "" {
				t.Fatalf("case %d %+v: fast allow (+) differs from the decision (-):\n%s", i, in, diff)
			}
		}
		got, err := e.Decide(ctx, in)
		if err != nil || !cmp.Equal(got, full) {
			t.Fatalf("case %d: Decide = %+v, %v; want the decision %+v", i, got, err, full)
		}
	}
	t.Logf("%d requests: %d allowed, %d of them by the fast allow", n, allows, fastAllows)
	if fastAllows == 0 || fastAllows < allows/2 {
		t.Fatalf("the fast allow found %d of %d allows: it is not exercised", fastAllows, allows)
	}
}

// The numeric window is the string window: a consent that starts, or ends,
// exactly at the request time.
func TestFastAllowWindowEdges(t *testing.T) {
	e := realEngine(t)
	ctx := testContext(t)
	at := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct{ nb, ea string }{
		"starts now":           {at.Format(time.RFC3339Nano), ""},
		"ends now":             {"", at.Format(time.RFC3339Nano)},
		"ends a ns later":      {"", at.Add(time.Nanosecond).Format(time.RFC3339Nano)},
		"starts a ns later":    {at.Add(time.Nanosecond).Format(time.RFC3339Nano), ""},
		"other zone, same now": {"2030-06-01T14:00:00+02:00", ""},
		"ends after 2262":      {"", "2262-04-12T00:00:00Z"},
	} {
		t.Run(name, func(t *testing.T) {
			in := clinicianRead()
			in.Time = at.Format(time.RFC3339Nano)
			lc := labsConsent("c1")
			lc.NotBefore, lc.ExpiresAt = c.nb, c.ea
			in.Consents = []policy.Consent{lc}
			full, err := e.FullDecision(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			fast, ok := e.FastAllow(ctx, in)
			if ok != full.Allow || (ok && !cmp.Equal(fast, full)) {
				t.Fatalf("fast %v %+v, decision %+v", ok, fast, full)
			}
		})
	}
}
