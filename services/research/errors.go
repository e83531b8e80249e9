package research

import "errors"

// Domain errors of the research service; status.go maps them to gRPC codes.
var (
	// ErrInvalid: the request itself is wrong.
	ErrInvalid = errors.New("invalid request")
	// ErrDenied: the policy did not allow the call.
	ErrDenied = errors.New("access denied")
	// ErrNotFound: no such dataset of the caller (another researcher's
	// dataset is not found either).
	ErrNotFound = errors.New("not found")
	// ErrNotReleased: the dataset exists but has no files (queued, running or
	// failed).
	ErrNotReleased = errors.New("dataset not released")
	// ErrUnavailable: object storage, the ledger or the policy engine could
	// not be reached or answer.
	ErrUnavailable = errors.New("unavailable")
)
