package records

import (
	"context"
	"errors"
	"fmt"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/pep"
)

// Page sizes of ListRecords.
const (
	defaultPageSize = 50
	maxPageSize     = 100 // the chaincode's page limit
)

// ListRequest asks for a page of a patient's records.
type ListRequest struct {
	PatientID string
	PageSize  int
	PageToken string
	Purpose   string
}

// ListResult is a page of the records the caller may read.
type ListResult struct {
	Records       []ledgerapi.Notarization
	NextPageToken string
	// Withheld counts the records of the page the caller may not read.
	Withheld int
}

func (r *ListRequest) validate() error {
	var errs []error
	errs = append(errs, ledgerapi.ValidateID("patient_id", r.PatientID))
	if r.PageSize < 0 || r.PageSize > maxPageSize {
		errs = append(errs, fmt.Errorf("page_size must be 0 to %d", maxPageSize))
	}
	if r.PageSize == 0 {
		r.PageSize = defaultPageSize
	}
	if len(r.PageToken) > 4096 {
		errs = append(errs, errors.New("page_token is too long"))
	}
	if r.Purpose == "" {
		r.Purpose = defaultPurpose
	}
	errs = append(errs, ledgerapi.ValidatePurpose("purpose", r.Purpose))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// List returns the latest version's metadata of a page of the patient's
// records, keeping those the caller may read. The consent service decides
// each category of the page once (a read of the category); a record in a
// category denied that way is decided on its own (a consent may name
// records), and left out, counted in Withheld, if that is denied too. Every
// decision is an access event, as for a read.
func (s *Service) List(ctx context.Context, p auth.Principal, req ListRequest) (ListResult, error) {
	ctx, span := tracer.Start(ctx, "list")
	defer span.End()
	if err := req.validate(); err != nil {
		return ListResult{}, err
	}
	page, err := s.ledger.RecordsByPatient(ctx, req.PatientID, int32(req.PageSize), req.PageToken)
	if err != nil {
		return ListResult{}, err
	}
	if len(page.Items) == 0 {
		return ListResult{Records: []ledgerapi.Notarization{}, NextPageToken: page.Bookmark}, nil
	}

	var categories []*consentv1.Resource
	index := map[string]int{}
	for _, n := range page.Items {
		if _, ok := index[n.Category]; !ok {
			index[n.Category] = len(categories)
			categories = append(categories, &consentv1.Resource{PatientId: req.PatientID, Category: n.Category})
		}
	}
	q := manyQuery{action: actionRead, purpose: req.Purpose, resourceType: fhirType(ctx), interaction: interactionSearch}
	byCategory, _, err := s.authorizeMany(ctx, p, q, categories)
	if err != nil {
		return ListResult{}, err
	}
	var undecided []int
	var records []*consentv1.Resource
	for i, n := range page.Items {
		if !byCategory[index[n.Category]] {
			undecided = append(undecided, i)
			records = append(records, &consentv1.Resource{PatientId: req.PatientID, Category: n.Category, RecordId: n.RecordID})
		}
	}
	allowed := make([]bool, len(page.Items))
	for i, n := range page.Items {
		allowed[i] = byCategory[index[n.Category]]
	}
	if len(records) > 0 {
		byRecord, _, err := s.authorizeMany(ctx, p, q, records)
		if err != nil {
			return ListResult{}, err
		}
		for j, i := range undecided {
			allowed[i] = byRecord[j]
		}
	}
	out := ListResult{Records: []ledgerapi.Notarization{}, NextPageToken: page.Bookmark}
	for i, n := range page.Items {
		if allowed[i] {
			out.Records = append(out.Records, n)
		} else {
			out.Withheld++
		}
	}
	return out, nil
}

// HistoryRequest names a record whose versions to list.
type HistoryRequest struct {
	PatientID, RecordID, Purpose string
}

// History returns every version of a record the caller may read, oldest
// first.
func (s *Service) History(ctx context.Context, p auth.Principal, req HistoryRequest) ([]ledgerapi.Notarization, error) {
	ctx, span := tracer.Start(ctx, "history")
	defer span.End()
	if req.Purpose == "" {
		req.Purpose = defaultPurpose
	}
	if err := errors.Join(ledgerapi.ValidateID("patient_id", req.PatientID), ledgerapi.ValidateID("record_id", req.RecordID),
		ledgerapi.ValidatePurpose("purpose", req.Purpose)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	versions, err := s.viewedHistory(ctx, req.PatientID, req.RecordID)
	if err != nil {
		return nil, err
	}
	latest := versions[len(versions)-1]
	if _, err := s.authorize(ctx, p, pep.Access{Action: actionRead, Purpose: req.Purpose, ResourceType: fhirType(ctx), Interaction: interactionRead,
		PatientID: req.PatientID, Category: latest.Category, RecordID: req.RecordID}); err != nil {
		return nil, err
	}
	return versions, nil
}
