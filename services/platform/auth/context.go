package auth

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"
)

// MetadataKey is the gRPC metadata key that carries "Bearer <jwt>".
const MetadataKey = "authorization"

type principalKey struct{}

// NewContext returns a copy of ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal the interceptor verified for this
// request; false means there is none, and the caller must deny.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

func bearerFromMetadata(md metadata.MD) (string, error) {
	return bearerOf(md.Get(MetadataKey), fmt.Sprintf("%q metadata", MetadataKey))
}

// BearerToken is the bearer token of an HTTP request's Authorization
// header, checked as the gRPC interceptor checks the metadata:
// ErrMissingToken without one.
func BearerToken(h http.Header) (string, error) {
	return bearerOf(h.Values("Authorization"), "Authorization header")
}

// VerifyRequest verifies the bearer token of an HTTP request (BearerToken,
// then Verify): a route of a service's own checks its caller with it.
func (v *Verifier) VerifyRequest(r *http.Request) (Principal, error) {
	token, err := BearerToken(r.Header)
	if err != nil {
		return Principal{}, err
	}
	return v.Verify(token)
}

// bearerOf is the token of the one "Bearer <jwt>" value a request carries
// (where names it in errors).
func bearerOf(values []string, where string) (string, error) {
	switch len(values) {
	case 0:
		return "", reject(ErrMissingToken, "no %s", where)
	case 1:
	default:
		return "", reject(ErrInvalidToken, "%d %s values, want one", len(values), where)
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", reject(ErrInvalidToken, "%s must be \"Bearer <jwt>\"", where)
	}
	token = strings.TrimLeft(token, " ")
	if token == "" {
		return "", reject(ErrMissingToken, "empty bearer token")
	}
	if !isToken68(token) {
		return "", reject(ErrInvalidToken, "bearer token has characters a JWT cannot have")
	}
	return token, nil
}

// isToken68 reports whether s uses only the characters RFC 6750 allows in a
// bearer token (a JWT uses a subset).
func isToken68(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~+/=", c) >= 0:
		default:
			return false
		}
	}
	return true
}
