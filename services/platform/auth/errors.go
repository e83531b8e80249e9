package auth

import (
	"errors"
	"fmt"
)

// Every error from Verify wraps exactly one of these, for errors.Is.
var (
	// ErrMissingToken: no token was presented.
	ErrMissingToken = errors.New("missing bearer token")
	// ErrInvalidToken: the token is malformed, uses an algorithm other than
	// EdDSA or ES256, or its signature does not verify.
	ErrInvalidToken = errors.New("invalid token")
	// ErrExpired: the token's exp is past (beyond the clock leeway).
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: the token's nbf or iat is in the future (beyond the
	// clock leeway).
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrWrongIssuer: the token has no iss, or one that is not configured.
	ErrWrongIssuer = errors.New("untrusted issuer")
	// ErrWrongAudience: the token's aud does not name this service.
	ErrWrongAudience = errors.New("wrong audience")
	// ErrInvalidClaims: a required claim is missing or malformed (exp, sub,
	// role, org, study).
	ErrInvalidClaims = errors.New("invalid claims")
)

// reject wraps kind with a reason a caller can act on. The reason never
// contains the token.
func reject(kind error, format string, args ...any) error {
	return fmt.Errorf("auth: %w: "+format, append([]any{kind}, args...)...)
}
