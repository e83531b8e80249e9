package recordstore

import "errors"

// Errors of a read.
var (
	// ErrTampered: a stored version does not match its notarization (or is
	// missing).
	ErrTampered = errors.New("record failed its integrity check")
	// ErrErased: the patient's records have been erased.
	ErrErased = errors.New("the patient's records have been erased")
	// ErrUnavailable: object storage could not be reached.
	ErrUnavailable = errors.New("unavailable")
)
