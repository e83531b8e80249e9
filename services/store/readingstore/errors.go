package readingstore

import "errors"

// Errors of a read or a write.
var (
	// ErrNotFound: no such batch of this patient (or the patient is erased).
	ErrNotFound = errors.New("not found")
	// ErrTampered: stored data does not match what was signed.
	ErrTampered = errors.New("stored batch failed its integrity check")
	// ErrUnavailable: object storage could not be reached.
	ErrUnavailable = errors.New("unavailable")
)
