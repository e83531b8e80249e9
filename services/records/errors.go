package records

import (
	"errors"

	"healthexchange/services/platform/pep"
	"healthexchange/services/store/recordstore"
)

// Domain errors of the records service; the server edge maps them (and the
// ledger's, the vault's and the FHIR validator's) to gRPC codes in one place
// (status.go).
var (
	// ErrInvalid: the request itself is wrong (a field missing or malformed,
	// a resource that is not a valid FHIR resource of the patient).
	ErrInvalid = errors.New("invalid request")
	// ErrDenied: the consent service did not allow the access (see
	// DeniedError for the reasons).
	ErrDenied = pep.ErrDenied
	// ErrNotFound: no such record (or version) of this patient.
	ErrNotFound = errors.New("not found")
	// ErrTampered: a stored record does not match its notarization (or is
	// missing); it is not served, and a tamper alarm is raised.
	ErrTampered = recordstore.ErrTampered
	// ErrErased: the patient's records have been erased.
	ErrErased = recordstore.ErrErased
	// ErrIdempotencyKey: the idempotency key was used before for another
	// request.
	ErrIdempotencyKey = errors.New("idempotency key already used for another request")
	// ErrStale: the update was made from a version that is no longer the
	// latest.
	ErrStale = errors.New("the record has a newer version")
	// ErrUnavailable: object storage or the consent service could not be
	// reached; nothing was served, and a put can be retried.
	ErrUnavailable = recordstore.ErrUnavailable
)

// DeniedError is a denial with the policy's reasons (see pep).
type DeniedError = pep.DeniedError
