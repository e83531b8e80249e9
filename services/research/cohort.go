package research

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

// Ledger is what the research service reads from and writes to the ledger
// (*ledger.Client, as the research organisation).
type Ledger interface {
	ConsentsByGrantee(ctx context.Context, kind, id string, pageSize int, bookmark string) (ledgerapi.ConsentPage, error)
	RecordsByPatient(ctx context.Context, patientID string, pageSize int32, bookmark string) (ledgerapi.NotarizationPage, error)
	RecordDatasetRelease(ctx context.Context, r ledgerapi.DatasetReleaseRequest) (ledgerapi.DatasetRelease, error)
	DatasetRelease(ctx context.Context, datasetID string) (ledgerapi.DatasetRelease, error)
}

// Member is one patient of a cohort and the research consents that put them
// there.
type Member struct {
	PatientID  string
	ConsentIDs []string
}

// Cohort is who a dataset may be built from, as the ledger said at Time.
type Cohort struct {
	Time    time.Time
	Members []Member
	// Partial counts patients with an active research consent for the study
	// that does not cover every category asked for: they are left out.
	Partial int
}

// ConsentIDs are the consents of every member, sorted.
func (c Cohort) ConsentIDs() []string {
	var ids []string
	for _, m := range c.Members {
		ids = append(ids, m.ConsentIDs...)
	}
	slices.Sort(ids)
	return ids
}

const consentPageSize = 100

// findCohort returns the patients whose research consents, in force at now,
// together cover every category in need: consents given to the research
// organisation (research in general) or to the study. The ledger's word is
// taken at now; a consent revoked later does not change this cohort, and a
// consent revoked before is not in it.
func findCohort(ctx context.Context, l Ledger, studyID string, need []string, now time.Time) (Cohort, error) {
	type patient struct {
		covered  map[string]bool
		consents []string
	}
	patients := map[string]*patient{}
	for _, g := range []ledgerapi.Grantee{
		{Kind: ledgerapi.GranteeOrg, ID: ledgerapi.ResearchMSP},
		{Kind: ledgerapi.GranteeStudy, ID: studyID},
	} {
		bookmark := ""
		for {
			page, err := l.ConsentsByGrantee(ctx, g.Kind, g.ID, consentPageSize, bookmark)
			if err != nil {
				return Cohort{}, fmt.Errorf("%w: consents of %s %s: %w", ErrUnavailable, g.Kind, g.ID, err)
			}
			for _, c := range page.Items {
				if !researchInForce(c, g, now) {
					continue
				}
				p := patients[c.PatientID]
				if p == nil {
					p = &patient{covered: map[string]bool{}}
					patients[c.PatientID] = p
				}
				useful := false
				for _, cat := range c.Categories {
					if slices.Contains(need, cat) {
						p.covered[cat], useful = true, true
					}
				}
				if useful && !slices.Contains(p.consents, c.ConsentID) {
					p.consents = append(p.consents, c.ConsentID)
				}
			}
			if page.Bookmark == "" || len(page.Items) == 0 {
				break
			}
			bookmark = page.Bookmark
		}
	}
	cohort := Cohort{Time: now}
	for _, id := range slices.Sorted(maps.Keys(patients)) {
		p := patients[id]
		if len(p.covered) < len(need) {
			cohort.Partial++
			continue
		}
		slices.Sort(p.consents)
		cohort.Members = append(cohort.Members, Member{PatientID: id, ConsentIDs: p.consents})
	}
	return cohort, nil
}

// researchInForce reports whether c is a research consent given to g, active
// and within its window at now. The consent's own fields are checked: the
// ledger's index is not trusted to have filtered them.
func researchInForce(c ledgerapi.Consent, g ledgerapi.Grantee, now time.Time) bool {
	if c.Grantee != g || c.Status != ledgerapi.StatusActive || !slices.Contains(c.Purposes, ledgerapi.PurposeResearch) {
		return false
	}
	if len(c.RecordIDs) > 0 {
		return false // a consent limited to some records does not cover a category
	}
	if c.NotBefore != "" {
		nb, err := time.Parse(time.RFC3339, c.NotBefore)
		if err != nil || now.Before(nb) {
			return false
		}
	}
	if c.ExpiresAt != "" {
		exp, err := time.Parse(time.RFC3339, c.ExpiresAt)
		if err != nil || !now.Before(exp) {
			return false
		}
	}
	return true
}
