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

// VerifyResult is the notary's answer, as the public may have it: whether
// the hash is notarized, which versions and when, nothing about whose.
type VerifyResult struct {
	Match   bool
	SHA256  string
	Matches []Notarized
	Reason  string
}

// Notarized is a matching version: its record (when the caller named it),
// number and time.
type Notarized struct {
	RecordID    string
	Version     int
	NotarizedAt string
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Verify checks a resource (its bytes exactly as filed, hashed) or a hash against
// the ledger: against one record's versions when RecordID is set, else
// against every notarized version. It needs no consent: it reads nothing
// stored, and it answers only whether and when the hash was notarized, never
// the patient, category, author or organisation of the record (anyone who
// holds a copy of a document could learn them otherwise).
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
		sum = fhir.Digest(req.Resource)
	}
	if req.RecordID != "" {
		r, err := s.ledger.Verify(ctx, req.RecordID, sum)
		if errors.Is(err, ledgerapi.ErrNotFound) {
			return VerifyResult{}, fmt.Errorf("%w: record %s is not notarized", ErrNotFound, req.RecordID)
		}
		if err != nil {
			return VerifyResult{}, err
		}
		out := VerifyResult{Match: r.Match, SHA256: sum, Reason: "does not match any version of the record"}
		if r.Match {
			n := r.Notarization
			out.Matches = []Notarized{{RecordID: n.RecordID, Version: n.Version, NotarizedAt: n.Timestamp}}
			out.Reason = fmt.Sprintf("matches version %d, notarized at %s", n.Version, n.Timestamp)
		}
		return out, nil
	}
	found, err := s.ledger.RecordsByHash(ctx, sum)
	if err != nil {
		return VerifyResult{}, err
	}
	out := VerifyResult{Match: len(found) > 0, SHA256: sum, Reason: "no notarized version has this hash"}
	for _, n := range found {
		out.Matches = append(out.Matches, Notarized{Version: n.Version, NotarizedAt: n.Timestamp})
	}
	if len(found) > 0 {
		out.Reason = fmt.Sprintf("matches %d notarized version(s), first notarized at %s", len(found), found[0].Timestamp)
	}
	return out, nil
}
