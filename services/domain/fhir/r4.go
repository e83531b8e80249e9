package fhir

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// r4 is the R4 JSON parser of github.com/google/fhir/go with its extended
// validation (required elements, references), made once: it holds no state
// between calls.
var r4 = sync.OnceValues(func() (*jsonformat.Unmarshaller, error) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, err
	}
	u.MaxNestingDepth = maxDepth
	return u, nil
})

// maxR4Errors bounds how many of the R4 parser's errors an error reports.
const maxR4Errors = 5

// checkR4 checks raw against the R4 structure definitions: every element
// known to its type, of the right type and cardinality, required elements
// present, primitives in their formats. The parser's errors name an element
// path and the rule ("error at \"Observation.status\": code type mismatch");
// the values it found go to a field the errors' text leaves out, so
// nothing of the resource reaches the caller or a log.
func checkR4(raw []byte) error {
	u, err := r4()
	if err != nil {
		return failf(ErrInvalid, "$", "the R4 parser could not be set up: %v", err)
	}
	if _, err := u.UnmarshalR4(raw); err != nil {
		lines := strings.Split(err.Error(), "\n")
		if len(lines) > maxR4Errors {
			lines = append(lines[:maxR4Errors], "...")
		}
		return failf(ErrInvalid, "$", "not a valid R4 resource: %s", strings.Join(lines, "; "))
	}
	return nil
}

// Digest returns the SHA-256, in lower-case hex, of a resource's bytes
// exactly as filed: the digest the exchange notarizes. Whoever holds the
// filed file can check it against the ledger; a reformatted copy (another
// number spelling, other whitespace) is another file.
func Digest(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
