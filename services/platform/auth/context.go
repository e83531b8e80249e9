package auth

import (
	"context"
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
	values := md.Get(MetadataKey)
	switch len(values) {
	case 0:
		return "", reject(ErrMissingToken, "no %q metadata", MetadataKey)
	case 1:
	default:
		return "", reject(ErrInvalidToken, "%d %q metadata values, want one", len(values), MetadataKey)
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", reject(ErrInvalidToken, "%q metadata must be \"Bearer <jwt>\"", MetadataKey)
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
