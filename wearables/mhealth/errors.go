package mhealth

import "errors"

// Domain errors. Every error this package returns wraps one of these, so
// callers can branch with errors.Is; the message names the field and the rule.
var (
	// ErrUnknownKind: the reading's kind is not one of the kinds defined here.
	ErrUnknownKind = errors.New("unknown reading kind")
	// ErrUnit: the unit is not the one canonical unit of the reading's kind.
	ErrUnit = errors.New("wrong unit")
	// ErrImplausible: a value is outside the plausible range of its kind.
	ErrImplausible = errors.New("implausible reading")
	// ErrTime: the effective time frame has the wrong form for the kind, is in
	// the future beyond the allowed clock skew, is too old, or cannot be
	// represented.
	ErrTime = errors.New("time out of bounds")
	// ErrFormat: a binary batch or a JSON reading is malformed, or a value
	// cannot be encoded without loss.
	ErrFormat = errors.New("malformed encoding")
	// ErrSignature: a key or signature is malformed, or the signature was not
	// made over the payload by the expected key.
	ErrSignature = errors.New("signature rejected")
)
