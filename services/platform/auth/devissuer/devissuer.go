// Package devissuer is a stand-in identity provider for demos and tests: it
// makes an Ed25519 issuer key pair (private key file 0600) and signs EdDSA
// tokens that auth.Verifier accepts when given the public key.
//
// It must never be used in production: real tokens come from each
// organisation's identity provider, and the services only ever hold public
// keys.
package devissuer

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"healthexchange/services/platform/auth"
)

// File names GenerateFiles writes into its directory.
const (
	KeyFile    = "issuer.key"
	PublicFile = "issuer.pub"
)

// GenerateFiles makes a new Ed25519 key pair and writes it to dir (created
// 0700 if missing): the PKCS#8 private key to issuer.key with mode 0600 and
// the PKIX public key to issuer.pub. It never overwrites an existing file.
func GenerateFiles(dir string) (keyPath, pubPath string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("devissuer: generate key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", "", fmt.Errorf("devissuer: encode private key: %w", err)
	}
	pubPEM, err := publicKeyPEM(pub)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("devissuer: %w", err)
	}
	keyPath, pubPath = filepath.Join(dir, KeyFile), filepath.Join(dir, PublicFile)
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("devissuer: %s already exists; remove it or choose another directory", p)
		}
	}
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(pubPath, pubPEM, 0o644); err != nil {
		_ = os.Remove(keyPath)
		return "", "", err
	}
	return keyPath, pubPath, nil
}

// writeNew creates path (failing if it exists) with perm and writes data.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("devissuer: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("devissuer: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("devissuer: write %s: %w", path, err)
	}
	return nil
}

func publicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("devissuer: encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Issuer signs tokens as one issuer name with one Ed25519 key.
type Issuer struct {
	name string
	key  ed25519.PrivateKey
}

// New returns an issuer called name (the tokens' iss) signing with key.
func New(name string, key ed25519.PrivateKey) (*Issuer, error) {
	if name == "" {
		return nil, errors.New("devissuer: issuer name is empty")
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("devissuer: Ed25519 private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	return &Issuer{name: name, key: key}, nil
}

// Generate returns an issuer called name with a new in-memory key.
func Generate(name string) (*Issuer, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devissuer: generate key: %w", err)
	}
	return New(name, key)
}

// Load reads a private key written by GenerateFiles (PKCS#8 PEM, Ed25519)
// and returns an issuer called name.
func Load(name, keyPath string) (*Issuer, error) {
	raw, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("devissuer: read issuer key: %w", err)
	}
	key, err := auth.ParseEd25519PrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %s: %w (want the issuer.key that keygen wrote)", keyPath, err)
	}
	return New(name, key)
}

// Name is the issuer name (iss) of the tokens this issuer signs.
func (i *Issuer) Name() string { return i.name }

// PublicKey is the key a verifier needs.
func (i *Issuer) PublicKey() ed25519.PublicKey { return i.key.Public().(ed25519.PublicKey) }

// WritePublicKey writes the public key as PKIX PEM to path (mode 0644), the
// form auth.Config.Issuers takes.
func (i *Issuer) WritePublicKey(path string) error {
	data, err := publicKeyPEM(i.PublicKey())
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("devissuer: %w", err)
	}
	return nil
}

// Claims are what a token says about its user.
type Claims struct {
	Subject string
	// Audiences are the services the token is for (at least one).
	Audiences []string
	Role      auth.Role
	Org       string
	StudyID   string
	// Scope, when set, is a SMART on FHIR scope claim (space-separated):
	// the token is then an app's, allowed only what its scopes allow.
	Scope string
	// Patient is the SMART launch context's patient, for patient/ scopes.
	Patient string
}

// Issue signs a token for c, valid from now for ttl. It refuses claims that
// auth.Verifier would reject, so a mistake shows here and not at the service.
func (i *Issuer) Issue(c Claims, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("devissuer: ttl %v must be positive", ttl)
	}
	if len(c.Audiences) == 0 || slices.Contains(c.Audiences, "") {
		return "", errors.New("devissuer: an audience is empty")
	}
	p := auth.Principal{Subject: c.Subject, Role: c.Role, Org: c.Org, StudyID: c.StudyID, LaunchPatient: c.Patient}
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	if _, err := auth.ParseScopes(c.Scope); err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	now := time.Now().Truncate(time.Second)
	claims := map[string]any{
		"iss":  i.name,
		"sub":  c.Subject,
		"aud":  c.Audiences,
		"iat":  now.Unix(),
		"nbf":  now.Unix(),
		"exp":  now.Add(ttl).Unix(),
		"role": string(c.Role),
	}
	if c.Org != "" {
		claims["org"] = c.Org
	}
	if c.StudyID != "" {
		claims["study"] = c.StudyID
	}
	if c.Scope != "" {
		claims["scope"] = c.Scope
	}
	if c.Patient != "" {
		claims["patient"] = c.Patient
	}
	return i.Sign(claims)
}

// Sign signs claims exactly as given, with no checks and no defaults (not
// even iss): for tests that need tokens a verifier must reject.
func (i *Issuer) Sign(claims map[string]any) (string, error) {
	token, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(claims)).SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("devissuer: sign: %w", err)
	}
	return token, nil
}
