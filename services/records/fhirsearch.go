package records

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/auth"
)

// patientOf returns the patient whose record recordID is: the FHIR API
// names records by id alone.
func (s *Service) patientOf(ctx context.Context, recordID string) (string, error) {
	if err := ledgerapi.ValidateID("id", recordID); err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if s.notary != nil {
		if versions, ok := s.notary.History(recordID); ok {
			return versions[0].PatientID, nil
		}
	}
	versions, err := s.ledger.RecordHistory(ctx, recordID)
	if errors.Is(err, ledgerapi.ErrNotFound) || err == nil && len(versions) == 0 {
		return "", fmt.Errorf("%w: no record %s", ErrNotFound, recordID)
	}
	if err != nil {
		return "", err
	}
	return versions[0].PatientID, nil
}

// readChecked reads a version whose access was already decided, checked
// against its notarization: a mismatch raises the tamper alarm, as Get does.
func (s *Service) readChecked(ctx context.Context, p auth.Principal, n ledgerapi.Notarization) ([]byte, error) {
	raw, err := s.read(ctx, n)
	if errors.Is(err, ErrTampered) {
		return nil, s.tamperAlarm(ctx, p, defaultPurpose, n, err)
	}
	return raw, err
}

// found is a record a search matched, with its resource as filed.
type found struct {
	n   ledgerapi.Notarization
	raw []byte
}

// searchRecords returns the latest versions of the patient's records that
// the caller may read (List's consent decisions, each an access event) and
// that match s, in the ledger's order. It looks through at most
// maxSearchScan records, and fails rather than answer from part of them.
func (s *Service) searchRecords(ctx context.Context, p auth.Principal, q fhir.Search) ([]found, error) {
	ctx, span := tracer.Start(ctx, "fhir-search")
	defer span.End()
	categories := fhir.Categories(q.Type)
	var out []found
	token := ""
	for pages := 1; ; pages++ {
		if pages > maxSearchScan/maxPageSize {
			// Counted in pages of the ledger's listing, readable or not,
			// and said without a count: the error tells nothing of what
			// the caller may not read.
			return nil, fmt.Errorf("%w: the patient has too many records for a search (more than %d pages of %d)", ErrInvalid, maxSearchScan/maxPageSize, maxPageSize)
		}
		page, err := s.List(ctx, p, ListRequest{PatientID: q.Patient, PageSize: maxPageSize, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, n := range page.Records {
			if !slices.Contains(categories, n.Category) {
				continue
			}
			raw, err := s.readChecked(ctx, p, n)
			if err != nil {
				return nil, err
			}
			if q.Matches(raw) {
				out = append(out, found{n: n, raw: raw})
			}
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		token = page.NextPageToken
	}
}
