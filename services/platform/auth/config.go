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
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"healthexchange/chaincode/ledgerapi"
)

// SignInIssuer is the iss of the tokens the patient web app's sign-in gives
// (the consent service signs them after the patient's key on the ledger
// signed a challenge): patients' tokens, trusted wherever the sign-in's
// public key is configured for it.
const SignInIssuer = "urn:healthexchange:consent:sign-in"

// MaxLeeway is the most clock skew a Config may tolerate.
const MaxLeeway = 2 * time.Minute

// Bounds of a Config's MaxLifetime: a person's token lives an hour by
// default, and never more than a day.
const (
	DefaultMaxLifetime = time.Hour
	LongestMaxLifetime = 24 * time.Hour
)

// Issuer is one trusted identity provider: its public keys, the one
// organisation it speaks for and the roles it may assert. A token it signs
// must name that organisation (none, for the patients' issuer) and one of
// those roles, so one organisation's provider can never mint another's
// people.
type Issuer struct {
	// Keys are the PEM files holding its public keys. A file may hold
	// several keys (during a key rotation) as PUBLIC KEY (PKIX) or
	// CERTIFICATE blocks; each key must be Ed25519 (for EdDSA tokens) or
	// ECDSA P-256 (for ES256 tokens).
	Keys []string
	// JWKS, instead of Keys, is the https URL of the issuer's JSON Web Key
	// Set, fetched at the start (a service does not start without it) and
	// every DefaultJWKSRefresh after; JWKSCA, if set, is the CA file its
	// TLS certificate is checked against instead of the system's roots.
	JWKS, JWKSCA string
	// Org is the MSP id of its organisation, one of the channel's members;
	// "" for the patients' provider, whose tokens carry no organisation.
	Org string
	// Roles it may assert: only patient for the patients' provider, never
	// patient for an organisation's.
	Roles []Role
}

// Config says which identity providers to trust and what a token must say.
type Config struct {
	// Issuers maps each trusted issuer (the token's iss, exactly) to what it
	// may say.
	Issuers map[string]Issuer
	// Audience is this service's name; a token's aud must include it.
	Audience string
	// MaxLifetime bounds a token's life from its iat to its exp (1 minute to
	// LongestMaxLifetime); a token that claims to live longer is refused.
	MaxLifetime time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat (0 to MaxLeeway).
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewConfig returns the defaults: 30s leeway, an hour's lifetime at most,
// the system clock, no issuers and no audience (both must be set).
func NewConfig() Config {
	return Config{
		Issuers:     map[string]Issuer{},
		MaxLifetime: DefaultMaxLifetime,
		Leeway:      30 * time.Second,
		Now:         time.Now,
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
	case c.MaxLifetime < time.Minute || c.MaxLifetime > LongestMaxLifetime:
		return fmt.Errorf("auth config: maximum token lifetime %v is outside 1m to %v", c.MaxLifetime, LongestMaxLifetime)
	}
	for name, iss := range c.Issuers {
		if err := iss.validate(name); err != nil {
			return err
		}
	}
	return nil
}

func (iss Issuer) validate(name string) error {
	if name == "" {
		return errors.New("auth config: an issuer name is empty")
	}
	switch {
	case iss.JWKS != "" && len(iss.Keys) > 0:
		return fmt.Errorf("auth config: issuer %q has both key files and a key set URL: give one", name)
	case iss.JWKS != "":
		if err := checkJWKSURL(iss.JWKS); err != nil {
			return fmt.Errorf("auth config: issuer %q: %w", name, err)
		}
	case iss.JWKSCA != "":
		return fmt.Errorf("auth config: issuer %q has a key set CA but no key set URL", name)
	case len(iss.Keys) == 0:
		return fmt.Errorf("auth config: issuer %q has no public key files", name)
	}
	for _, f := range iss.Keys {
		if f == "" {
			return fmt.Errorf("auth config: issuer %q has an empty public key file name", name)
		}
	}
	if iss.Org != "" {
		if _, member := ledgerapi.OrganisationOf(iss.Org); !member {
			return fmt.Errorf("auth config: issuer %q: organisation %q is not a member of the exchange (%v)", name, iss.Org, ledgerapi.MemberMSPs())
		}
	}
	if len(iss.Roles) == 0 {
		return fmt.Errorf("auth config: issuer %q may assert no role", name)
	}
	for _, r := range iss.Roles {
		switch {
		case !r.Valid():
			return fmt.Errorf("auth config: issuer %q: unknown role %q", name, r)
		case iss.Org == "" && r != RolePatient:
			return fmt.Errorf("auth config: issuer %q has no organisation, so it is the patients' provider and may assert role patient only, not %s", name, r)
		case iss.Org != "" && r == RolePatient:
			return fmt.Errorf("auth config: issuer %q speaks for %s: patients have no organisation (give them an issuer without org)", name, iss.Org)
		}
	}
	return nil
}

// ParseIssuer reads an issuer as a flag gives it:
// ISSUER=PEMFILE[+PEMFILE...],org=MSP_ID,roles=ROLE[+ROLE...] (org= empty
// for the patients' provider).
func ParseIssuer(spec string) (string, Issuer, error) {
	head, rest, _ := strings.Cut(spec, ",")
	name, files, ok := strings.Cut(head, "=")
	if !ok || name == "" || files == "" {
		return "", Issuer{}, fmt.Errorf("issuer %q is not ISSUER=PEMFILE,org=MSP_ID,roles=ROLE+ROLE (or ISSUER=jwks:https://...,org=...,roles=...)", spec)
	}
	var iss Issuer
	if endpoint, ok := strings.CutPrefix(files, "jwks:"); ok {
		iss.JWKS = endpoint
	} else {
		iss.Keys = strings.Split(files, "+")
	}
	seen := map[string]bool{}
	for kv := range strings.SplitSeq(rest, ",") {
		if rest == "" {
			break
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return "", Issuer{}, fmt.Errorf("issuer %q: %q is not a single key=value (org=, roles=)", spec, kv)
		}
		seen[k] = true
		switch k {
		case "org":
			iss.Org = v
		case "roles":
			for _, r := range strings.Split(v, "+") {
				iss.Roles = append(iss.Roles, Role(r))
			}
		case "jwks-ca":
			iss.JWKSCA = v
		default:
			return "", Issuer{}, fmt.Errorf("issuer %q: unknown key %q (org=, roles=, jwks-ca=)", spec, k)
		}
	}
	if !seen["org"] || !seen["roles"] {
		return "", Issuer{}, fmt.Errorf("issuer %q: org= and roles= are required (org= empty for the patients' provider)", spec)
	}
	return name, iss, iss.validate(name)
}

// String is the issuer as ParseIssuer reads it, named name.
func (iss Issuer) String(name string) string {
	roles := make([]string, len(iss.Roles))
	for i, r := range iss.Roles {
		roles[i] = string(r)
	}
	keys := strings.Join(iss.Keys, "+")
	if iss.JWKS != "" {
		keys = "jwks:" + iss.JWKS
	}
	out := name + "=" + keys + ",org=" + iss.Org + ",roles=" + strings.Join(roles, "+")
	if iss.JWKSCA != "" {
		out += ",jwks-ca=" + iss.JWKSCA
	}
	return out
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

// ParseEd25519PrivateKey reads an Ed25519 private key from one PKCS #8 PEM
// block (PRIVATE KEY), as `openssl genpkey -algorithm ed25519` writes it: a
// token issuer's signing key.
func ParseEd25519PrivateKey(raw []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" || len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("not one PKCS #8 PEM block (PRIVATE KEY)")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", k)
	}
	return key, nil
}
