package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/auth/devissuer"
)

const (
	providersIdP = "https://idp.providers.example"
	researchIdP  = "https://idp.research.example"
	patientsIdP  = "https://idp.patients.example"
	insurerIdP   = "https://idp.insurer.example"
	audience     = "records"
)

// t0 is the verifier's clock in every test that does not say otherwise.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is trusted issuers, each for one organisation (the providers',
// the insurer's and the patients' sign EdDSA with one key, the research
// institute's ES256), and a verifier that trusts them and whose clock reads
// t0.
type fixture struct {
	ed        *devissuer.Issuer
	edKey     ed25519.PrivateKey
	edPubFile string
	es        *ecdsa.PrivateKey
	esPubFile string
	cfg       auth.Config
	v         *auth.Verifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{edPubFile: filepath.Join(dir, "providers.pub"), esPubFile: filepath.Join(dir, "research.pub")}
	var err error
	if _, f.edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	if f.ed, err = devissuer.New(providersIdP, f.edKey); err != nil {
		t.Fatal(err)
	}
	if err := f.ed.WritePublicKey(f.edPubFile); err != nil {
		t.Fatal(err)
	}
	if f.es, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	writePublicKey(t, f.esPubFile, &f.es.PublicKey)
	f.cfg = auth.NewConfig()
	f.cfg.Audience = audience
	f.cfg.Issuers = map[string]auth.Issuer{
		providersIdP: {Keys: []string{f.edPubFile}, Org: "ProvidersMSP", Roles: []auth.Role{auth.RoleClinician, auth.RolePharmacist}},
		insurerIdP:   {Keys: []string{f.edPubFile}, Org: "InsurerMSP", Roles: []auth.Role{auth.RoleInsurer}},
		patientsIdP:  {Keys: []string{f.edPubFile}, Roles: []auth.Role{auth.RolePatient}},
		researchIdP:  {Keys: []string{f.esPubFile}, Org: "ResearchMSP", Roles: []auth.Role{auth.RoleResearcher}},
	}
	f.cfg.Now = func() time.Time { return t0 }
	if f.v, err = auth.NewVerifier(f.cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

func writePublicKey(t testing.TB, path string, pub any) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// claims are a valid clinician's claims from the providers' issuer at t0,
// changed by edits: a nil value removes the claim.
func claims(edits map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":  providersIdP,
		"sub":  "dr-alice",
		"aud":  audience,
		"iat":  t0.Add(-time.Minute).Unix(),
		"exp":  t0.Add(50 * time.Minute).Unix(),
		"role": "clinician",
		"org":  "ProvidersMSP",
	}
	maps.Copy(c, edits)
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		}
	}
	return c
}

// edToken signs claims as the providers' issuer (EdDSA).
func (f *fixture) edToken(t testing.TB, c jwt.MapClaims) string {
	t.Helper()
	tok, err := f.ed.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// esToken signs claims with the research issuer's key (ES256).
func (f *fixture) esToken(t testing.TB, c jwt.MapClaims) string {
	t.Helper()
	return sign(t, jwt.SigningMethodES256, f.es, c)
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
