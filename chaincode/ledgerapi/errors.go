package ledgerapi

import "errors"

// Domain errors. Every error the chaincode returns for a refused request wraps
// one of these, so callers can branch with errors.Is.
var (
	// ErrInvalid: the input is malformed or breaks a rule; the message names the field.
	ErrInvalid = errors.New("invalid input")
	// ErrSignature: a signature is malformed or was not made by the expected key.
	ErrSignature = errors.New("signature rejected")
	// ErrNonce: a patient-signed change reuses a nonce (replay) or goes backwards.
	ErrNonce = errors.New("stale or replayed nonce")
	// ErrNotFound: the referenced object is not on the ledger.
	ErrNotFound = errors.New("not found")
	// ErrExists: an object with that id is already on the ledger.
	ErrExists = errors.New("already registered")
	// ErrConflict: the request contradicts what the ledger holds.
	ErrConflict = errors.New("conflicts with the ledger")
	// ErrForbidden: the caller, or the consents involved, do not allow the request.
	ErrForbidden = errors.New("forbidden")
)
