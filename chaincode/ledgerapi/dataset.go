package ledgerapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxReleaseConsents bounds the consents one dataset release may cite.
const MaxReleaseConsents = 10000

// DatasetReleaseRequest is what a researcher records when releasing an
// anonymized dataset: its hash, the study, and the consents it was built from.
type DatasetReleaseRequest struct {
	DatasetID  string   `json:"datasetId"`
	SHA256     string   `json:"sha256"`
	StudyID    string   `json:"studyId"`
	Researcher string   `json:"researcher"`
	CohortSize int      `json:"cohortSize"`
	K          int      `json:"k"`
	ConsentIDs []string `json:"consentIds"`
}

// Validate checks the request on its own; the chaincode checks the consents.
func (r DatasetReleaseRequest) Validate() error {
	var cohortErr, kErr error
	if r.CohortSize < 1 {
		cohortErr = fmt.Errorf("%w: cohortSize must be at least 1", ErrInvalid)
	}
	if r.K < 2 {
		kErr = fmt.Errorf("%w: k must be at least 2", ErrInvalid)
	}
	return errors.Join(
		ValidateID("datasetId", r.DatasetID),
		ValidateHash("sha256", r.SHA256),
		ValidateID("studyId", r.StudyID),
		ValidateID("researcher", r.Researcher),
		cohortErr,
		kErr,
		checkList("consentIds", r.ConsentIDs, 1, MaxReleaseConsents, ValidateID),
	)
}

// DatasetRelease is a recorded release. ConsentSetSHA256 fingerprints the
// consents it cites (see ConsentSetSHA256).
type DatasetRelease struct {
	DatasetReleaseRequest
	ConsentSetSHA256 string `json:"consentSetSha256"`
	Timestamp        string `json:"timestamp"`
	TxID             string `json:"txId"`
}

// ConsentSetSHA256 is the lowercase hex SHA-256 of the sorted consent ids
// joined by "\n".
func ConsentSetSHA256(consentIDs []string) string {
	sorted := slices.Sorted(slices.Values(consentIDs))
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\n")))
	return hex.EncodeToString(sum[:])
}
