package shc

import (
	"errors"
	"fmt"
)

// Every error from this package wraps exactly one of these, for errors.Is,
// except a failure of the system's randomness or of compress/flate while
// writing. Messages name the part of the input that is wrong, never its
// content.
var (
	// ErrMalformed: the input is not well formed: not base64url, not
	// DEFLATE, not a single JSON object, a duplicate member name, a member
	// of the wrong JSON type, a required member missing.
	ErrMalformed = errors.New("malformed input")
	// ErrInvalid: the input is well formed but breaks a SMART Health Card
	// rule: the issuer is not an http(s) URL, the health-card type is
	// missing, the FHIR payload is not a Bundle.
	ErrInvalid = errors.New("not a valid SMART Health Card")
	// ErrUnsupported: a feature this package refuses: an alg other than
	// ES256, a zip other than DEF, a crit header, a multi-chunk QR code.
	ErrUnsupported = errors.New("unsupported")
	// ErrTooLarge: the card, its inflated payload, its numeric form or a
	// key set is larger than this package's limit.
	ErrTooLarge = errors.New("too large")
	// ErrInvalidKey: a key is not a public P-256 signing key whose kid is
	// its thumbprint, or a key set carries private key material.
	ErrInvalidKey = errors.New("invalid key")
	// ErrUnknownKey: the key set has no valid key with the card's kid.
	ErrUnknownKey = errors.New("unknown key")
	// ErrSignature: the signature does not verify under the card's key.
	ErrSignature = errors.New("signature does not verify")
)

func fail(kind error, format string, args ...any) error {
	return fmt.Errorf("shc: %w: "+format, append([]any{kind}, args...)...)
}
