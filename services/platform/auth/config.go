package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxLeeway is the most clock skew a Config may tolerate.
const MaxLeeway = 2 * time.Minute

// Config says which identity providers to trust and what a token must say.
type Config struct {
	// Issuers maps each trusted issuer (the token's iss, exactly) to the PEM
	// files holding its public keys. A file may hold several keys (during a
	// key rotation) as PUBLIC KEY (PKIX) or CERTIFICATE blocks; each key must
	// be Ed25519 (for EdDSA tokens) or ECDSA P-256 (for ES256 tokens).
	Issuers map[string][]string
	// Audience is this service's name; a token's aud must include it.
	Audience string
	// Leeway is the clock skew tolerated on exp, nbf and iat (0 to MaxLeeway).
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewConfig returns the defaults: 30s leeway, the system clock, no issuers
// and no audience (both must be set).
func NewConfig() Config {
	return Config{
		Issuers: map[string][]string{},
		Leeway:  30 * time.Second,
		Now:     time.Now,
	}
}

// Validate reports the first missing or impossible setting.
func (c Config) Validate() error {
	switch {
	case c.Audience == "":
		return errors.New("auth config: audience is empty")
	case len(c.Issuers) == 0:
		return errors.New("auth config: no trusted issuers")
	case c.Leeway < 0 || c.Leeway > MaxLeeway:
		return fmt.Errorf("auth config: leeway %v is outside 0 to %v", c.Leeway, MaxLeeway)
	}
	for iss, files := range c.Issuers {
		if iss == "" {
			return errors.New("auth config: an issuer name is empty")
		}
		if len(files) == 0 {
			return fmt.Errorf("auth config: issuer %q has no public key files", iss)
		}
		for _, f := range files {
			if f == "" {
				return fmt.Errorf("auth config: issuer %q has an empty public key file name", iss)
			}
		}
	}
	return nil
}

// issuerKeys are one issuer's public keys, by the algorithm they verify.
type issuerKeys struct {
	ed25519 []jwt.VerificationKey // ed25519.PublicKey
	p256    []jwt.VerificationKey // *ecdsa.PublicKey on P-256
}

// loadIssuerKeys reads the PEM files of one issuer.
func loadIssuerKeys(iss string, files []string) (issuerKeys, error) {
	var keys issuerKeys
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return issuerKeys{}, fmt.Errorf("auth config: issuer %q: read public key: %w", iss, err)
		}
		pubs, err := parsePublicKeys(raw)
		if err != nil {
			return issuerKeys{}, fmt.Errorf("auth config: issuer %q: %s: %w", iss, f, err)
		}
		for _, pub := range pubs {
			switch k := pub.(type) {
			case ed25519.PublicKey:
				keys.ed25519 = append(keys.ed25519, k)
			case *ecdsa.PublicKey:
				keys.p256 = append(keys.p256, k)
			}
		}
	}
	return keys, nil
}

// parsePublicKeys returns every key in a PEM file; it refuses private keys,
// key types other than Ed25519 and ECDSA P-256, and files without a key.
func parsePublicKeys(raw []byte) ([]any, error) {
	var keys []any
	for n := 1; ; n++ {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			break
		}
		var pub any
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d: %w", n, err)
			}
			pub = k
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d: %w", n, err)
			}
			pub = cert.PublicKey
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %d is a %s: give the verifier the issuer's public key, never its private key", n, block.Type)
		default:
			return nil, fmt.Errorf("PEM block %d is a %s, want PUBLIC KEY or CERTIFICATE", n, block.Type)
		}
		switch k := pub.(type) {
		case ed25519.PublicKey:
			keys = append(keys, k)
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				return nil, fmt.Errorf("PEM block %d: ECDSA key on %s, only P-256 (ES256) is accepted", n, k.Curve.Params().Name)
			}
			keys = append(keys, k)
		default:
			return nil, fmt.Errorf("PEM block %d: %T keys are not accepted, only Ed25519 (EdDSA) and ECDSA P-256 (ES256)", n, pub)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return keys, nil
}
