package auth_test

import (
	"errors"
	"net/http"
	"testing"

	"healthexchange/services/platform/auth"
)

// An HTTP request's bearer token is read as the gRPC metadata's is: one
// "Bearer <jwt>" value, or a refusal that says whether it was missing.
func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   error
	}{
		{"none", nil, auth.ErrMissingToken},
		{"empty bearer", []string{"Bearer "}, auth.ErrMissingToken},
		{"another scheme", []string{"Basic abc"}, auth.ErrInvalidToken},
		{"two headers", []string{"Bearer abc", "Bearer def"}, auth.ErrInvalidToken},
		{"not a token's characters", []string{"Bearer a\"b"}, auth.ErrInvalidToken},
	} {
		h := http.Header{}
		for _, v := range tc.values {
			h.Add("Authorization", v)
		}
		if tok, err := auth.BearerToken(h); !errors.Is(err, tc.want) || tok != "" {
			t.Errorf("%s: %q %v, want %v", tc.name, tok, err, tc.want)
		}
	}
	h := http.Header{}
	h.Set("Authorization", "bearer  eyJ.x-y_z.sig=")
	if tok, err := auth.BearerToken(h); err != nil || tok != "eyJ.x-y_z.sig=" {
		t.Fatalf("a bearer token: %q %v", tok, err)
	}
}
