package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"healthexchange/services/platform/auth"
)

// FuzzVerify: no input makes Verify panic, every rejection wraps a sentinel
// and does not repeat the token, and anything accepted carries a signature
// that verifies, checked here without the jwt library, by a trusted key.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	edGood, err := fx.ed.Sign(claims(nil))
	if err != nil {
		f.Fatal(err)
	}
	esGood, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims(map[string]any{"iss": researchIdP, "role": "researcher", "org": "ResearchMSP", "study": "s-1"})).SignedString(fx.es)
	if err != nil {
		f.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		f.Fatal(err)
	}
	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil)).SignedString([]byte(fx.ed.PublicKey()))
	if err != nil {
		f.Fatal(err)
	}
	for _, good := range []string{edGood, esGood} {
		if _, err := fx.v.Verify(good); err != nil {
			f.Fatalf("a valid seed is rejected, the property would hold vacuously: %v", err)
		}
	}
	for _, seed := range []string{
		edGood, esGood, none, hs,
		edGood[:len(edGood)-2], strings.Replace(edGood, ".", "..", 1), edGood + "." + edGood,
		"", ".", "..", "a.b.c", "e30.e30.", "e30.e30.e30", "eyJhbGciOiJFZERTQSJ9.e30.AAAA",
	} {
		f.Add(seed)
	}
	sentinels := []error{auth.ErrMissingToken, auth.ErrInvalidToken, auth.ErrExpired, auth.ErrNotYetValid, auth.ErrWrongIssuer, auth.ErrWrongAudience, auth.ErrInvalidClaims}

	f.Fuzz(func(t *testing.T, token string) {
		p, err := fx.v.Verify(token)
		if err != nil {
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if len(token) >= 16 && strings.Contains(err.Error(), token) {
				t.Fatalf("error repeats the token: %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted a Principal that does not validate: %v", err)
		}
		if !signedByTrustedKey(fx, token) {
			t.Fatalf("accepted a token whose signature does not verify: %q", token)
		}
	})
}

// signedByTrustedKey checks a compact JWS the long way: the header's alg,
// then the signature over header.payload with the fixture's key for it.
func signedByTrustedKey(fx *fixture, token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(rawHeader, &header) != nil {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	signed := []byte(parts[0] + "." + parts[1])
	switch header.Alg {
	case "EdDSA":
		return ed25519.Verify(fx.ed.PublicKey(), signed, sig)
	case "ES256":
		if len(sig) != 64 {
			return false
		}
		digest := sha256.Sum256(signed)
		return ecdsa.Verify(&fx.es.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	}
	return false
}

// FuzzParseEd25519PrivateKey: no input makes it panic, and what it accepts
// is an Ed25519 key whose signature verifies.
func FuzzParseEd25519PrivateKey(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	good := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	f.Add(good)
	f.Add(append(append([]byte{}, good...), good...))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		k, err := auth.ParseEd25519PrivateKey(raw)
		if err != nil {
			return
		}
		sig := ed25519.Sign(k, []byte("probe"))
		if !ed25519.Verify(k.Public().(ed25519.PublicKey), []byte("probe"), sig) {
			t.Fatal("an accepted key does not sign")
		}
	})
}
