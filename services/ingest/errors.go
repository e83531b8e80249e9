package ingest

import (
	"errors"

	"healthexchange/services/platform/pep"
	"healthexchange/services/store/readingstore"
)

// Domain errors of the ingest service; status.go maps them to gRPC codes.
var (
	// ErrInvalid: the request itself is wrong.
	ErrInvalid = errors.New("invalid request")
	// ErrDenied: the consent service did not allow the access.
	ErrDenied = pep.ErrDenied
	// ErrNotFound: no such batch or reading of this patient.
	ErrNotFound = readingstore.ErrNotFound
	// ErrNotAnchored: the batch is stored but its anchor is not on the
	// ledger yet.
	ErrNotAnchored = errors.New("not anchored yet")
	// ErrTampered: stored data does not match what was signed or anchored.
	ErrTampered = readingstore.ErrTampered
	// ErrUnavailable: object storage, the ledger or the consent service could
	// not be reached.
	ErrUnavailable = readingstore.ErrUnavailable
)

// DeniedError is a denial with the policy's reasons (see pep).
type DeniedError = pep.DeniedError
