package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"healthexchange/services/platform/auth"
)

const jwksIdP = "https://idp.stmarys.example"

// jwksServer serves a key set over TLS; set changes what it serves.
type jwksServer struct {
	*httptest.Server
	caFile string
	mu     sync.Mutex
	body   []byte
	status int
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.WriteHeader(s.status)
		w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	s.caFile = filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(s.caFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *jwksServer) set(body []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status = body, status
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func edJWK(pub ed25519.PublicKey) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(pub), "use": "sig", "kid": "ed"}
}

func ecJWK(pub *ecdsa.PublicKey) map[string]any {
	point, err := pub.Bytes() // 0x04, x, y
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(point[1:33]), "y": b64(point[33:]), "alg": "ES256", "kid": "ec"}
}

func keySet(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func jwksConfig(s *jwksServer) auth.Config {
	cfg := auth.NewConfig()
	cfg.Audience = audience
	cfg.Issuers = map[string]auth.Issuer{jwksIdP: {JWKS: s.URL + "/jwks.json", JWKSCA: s.caFile, Org: "StMarysMSP", Roles: []auth.Role{auth.RoleClinician}}}
	cfg.Now = func() time.Time { return t0 }
	return cfg
}

func stMarys(edits map[string]any) jwt.MapClaims {
	c := claims(map[string]any{"iss": jwksIdP, "org": "StMarysMSP"})
	for k, v := range edits {
		c[k] = v
	}
	return c
}

func TestKeySetIssuer(t *testing.T) {
	s := newJWKSServer(t)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	esKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// The RSA key and the encryption key are skipped, not refused.
	s.set(keySet(t, edJWK(edPub), ecJWK(&esKey.PublicKey),
		map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"},
		map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(edPub), "use": "enc"}), http.StatusOK)
	v, err := auth.NewVerifier(jwksConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	if !v.FetchesKeys() {
		t.Error("FetchesKeys = false for an issuer with a key set")
	}
	for name, tok := range map[string]string{
		"EdDSA": sign(t, jwt.SigningMethodEdDSA, edKey, stMarys(nil)),
		"ES256": sign(t, jwt.SigningMethodES256, esKey, stMarys(nil)),
	} {
		if p, err := v.Verify(tok); err != nil || p.Org != "StMarysMSP" {
			t.Errorf("%s token signed with a key of the set: %+v, %v", name, p, err)
		}
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := v.Verify(sign(t, jwt.SigningMethodEdDSA, other, stMarys(nil))); err == nil {
		t.Error("a token signed by a key outside the set verified")
	}
	// The issuer speaks for St Mary's only, key set or not.
	if _, err := v.Verify(sign(t, jwt.SigningMethodEdDSA, edKey, stMarys(map[string]any{"org": "ProvidersMSP"}))); !errors.Is(err, auth.ErrInvalidClaims) {
		t.Errorf("a key-set issuer's token claiming another organisation: %v, want invalid claims", err)
	}

	t.Run("rotation: the new key counts after a refresh, the withdrawn one no longer", func(t *testing.T) {
		newPub, newKey, _ := ed25519.GenerateKey(rand.Reader)
		s.set(keySet(t, edJWK(newPub)), http.StatusOK)
		if err := v.RefreshKeys(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(sign(t, jwt.SigningMethodEdDSA, newKey, stMarys(nil))); err != nil {
			t.Errorf("token of the new key: %v", err)
		}
		if _, err := v.Verify(sign(t, jwt.SigningMethodEdDSA, edKey, stMarys(nil))); err == nil {
			t.Error("a token of the withdrawn key verified")
		}
		if _, err := v.Verify(sign(t, jwt.SigningMethodES256, esKey, stMarys(nil))); err == nil {
			t.Error("a token of the withdrawn ES256 key verified")
		}
		// A failed refresh keeps the keys fetched before.
		s.set([]byte("unavailable"), http.StatusServiceUnavailable)
		if err := v.RefreshKeys(t.Context()); err == nil {
			t.Fatal("a refresh from an endpoint answering 503 succeeded")
		}
		if _, err := v.Verify(sign(t, jwt.SigningMethodEdDSA, newKey, stMarys(nil))); err != nil {
			t.Errorf("after a failed refresh: %v", err)
		}
	})
}

func TestKeySetIssuerRefusesBadSets(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	priv := edJWK(edPub)
	priv["d"] = b64(make([]byte, 32))
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"endpoint down", []byte("no"), http.StatusInternalServerError, "500"},
		{"not JSON", []byte("<html>"), http.StatusOK, "key set"},
		{"private key published", keySet(t, priv), http.StatusOK, "private key"},
		{"no usable key", keySet(t, map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}), http.StatusOK, "no Ed25519 or P-256"},
		{"short Ed25519 key", keySet(t, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64([]byte("short"))}), http.StatusOK, "Ed25519"},
		{"point off the curve", keySet(t, map[string]any{"kty": "EC", "crv": "P-256", "x": b64(make([]byte, 32)), "y": b64(make([]byte, 32))}), http.StatusOK, "P-256"},
		{"larger than the bound", append([]byte(`{"keys":[],"pad":"`), append([]byte(strings.Repeat("x", auth.MaxJWKSBytes)), '"', '}')...), http.StatusOK, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newJWKSServer(t)
			s.set(tc.body, tc.status)
			_, err := auth.NewVerifier(jwksConfig(s))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewVerifier = %v, want an error about %q (a service does not start without its issuer's keys)", err, tc.want)
			}
		})
	}
	t.Run("a certificate the CA did not sign", func(t *testing.T) {
		s := newJWKSServer(t)
		s.set(keySet(t, edJWK(edPub)), http.StatusOK)
		cfg := jwksConfig(s)
		iss := cfg.Issuers[jwksIdP]
		iss.JWKSCA = ""
		cfg.Issuers[jwksIdP] = iss
		if _, err := auth.NewVerifier(cfg); err == nil {
			t.Fatal("a key set from a server the system's roots do not trust was taken")
		}
	})
}

func TestKeySetIssuerFlag(t *testing.T) {
	name, iss, err := auth.ParseIssuer("https://idp.stmarys.example=jwks:https://idp.stmarys.example/jwks.json,org=StMarysMSP,roles=clinician,jwks-ca=/etc/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	if name != jwksIdP || iss.JWKS != "https://idp.stmarys.example/jwks.json" || iss.JWKSCA != "/etc/ca.pem" || len(iss.Keys) != 0 {
		t.Fatalf("ParseIssuer = %q %+v", name, iss)
	}
	if again, iss2, err := auth.ParseIssuer(iss.String(name)); err != nil || again != name || iss2.JWKS != iss.JWKS || iss2.JWKSCA != iss.JWKSCA {
		t.Fatalf("String does not read back: %q -> %q %+v %v", iss.String(name), again, iss2, err)
	}
	for _, bad := range []string{
		"x=jwks:http://idp.example/jwks.json,org=StMarysMSP,roles=clinician",  // not https
		"x=jwks:https://user@idp.example/j,org=StMarysMSP,roles=clinician",    // credentials in the URL
		"x=jwks:https:///jwks.json,org=StMarysMSP,roles=clinician",            // no host
		"x=/tmp/k.pem,org=StMarysMSP,roles=clinician,jwks-ca=/etc/ca.pem",     // a CA without a key set
		"x=jwks:https://idp.example/j+k,org=StMarysMSP,roles=clinician",       // '+' in the URL
		"x=jwks:https://idp.example/j,org=StMarysMSP,roles=clinician,bogus=1", // unknown key
	} {
		if _, _, err := auth.ParseIssuer(bad); err == nil {
			t.Errorf("ParseIssuer(%q) accepted", bad)
		}
	}
}

func FuzzParseJWKS(f *testing.F) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	esKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, seed := range []map[string]any{edJWK(edPub), ecJWK(&esKey.PublicKey)} {
		raw, _ := json.Marshal(map[string]any{"keys": []any{seed}})
		f.Add(raw)
	}
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`{"keys":[]} {}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ed, p256, err := auth.ParseJWKS(raw)
		if err != nil {
			return
		}
		if len(ed)+len(p256) == 0 {
			t.Fatal("a key set without a usable key was accepted")
		}
		for _, k := range ed {
			if pub, ok := k.(ed25519.PublicKey); !ok || len(pub) != ed25519.PublicKeySize {
				t.Fatalf("an Ed25519 key of the wrong shape: %T", k)
			}
		}
		for _, k := range p256 {
			pub, ok := k.(*ecdsa.PublicKey)
			if !ok {
				t.Fatalf("a P-256 key of type %T", k)
			}
			if point, err := pub.Bytes(); err != nil {
				t.Fatalf("a P-256 key that does not encode: %v", err)
			} else if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point); err != nil {
				t.Fatalf("a P-256 key off the curve: %v", err)
			}
		}
	})
}
