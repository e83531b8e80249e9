package records

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
)

// VerifyRequest is a resource, or its hash, to check against the notary.
type VerifyRequest struct {
	RecordID string
	Resource []byte
	SHA256   string
}

// VerifyResult is the notary's answer.
type VerifyResult struct {
	Match    bool
	SHA256   string
	Versions []ledgerapi.Notarization
	Reason   string
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Verify checks a resource (canonicalized, then hashed) or a hash against
// the ledger: against one record's versions when RecordID is set, else
// against every notarized version. It needs no consent: it reads nothing
// stored, and what it returns (ids, hashes, categories, times) is what
// every member of the ledger can read.
func (s *Service) Verify(ctx context.Context, req VerifyRequest) (VerifyResult, error) {
	ctx, span := tracer.Start(ctx, "verify")
	defer span.End()
	var errs []error
	if req.RecordID != "" {
		errs = append(errs, ledgerapi.ValidateID("record_id", req.RecordID))
	}
	switch {
	case len(req.Resource) > 0 && req.SHA256 != "":
		errs = append(errs, errors.New("give either resource or sha256, not both"))
	case len(req.Resource) == 0 && req.SHA256 == "":
		errs = append(errs, errors.New("resource or sha256 is required"))
	case req.SHA256 != "" && !hexHash.MatchString(req.SHA256):
		errs = append(errs, errors.New("sha256 must be 64 lower-case hex digits"))
	}
	if err := errors.Join(errs...); err != nil {
		return VerifyResult{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	sum := req.SHA256
	if sum == "" {
		var err error
		if _, sum, err = fhir.Hash(req.Resource); err != nil {
			return VerifyResult{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	if req.RecordID != "" {
		r, err := s.ledger.Verify(ctx, req.RecordID, sum)
		if errors.Is(err, ledgerapi.ErrNotFound) {
			return VerifyResult{}, fmt.Errorf("%w: record %s is not notarized", ErrNotFound, req.RecordID)
		}
		if err != nil {
			return VerifyResult{}, err
		}
		return VerifyResult{Match: r.Match, SHA256: sum, Versions: []ledgerapi.Notarization{r.Notarization}, Reason: r.Reason}, nil
	}
	found, err := s.ledger.RecordsByHash(ctx, sum)
	if err != nil {
		return VerifyResult{}, err
	}
	out := VerifyResult{Match: len(found) > 0, SHA256: sum, Versions: found, Reason: "no notarized version has this hash"}
	switch len(found) {
	case 0:
	case 1:
		out.Reason = fmt.Sprintf("matches version %d of record %s", found[0].Version, found[0].RecordID)
	default:
		out.Reason = fmt.Sprintf("matches %d notarized versions", len(found))
	}
	return out, nil
}
