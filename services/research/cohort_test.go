package research

import (
	"errors"
	"slices"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

// TestFindCohort checks which consents put a patient in a cohort, both with
// the ledger's index filtering by grantee and with an index that returns
// everything (the consents' own fields must decide).
func TestFindCohort(t *testing.T) {
	for _, sloppy := range []bool{false, true} {
		name := "exact index"
		if sloppy {
			name = "index returning every consent"
		}
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			l := newFakeLedger(func() time.Time { return testNow })
			l.sloppyIndex = sloppy
			need := []string{"demographics", "labs"}
			in := map[string][]string{} // patient -> consents that put them in

			in["p-research-org"] = []string{l.grant("p-research-org", researchOrg, need...)}
			in["p-study"] = []string{l.grant("p-study", study1, need...)}
			in["p-two-consents"] = []string{
				l.grant("p-two-consents", researchOrg, "labs"),
				l.grant("p-two-consents", study1, "demographics", "imaging"),
			}
			l.grant("p-other-study", ledgerapi.Grantee{Kind: ledgerapi.GranteeStudy, ID: "study-2"}, need...)
			l.add(ledgerapi.Consent{PatientID: "p-user", Grantee: ledgerapi.UserGrantee(ledgerapi.ResearchMSP, "alice"),
				Categories: need, Purposes: []string{ledgerapi.PurposeResearch}})
			l.add(ledgerapi.Consent{PatientID: "p-providers", Grantee: ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: ledgerapi.ProvidersMSP},
				Categories: need, Purposes: []string{ledgerapi.PurposeResearch}})
			l.revoke(l.grant("p-revoked", researchOrg, need...))
			l.add(ledgerapi.Consent{PatientID: "p-expired", Grantee: researchOrg, Categories: need, Purposes: []string{ledgerapi.PurposeResearch},
				ExpiresAt: ledgerapi.FormatTime(testNow.Add(-time.Hour))})
			l.add(ledgerapi.Consent{PatientID: "p-expires-now", Grantee: researchOrg, Categories: need, Purposes: []string{ledgerapi.PurposeResearch},
				ExpiresAt: ledgerapi.FormatTime(testNow)})
			l.add(ledgerapi.Consent{PatientID: "p-not-yet", Grantee: researchOrg, Categories: need, Purposes: []string{ledgerapi.PurposeResearch},
				NotBefore: ledgerapi.FormatTime(testNow.Add(time.Hour))})
			l.add(ledgerapi.Consent{PatientID: "p-treatment", Grantee: researchOrg, Categories: need, Purposes: []string{"treatment"}})
			l.add(ledgerapi.Consent{PatientID: "p-some-records", Grantee: researchOrg, Categories: need, Purposes: []string{ledgerapi.PurposeResearch},
				RecordIDs: []string{"r-1"}})
			// In force in a window that includes now.
			in["p-window"] = []string{l.add(ledgerapi.Consent{PatientID: "p-window", Grantee: researchOrg, Categories: need,
				Purposes:  []string{"treatment", ledgerapi.PurposeResearch},
				NotBefore: ledgerapi.FormatTime(testNow.Add(-time.Hour)), ExpiresAt: ledgerapi.FormatTime(testNow.Add(time.Hour))})}
			// Partial: labs only, or labs to another study.
			l.grant("p-labs-only", researchOrg, "labs")
			l.grant("p-half-elsewhere", researchOrg, "labs")
			l.grant("p-half-elsewhere", ledgerapi.Grantee{Kind: ledgerapi.GranteeStudy, ID: "study-2"}, "demographics")

			c, err := findCohort(ctx, l, "study-1", need, testNow)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, m := range c.Members {
				got[m.PatientID] = m.ConsentIDs
			}
			if len(got) != len(in) {
				t.Errorf("cohort = %v, want %v", got, in)
			}
			for p, ids := range in {
				slices.Sort(ids)
				if !slices.Equal(got[p], ids) {
					t.Errorf("patient %s: consents %v, want %v", p, got[p], ids)
				}
			}
			if c.Partial != 2 {
				t.Errorf("Partial = %d, want 2 (p-labs-only, p-half-elsewhere)", c.Partial)
			}
			if !c.Time.Equal(testNow) {
				t.Errorf("Time = %v, want %v", c.Time, testNow)
			}
			if want := slices.Sorted(slices.Values(slices.Concat(in["p-research-org"], in["p-study"], in["p-two-consents"], in["p-window"]))); !slices.Equal(c.ConsentIDs(), want) {
				t.Errorf("ConsentIDs = %v, want %v", c.ConsentIDs(), want)
			}
		})
	}
}

func TestFindCohortFollowsPages(t *testing.T) {
	ctx := testContext(t)
	l := newFakeLedger(func() time.Time { return testNow })
	l.pageSize = 3
	for i := range 10 {
		l.grant("org-patient-"+string(rune('a'+i)), researchOrg, "labs")
		l.grant("study-patient-"+string(rune('a'+i)), study1, "labs")
	}
	c, err := findCohort(ctx, l, "study-1", []string{"labs"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Members) != 20 {
		t.Errorf("cohort has %d members, want 20", len(c.Members))
	}
	if l.consentPages < 8 {
		t.Errorf("%d pages were read, want every page (8)", l.consentPages)
	}
}

// TestFindCohortDemographics: demographics is needed exactly when a
// quasi-identifier is output.
func TestFindCohortDemographics(t *testing.T) {
	ctx := testContext(t)
	l := newFakeLedger(func() time.Time { return testNow })
	l.grant("p-labs", researchOrg, "labs")
	l.grant("p-both", researchOrg, "labs", "demographics")

	for name, tc := range map[string]struct {
		fields  []string
		members []string
	}{
		"with a quasi-identifier":    {[]string{ColZIP3, ColCode}, []string{"p-both"}},
		"without quasi-identifiers":  {[]string{ColCode, ColValue}, []string{"p-both", "p-labs"}},
		"every field (the defaults)": {nil, []string{"p-both"}},
	} {
		t.Run(name, func(t *testing.T) {
			s := labsSpec()
			s.Fields = tc.fields
			if err := s.validate(); err != nil {
				t.Fatal(err)
			}
			c, err := findCohort(ctx, l, s.StudyID, s.consentCategories(), testNow)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range c.Members {
				got = append(got, m.PatientID)
			}
			if !slices.Equal(got, tc.members) {
				t.Errorf("members = %v, want %v", got, tc.members)
			}
		})
	}
}

func TestFindCohortLedgerDown(t *testing.T) {
	ctx := testContext(t)
	l := newFakeLedger(func() time.Time { return testNow })
	l.consentsErr = errLedgerUnavailable
	if _, err := findCohort(ctx, l, "study-1", []string{"labs"}, testNow); !errors.Is(err, ErrUnavailable) {
		t.Errorf("findCohort = %v, want ErrUnavailable", err)
	}
}
