package records

import (
	"context"
	"errors"
	"fmt"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/store/recordstore"
)

// Erasure is what an erasure removed, as the ledger recorded it.
type Erasure = ledgerapi.Erasure

// Erase erases a patient's data held off the ledger, at the patient's own
// signed request (a patient.erase payload with a fresh nonce): nothing
// happens without it. The ledger records the request first (the chaincode
// checks the signature and the nonce on every endorsing peer, and from then
// on the decision view denies every access to the patient); then the
// patient's data key is destroyed (crypto-shredding: nothing of theirs
// opens anywhere, nothing new is sealed for them), their record objects and
// their wearable objects (batches and proofs, the research service's
// inputs) are deleted, and the ledger records what was removed. Each step
// can be repeated: relaying the same signed request again resumes an
// erasure that failed half-way, and records it once.
//
// The caller must also be the patient (their token), so a stolen signed
// request alone is not enough.
func (s *Service) Erase(ctx context.Context, p auth.Principal, patientID string, request ledger.Signed) (Erasure, error) {
	ctx, span := tracer.Start(ctx, "erase")
	defer span.End()
	if err := ledgerapi.ValidateID("patient_id", patientID); err != nil {
		return Erasure{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if p.Role != auth.RolePatient || p.Subject != patientID {
		return Erasure{}, &DeniedError{Reasons: []string{"only the patient may erase their own records"}}
	}
	if request.Payload == "" || request.Signature == "" {
		return Erasure{}, fmt.Errorf("%w: the patient's signed erasure request is required", ErrInvalid)
	}
	req, err := ledgerapi.Parse[ledgerapi.PatientErasure]([]byte(request.Payload))
	if err != nil {
		return Erasure{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if req.PatientID != patientID {
		return Erasure{}, &DeniedError{Reasons: []string{fmt.Sprintf("the signed request erases patient %s, not %s", req.PatientID, patientID)}}
	}
	e, err := s.ledger.RequestErasure(ctx, request)
	if err != nil {
		return Erasure{}, err
	}
	if e.Status == ledgerapi.ErasureCompleted {
		return e, nil
	}
	// Counted from the ledger, so every retry counts the same: each record's
	// versions are 1 to its latest.
	versions := 0
	for bookmark := ""; ; {
		page, err := s.ledger.RecordsByPatient(ctx, patientID, maxPageSize, bookmark)
		if err != nil {
			return Erasure{}, err
		}
		for _, n := range page.Items {
			versions += n.Version
		}
		if bookmark = page.Bookmark; bookmark == "" {
			break
		}
	}
	if err := s.vault.Erase(ctx, patientID); err != nil {
		return Erasure{}, err
	}
	deleted, err := deleteAll(ctx, s.objects, recordstore.PatientPrefix(patientID))
	if err != nil {
		return Erasure{}, err
	}
	wearables := 0
	if s.wearables != nil {
		if wearables, err = deleteAll(ctx, s.wearables, patientID+"/"); err != nil {
			return Erasure{}, err
		}
	}
	counts := ledgerapi.ErasureCounts{RecordObjects: versions, WearableObjects: wearables}
	done, err := s.ledger.CompleteErasure(ctx, patientID, e.ErasureID, counts)
	if errors.Is(err, ledgerapi.ErrConflict) {
		// A retry after an earlier attempt completed it (its objects are
		// gone, so this attempt counted fewer): the ledger has the answer.
		done, err = s.ledger.Erasure(ctx, patientID)
	}
	if err != nil {
		return Erasure{}, err
	}
	s.log.WarnContext(ctx, "patient erased", "patient", patientID, "erasure", e.ErasureID, "record_versions", versions,
		"record_objects_deleted", deleted, "wearable_objects_deleted", wearables, "tx", done.CompleteTxID)
	return done, nil
}

// deleteAll deletes every object under prefix and counts them.
func deleteAll(ctx context.Context, objects interface {
	List(ctx context.Context, prefix string) ([]string, error)
	Delete(ctx context.Context, key string) error
}, prefix string) (int, error) {
	keys, err := objects.List(ctx, prefix)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for _, key := range keys {
		if err := objects.Delete(ctx, key); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return len(keys), nil
}
