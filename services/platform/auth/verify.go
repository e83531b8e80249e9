package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenBytes is the longest token Verify will look at.
const MaxTokenBytes = 8192

// The only signature algorithms accepted. HS* would let anyone who knows a
// public key forge tokens, RS* are not used by the exchange's issuers, and
// none is no signature at all.
const (
	algEdDSA = "EdDSA"
	algES256 = "ES256"
)

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	mu          sync.RWMutex // guards issuers (key sets are refreshed)
	issuers     map[string]issuerKeys
	jwks        map[string]jwksSource
	scopes      map[string]Issuer
	audience    string
	maxLifetime time.Duration
	leeway      time.Duration
	parser      *jwt.Parser
}

// NewVerifier validates cfg and loads every issuer's public keys, from its
// files or its key set URL; an unreadable or unusable key file or key set
// is an error here, not on the first request.
func NewVerifier(cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	v := &Verifier{issuers: make(map[string]issuerKeys, len(cfg.Issuers)), scopes: cfg.Issuers, audience: cfg.Audience,
		maxLifetime: cfg.MaxLifetime, leeway: cfg.Leeway}
	v.jwks = map[string]jwksSource{}
	for name, iss := range cfg.Issuers {
		if iss.JWKS != "" {
			client, err := jwksClient(iss.JWKSCA)
			if err != nil {
				return nil, fmt.Errorf("auth config: issuer %q: key set CA: %w", name, err)
			}
			v.jwks[name] = jwksSource{endpoint: iss.JWKS, client: client}
			continue
		}
		keys, err := loadIssuerKeys(name, iss.Keys)
		if err != nil {
			return nil, err
		}
		v.issuers[name] = keys
	}
	if err := v.RefreshKeys(context.Background()); err != nil {
		return nil, fmt.Errorf("auth config: %w", err)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{algEdDSA, algES256}),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// TrustIssuer trusts one more issuer, known by its Ed25519 public keys
// rather than by files: a service's own sign-in, whose key it makes itself.
// The name must not be one of the configured issuers'; iss says what it may
// assert, as for a configured one. Call it before the service serves.
func (v *Verifier) TrustIssuer(name string, iss Issuer, keys ...ed25519.PublicKey) error {
	if len(keys) == 0 {
		return fmt.Errorf("auth: issuer %q: no key", name)
	}
	iss.Keys = []string{"(in memory)"}
	if err := iss.validate(name); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, taken := v.scopes[name]; taken {
		return fmt.Errorf("auth: issuer %q is configured already", name)
	}
	var k issuerKeys
	for _, key := range keys {
		if len(key) != ed25519.PublicKeySize {
			return fmt.Errorf("auth: issuer %q: not an Ed25519 public key", name)
		}
		k.ed25519 = append(k.ed25519, key)
	}
	v.issuers[name], v.scopes[name] = k, iss
	return nil
}

// Trusts reports whether tokens of the issuer name are trusted.
func (v *Verifier) Trusts(name string) bool {
	_, ok := v.issuer(name)
	return ok
}

// Audience is the audience a token must name: this service's.
func (v *Verifier) Audience() string { return v.audience }

// issuer is what a trusted issuer may assert.
func (v *Verifier) issuer(name string) (Issuer, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	iss, ok := v.scopes[name]
	return iss, ok
}

// tokenClaims are the claims the exchange reads.
type tokenClaims struct {
	jwt.RegisteredClaims
	Role  string `json:"role"`
	Org   string `json:"org"`
	Study string `json:"study"`
	// Scope holds SMART on FHIR scopes, space-separated; nil when absent.
	Scope *string `json:"scope"`
	// Patient is the SMART launch context's patient, for patient/ scopes.
	Patient string `json:"patient"`
}

// Verify checks token's signature against its issuer's configured keys, its
// times, audience and claims, and returns the caller. Every error wraps one of
// the Err* sentinels; none contains the token.
func (v *Verifier) Verify(token string) (Principal, error) {
	if token == "" {
		return Principal{}, reject(ErrMissingToken, "empty token")
	}
	if len(token) > MaxTokenBytes {
		return Principal{}, reject(ErrInvalidToken, "longer than %d bytes", MaxTokenBytes)
	}
	if !isCompactJWS(token) {
		// base64 decoding would skip CR and LF, so a token with line breaks
		// in its signature would otherwise verify: one token, one spelling.
		return Principal{}, reject(ErrInvalidToken, "malformed (characters other than base64url and '.')")
	}
	var (
		claims tokenClaims
		keyErr error
	)
	tok, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		keys, err := v.keysFor(t, &claims)
		keyErr = err
		return keys, err
	})
	if err != nil {
		if keyErr != nil {
			return Principal{}, keyErr
		}
		return Principal{}, v.classify(tok, &claims, err)
	}
	p := Principal{
		Subject: claims.Subject,
		Role:    Role(claims.Role),
		Org:     claims.Org,
		Issuer:  claims.Issuer,
	}
	if p.Role == RoleResearcher {
		p.StudyID = claims.Study
	}
	if claims.ExpiresAt != nil {
		p.ExpiresAt = claims.ExpiresAt.Time
	}
	if claims.Scope != nil {
		scopes, err := ParseScopes(*claims.Scope)
		if err != nil {
			return Principal{}, err
		}
		spelled := make([]string, len(scopes))
		for i, sc := range scopes {
			spelled[i] = sc.String()
		}
		p.Scoped, p.Scopes, p.LaunchPatient = true, strings.Join(spelled, " "), claims.Patient
	}
	if p.Scoped && p.Role == RolePatient {
		p.LaunchPatient = p.Subject // a patient's context is themselves, whatever the token says
	}
	if err := p.Validate(); err != nil {
		return Principal{}, err
	}
	if err := v.inScope(p, &claims); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// Vouch checks a person another service of the exchange verified and passes
// on (a delegated call): their claims are well formed, and their issuer is
// one this verifier trusts, for their organisation and role. It is Verify
// without the token: the service that had the token checked its signature
// and its times.
func (v *Verifier) Vouch(p Principal) error {
	if err := p.Validate(); err != nil {
		return err
	}
	iss, ok := v.issuer(p.Issuer)
	if !ok {
		return reject(ErrWrongIssuer, "issuer %s is not trusted", quote(p.Issuer))
	}
	if p.Org != iss.Org {
		return reject(ErrInvalidClaims, "issuer %s does not speak for %s", quote(p.Issuer), quote(p.Org))
	}
	if !slices.Contains(iss.Roles, p.Role) {
		return reject(ErrInvalidClaims, "issuer %s may not assert role %s", quote(p.Issuer), p.Role)
	}
	return nil
}

// inScope checks what only the issuer's configuration can tell: the token
// speaks for the issuer's own organisation, in one of its roles, and lives
// no longer than the maximum.
func (v *Verifier) inScope(p Principal, claims *tokenClaims) error {
	iss, _ := v.issuer(p.Issuer)
	if p.Org != iss.Org {
		if iss.Org == "" {
			return reject(ErrInvalidClaims, "issuer %s is the patients' provider: its tokens name no organisation, this one names %s", quote(p.Issuer), quote(p.Org))
		}
		return reject(ErrInvalidClaims, "issuer %s speaks for %s only, not %s", quote(p.Issuer), iss.Org, quote(p.Org))
	}
	if !slices.Contains(iss.Roles, p.Role) {
		return reject(ErrInvalidClaims, "issuer %s may not assert role %s (only %v)", quote(p.Issuer), p.Role, iss.Roles)
	}
	if claims.IssuedAt == nil {
		return reject(ErrInvalidClaims, "missing iat: a token must say when it was issued")
	}
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life > v.maxLifetime+v.leeway {
		return reject(ErrInvalidClaims, "lives %v from iat to exp, longer than the %v allowed", life, v.maxLifetime)
	}
	return nil
}

// keysFor picks the keys that may have signed t: those of the issuer the
// (not yet verified) claims name, of the type t's algorithm needs. A token
// naming a trusted issuer but signed by anyone else then fails the signature
// check.
func (v *Verifier) keysFor(t *jwt.Token, claims *tokenClaims) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, reject(ErrInvalidToken, "critical header extensions (crit) are not supported")
	}
	if claims.Issuer == "" {
		return nil, reject(ErrWrongIssuer, "token has no iss claim")
	}
	v.mu.RLock()
	keys, ok := v.issuers[claims.Issuer]
	v.mu.RUnlock()
	if !ok {
		return nil, reject(ErrWrongIssuer, "issuer %s is not trusted", quote(claims.Issuer))
	}
	var set jwt.VerificationKeySet
	switch alg := t.Method.Alg(); alg {
	case algEdDSA:
		set.Keys = keys.ed25519
	case algES256:
		set.Keys = keys.p256
	default: // the parser already refused other algorithms; fail closed anyway
		return nil, reject(ErrInvalidToken, "algorithm %s is not accepted (only EdDSA and ES256)", quote(alg))
	}
	if len(set.Keys) == 0 {
		return nil, reject(ErrInvalidToken, "issuer %s has no %s key configured", quote(claims.Issuer), t.Method.Alg())
	}
	return set, nil
}

// classify turns a jwt error into one of ours, in a fixed order, with a
// reason taken from the claims rather than from the library's message (which
// may quote decoded token content).
func (v *Verifier) classify(tok *jwt.Token, claims *tokenClaims, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reject(ErrInvalidToken, "malformed (want three base64url segments: JSON header, JSON claims, signature)")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return reject(ErrInvalidToken, "unknown or missing signature algorithm (only EdDSA and ES256 are accepted)")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok != nil && tok.Method != nil {
			if alg := tok.Method.Alg(); alg != algEdDSA && alg != algES256 {
				return reject(ErrInvalidToken, "algorithm %s is not accepted (only EdDSA and ES256)", quote(alg))
			}
		}
		return reject(ErrInvalidToken, "signature does not verify with any key of issuer %s", quote(claims.Issuer))
	case claims.ExpiresAt == nil:
		return reject(ErrInvalidClaims, "missing exp")
	case errors.Is(err, jwt.ErrTokenExpired):
		return reject(ErrExpired, "expired at %s", claims.ExpiresAt.UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return reject(ErrNotYetValid, "not valid before %s", claims.NotBefore.UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return reject(ErrNotYetValid, "issued in the future (%s)", claims.IssuedAt.UTC().Format(time.RFC3339))
	case len(claims.Audience) == 0:
		return reject(ErrWrongAudience, "token has no aud claim, want %q", v.audience)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return reject(ErrWrongAudience, "aud does not include %q", v.audience)
	default:
		return reject(ErrInvalidToken, "rejected (%s)", fmt.Sprint(kindOf(err)))
	}
}

// kindOf names the jwt sentinel inside err without its detail text.
func kindOf(err error) error {
	for _, k := range []error{jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidClaims, jwt.ErrInvalidType, jwt.ErrInvalidKey, jwt.ErrInvalidKeyType} {
		if errors.Is(err, k) {
			return k
		}
	}
	return errors.New("unclassified")
}

// isCompactJWS reports whether s uses only the base64url alphabet and '.'.
func isCompactJWS(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
