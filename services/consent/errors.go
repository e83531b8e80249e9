package consent

import "errors"

// Domain errors of the consent service; the server edge maps them (and the
// ledger's) to gRPC codes in one place (status.go).
var (
	// ErrInvalid: the request itself is wrong (a field missing or malformed).
	ErrInvalid = errors.New("invalid request")
	// ErrPermission: the caller may not do this (another patient's data, a
	// role that cannot make the call).
	ErrPermission = errors.New("permission denied")
	// ErrNotFound: no such access request.
	ErrNotFound = errors.New("not found")
	// ErrAnswered: the access request was already approved or denied.
	ErrAnswered = errors.New("access request already answered")
	// ErrNotRecorded: the decision could not be recorded durably, so it is
	// not given (fail closed).
	ErrNotRecorded = errors.New("the access event could not be recorded")
	// ErrUnavailable: something the call needs (the notification feed, the
	// decision view) cannot be reached; try again.
	ErrUnavailable = errors.New("unavailable")
	// ErrUnauthenticated: nobody is named as acting: no token, and no
	// enforcement point's on_behalf_of.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrNotInForce: a consent change is committed on the ledger but the
	// decision view does not have it yet: the caller is told, not assured.
	ErrNotInForce = errors.New("committed, not yet in force")
)
