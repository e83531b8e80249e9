package ingest

import (
	"errors"

	"healthexchange/services/pep"
)

// Domain errors of the ingest service; status.go maps them to gRPC codes.
var (
	// ErrInvalid: the request itself is wrong.
	ErrInvalid = errors.New("invalid request")
	// ErrDenied: the consent service did not allow the access.
	ErrDenied = pep.ErrDenied
	// ErrNotFound: no such batch or reading of this patient.
	ErrNotFound = errors.New("not found")
	// ErrNotAnchored: the batch is stored but its anchor is not on the
	// ledger yet.
	ErrNotAnchored = errors.New("not anchored yet")
	// ErrTampered: stored data does not match what was signed or anchored.
	ErrTampered = errors.New("stored batch failed its integrity check")
	// ErrUnavailable: object storage, the ledger or the consent service could
	// not be reached.
	ErrUnavailable = errors.New("unavailable")
)

// DeniedError is a denial with the policy's reasons (see pep).
type DeniedError = pep.DeniedError
