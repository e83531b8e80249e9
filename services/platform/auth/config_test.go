package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthexchange/services/platform/auth"
)

func TestConfigValidate(t *testing.T) {
	valid := func() auth.Config {
		c := auth.NewConfig()
		c.Audience = audience
		c.Issuers = map[string]auth.Issuer{
			providersIdP: {Keys: []string{"providers.pub"}, Org: "ProvidersMSP", Roles: []auth.Role{auth.RoleClinician}},
			patientsIdP:  {Keys: []string{"patients.pub"}, Roles: []auth.Role{auth.RolePatient}},
		}
		return c
	}
	edit := func(name string, fn func(*auth.Issuer)) func(*auth.Config) {
		return func(c *auth.Config) {
			iss := c.Issuers[name]
			fn(&iss)
			c.Issuers[name] = iss
		}
	}
	tests := []struct {
		name    string
		edit    func(*auth.Config)
		wantErr string
	}{
		{name: "defaults plus audience and issuers", edit: func(*auth.Config) {}},
		{name: "zero leeway", edit: func(c *auth.Config) { c.Leeway = 0 }},
		{name: "maximum leeway", edit: func(c *auth.Config) { c.Leeway = auth.MaxLeeway }},
		{name: "no audience", edit: func(c *auth.Config) { c.Audience = "" }, wantErr: "audience is empty"},
		{name: "no issuers", edit: func(c *auth.Config) { c.Issuers = nil }, wantErr: "no trusted issuers"},
		{name: "empty issuer name", edit: func(c *auth.Config) {
			c.Issuers[""] = auth.Issuer{Keys: []string{"x.pub"}, Roles: []auth.Role{auth.RolePatient}}
		}, wantErr: "issuer name is empty"},
		{name: "issuer without key files", edit: edit(providersIdP, func(i *auth.Issuer) { i.Keys = nil }), wantErr: "no public key files"},
		{name: "empty key file name", edit: edit(providersIdP, func(i *auth.Issuer) { i.Keys = []string{""} }), wantErr: "empty public key file name"},
		{name: "negative leeway", edit: func(c *auth.Config) { c.Leeway = -time.Second }, wantErr: "leeway"},
		{name: "leeway over the maximum", edit: func(c *auth.Config) { c.Leeway = auth.MaxLeeway + time.Second }, wantErr: "leeway"},
		{name: "a day's lifetime", edit: func(c *auth.Config) { c.MaxLifetime = auth.LongestMaxLifetime }},
		{name: "lifetime over a day", edit: func(c *auth.Config) { c.MaxLifetime = auth.LongestMaxLifetime + time.Second }, wantErr: "lifetime"},
		{name: "no lifetime", edit: func(c *auth.Config) { c.MaxLifetime = 0 }, wantErr: "lifetime"},
		{name: "an organisation that is not a member", edit: edit(providersIdP, func(i *auth.Issuer) { i.Org = "EvilClinicMSP" }), wantErr: "not a member"},
		{name: "no roles", edit: edit(providersIdP, func(i *auth.Issuer) { i.Roles = nil }), wantErr: "no role"},
		{name: "an unknown role", edit: edit(providersIdP, func(i *auth.Issuer) { i.Roles = []auth.Role{"admin"} }), wantErr: "unknown role"},
		{name: "an organisation's issuer asserting patients", edit: edit(providersIdP, func(i *auth.Issuer) {
			i.Roles = append(i.Roles, auth.RolePatient)
		}), wantErr: "patients have no organisation"},
		{name: "the patients' issuer asserting clinicians", edit: edit(patientsIdP, func(i *auth.Issuer) {
			i.Roles = append(i.Roles, auth.RoleClinician)
		}), wantErr: "role patient only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.wantErr)
			}
			if _, err := auth.NewVerifier(c); err == nil {
				t.Fatal("NewVerifier accepted a config Validate rejects")
			}
		})
	}
	if d := auth.NewConfig().Leeway; d != 30*time.Second {
		t.Errorf("default leeway %v, want 30s", d)
	}
}

func TestNewVerifierKeyFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, blocks ...*pem.Block) string {
		var data []byte
		for _, b := range blocks {
			data = append(data, pem.EncodeToMemory(b)...)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pkixBlock := func(pub any) *pem.Block {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return &pem.Block{Type: "PUBLIC KEY", Bytes: der}
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub2, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}, NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, edPub, edPriv)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		files   []string
		wantErr string
		wantIs  error
	}{
		{name: "Ed25519 public key", files: []string{write("ed.pub", pkixBlock(edPub))}},
		{name: "P-256 public key", files: []string{write("p256.pub", pkixBlock(&p256.PublicKey))}},
		{name: "several keys in one file", files: []string{write("rotation.pub", pkixBlock(edPub), pkixBlock(edPub2), pkixBlock(&p256.PublicKey))}},
		{name: "several files", files: []string{write("a.pub", pkixBlock(edPub)), write("b.pub", pkixBlock(edPub2))}},
		{name: "certificate", files: []string{write("idp.crt", &pem.Block{Type: "CERTIFICATE", Bytes: certDER})}},
		{name: "missing file", files: []string{filepath.Join(dir, "missing.pub")}, wantErr: "missing.pub", wantIs: fs.ErrNotExist},
		{name: "not PEM", files: []string{writeRaw(t, dir, "junk.pub", "ssh-ed25519 AAAA...")}, wantErr: "no PEM public key"},
		{name: "private key", files: []string{write("leak.key", &pem.Block{Type: "PRIVATE KEY", Bytes: privDER})}, wantErr: "never its private key"},
		{name: "RSA key", files: []string{write("rsa.pub", pkixBlock(&rsaKey.PublicKey))}, wantErr: "only Ed25519 (EdDSA) and ECDSA P-256"},
		{name: "P-384 key", files: []string{write("p384.pub", pkixBlock(&p384.PublicKey))}, wantErr: "only P-256"},
		{name: "corrupt key", files: []string{write("bad.pub", &pem.Block{Type: "PUBLIC KEY", Bytes: []byte("nope")})}, wantErr: "PEM block 1"},
		{name: "one bad key among good ones", files: []string{write("mixed.pub", pkixBlock(edPub), pkixBlock(&rsaKey.PublicKey))}, wantErr: "PEM block 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := auth.NewConfig()
			cfg.Audience = audience
			cfg.Issuers = map[string]auth.Issuer{providersIdP: {Keys: tt.files, Org: "ProvidersMSP", Roles: []auth.Role{auth.RoleClinician}}}
			v, err := auth.NewVerifier(cfg)
			if tt.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("NewVerifier: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), providersIdP) {
				t.Fatalf("NewVerifier = %v, want an error naming the issuer and %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("error %v is not %v", err, tt.wantIs)
			}
		})
	}
}

func writeRaw(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A key rotation: the verifier holds the old and the new key, and tokens
// signed by either are accepted.
func TestVerifyWithRotatedKeys(t *testing.T) {
	f := newFixture(t)
	next := newFixture(t) // another Ed25519 key for the same issuer name
	cfg := f.cfg
	cfg.Issuers = map[string]auth.Issuer{providersIdP: {Keys: []string{f.edPubFile, next.edPubFile}, Org: "ProvidersMSP", Roles: []auth.Role{auth.RoleClinician}}}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"old key": f.edToken(t, claims(nil)), "new key": next.edToken(t, claims(nil))} {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(tok); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
	t.Run("verifier without the new key", func(t *testing.T) {
		if _, err := f.v.Verify(next.edToken(t, claims(nil))); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("got %v, want ErrInvalidToken", err)
		}
	})
}

func TestInterceptorConstructionFailsFast(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		build func()
	}{
		{name: "nil verifier, unary", build: func() { auth.UnaryServerInterceptor(nil) }},
		{name: "nil verifier, stream", build: func() { auth.StreamServerInterceptor(nil) }},
		{name: "method without service", build: func() { auth.UnaryServerInterceptor(f.v, auth.WithPublicMethods("Check")) }},
		{name: "method without leading slash", build: func() {
			auth.StreamServerInterceptor(f.v, auth.WithPublicMethods("grpc.health.v1.Health/Check"))
		}},
		{name: "whole service", build: func() { auth.UnaryServerInterceptor(f.v, auth.WithPublicMethods("/grpc.health.v1.Health/")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic at construction")
				}
			}()
			tt.build()
		})
	}
}

func TestParseIssuer(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    auth.Issuer
		wantErr string
	}{
		{spec: "https://idp.p=p.pub,org=ProvidersMSP,roles=clinician+pharmacist",
			want: auth.Issuer{Keys: []string{"p.pub"}, Org: "ProvidersMSP", Roles: []auth.Role{auth.RoleClinician, auth.RolePharmacist}}},
		{spec: "pat=a.pub+b.pub,org=,roles=patient", want: auth.Issuer{Keys: []string{"a.pub", "b.pub"}, Roles: []auth.Role{auth.RolePatient}}},
		{spec: "no-equals", wantErr: "not ISSUER=PEMFILE"},
		{spec: "x=x.pub", wantErr: "required"},
		{spec: "x=x.pub,org=ProvidersMSP", wantErr: "required"},
		{spec: "x=x.pub,org=ProvidersMSP,roles=clinician,org=StMarysMSP", wantErr: "single key=value"},
		{spec: "x=x.pub,org=ProvidersMSP,roles=clinician,color=red", wantErr: "unknown key"},
		{spec: "x=x.pub,org=EvilMSP,roles=clinician", wantErr: "not a member"},
		{spec: "x=x.pub,org=,roles=clinician", wantErr: "role patient only"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			name, got, err := auth.ParseIssuer(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseIssuer = %v, want an error about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if _, again, err := auth.ParseIssuer(got.String(name)); err != nil || fmt.Sprint(again) != fmt.Sprint(got) {
				t.Fatalf("String does not read back: %v, %+v", err, again)
			}
		})
	}
}
