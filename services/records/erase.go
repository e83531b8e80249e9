package records

import (
	"context"
	"fmt"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/auth"
	"healthexchange/services/store/recordstore"
)

// Erase crypto-shreds a patient's records, at the patient's own request:
// first their data key is destroyed (from then on nothing of theirs opens,
// and nothing new is sealed for them), then every object under their prefix
// is deleted, then the ledger records that the erasure happened, with the
// number of record versions it removed. Each step can be repeated, so a
// retry after any failure finishes the job and records it once.
//
// Only the patient may erase, decided here rather than by the consent
// service: no consent can give another subject this right.
func (s *Service) Erase(ctx context.Context, p auth.Principal, patientID string) (ledgerapi.Erasure, error) {
	ctx, span := tracer.Start(ctx, "erase")
	defer span.End()
	if err := ledgerapi.ValidateID("patient_id", patientID); err != nil {
		return ledgerapi.Erasure{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if p.Role != auth.RolePatient || p.Subject != patientID {
		return ledgerapi.Erasure{}, &DeniedError{Reasons: []string{"only the patient may erase their own records"}}
	}
	// Counted from the ledger, so every retry counts the same: each record's
	// versions are 1 to its latest.
	versions := 0
	for bookmark := ""; ; {
		page, err := s.ledger.RecordsByPatient(ctx, patientID, maxPageSize, bookmark)
		if err != nil {
			return ledgerapi.Erasure{}, err
		}
		for _, n := range page.Items {
			versions += n.Version
		}
		if bookmark = page.Bookmark; bookmark == "" {
			break
		}
	}
	if err := s.vault.Erase(ctx, patientID); err != nil {
		return ledgerapi.Erasure{}, err
	}
	keys, err := s.objects.List(ctx, recordstore.PatientPrefix(patientID))
	if err != nil {
		return ledgerapi.Erasure{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for _, key := range keys {
		if err := s.objects.Delete(ctx, key); err != nil {
			return ledgerapi.Erasure{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	e, err := s.ledger.RecordErasure(ctx, ledgerapi.Erasure{PatientID: patientID, ErasureID: erasureID(patientID), ObjectsDeleted: versions})
	if err != nil {
		return ledgerapi.Erasure{}, err
	}
	s.log.WarnContext(ctx, "patient erased", "patient", patientID, "record_versions", versions, "objects_deleted", len(keys), "tx", e.TxID)
	return e, nil
}
