package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// MaxJWKSBytes is the largest key set a JWKS endpoint may answer.
const MaxJWKSBytes = 1 << 20

// jwksTimeout bounds one fetch of a key set.
const jwksTimeout = 10 * time.Second

// DefaultJWKSRefresh is how often a verifier fetches its issuers' key sets
// again (an issuer publishes a new key before it signs with it).
const DefaultJWKSRefresh = 5 * time.Minute

// checkJWKSURL accepts only an https URL with a host and nothing that
// would not survive the issuer flag's syntax.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https":
		return fmt.Errorf("%q: a key set is fetched over https only", raw)
	case u.Host == "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("%q: want https://host/path, without user or fragment", raw)
	case strings.ContainsAny(raw, ",+ "):
		return fmt.Errorf("%q: a key set URL may not hold ',', '+' or spaces", raw)
	}
	return nil
}

// jwk is one key of a JSON Web Key Set (RFC 7517), the members the
// exchange reads.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// ParseJWKS reads a key set: Ed25519 (kty OKP) and ECDSA P-256 (kty EC)
// signing keys are taken, keys of other types or uses are skipped. A set
// with private key material, a malformed key of an accepted type, or no
// usable key is refused.
func ParseJWKS(raw []byte) (ed, p256 []any, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&set); err != nil {
		return nil, nil, fmt.Errorf("key set: %w", err)
	}
	if dec.More() {
		return nil, nil, errors.New("key set: more than one JSON document")
	}
	for i, rawKey := range set.Keys {
		var k jwk
		if err := json.Unmarshal(rawKey, &k); err != nil {
			return nil, nil, fmt.Errorf("key set: key %d: %w", i, err)
		}
		if k.D != "" {
			return nil, nil, fmt.Errorf("key set: key %d holds a private key: a verifier takes public keys only", i)
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch {
		case k.Kty == "OKP" && k.Crv == "Ed25519" && (k.Alg == "" || k.Alg == algEdDSA):
			x, err := base64.RawURLEncoding.DecodeString(k.X)
			if err != nil || len(x) != ed25519.PublicKeySize {
				return nil, nil, fmt.Errorf("key set: key %d: x is not a base64url Ed25519 public key", i)
			}
			ed = append(ed, ed25519.PublicKey(x))
		case k.Kty == "EC" && k.Crv == "P-256" && (k.Alg == "" || k.Alg == algES256):
			pub, err := p256Key(k.X, k.Y)
			if err != nil {
				return nil, nil, fmt.Errorf("key set: key %d: %w", i, err)
			}
			p256 = append(p256, pub)
		}
	}
	if len(ed)+len(p256) == 0 {
		return nil, nil, errors.New("key set: no Ed25519 or P-256 signing key")
	}
	return ed, p256, nil
}

// p256Key is the P-256 public key of coordinates x and y (base64url, 32
// bytes each), checked to lie on the curve.
func p256Key(x64, y64 string) (*ecdsa.PublicKey, error) {
	x, errX := base64.RawURLEncoding.DecodeString(x64)
	y, errY := base64.RawURLEncoding.DecodeString(y64)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("x and y are not base64url P-256 coordinates")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, errors.New("the point is not on P-256")
	}
	return pub, nil
}

// jwksClient is the HTTP client of an issuer's key set: TLS verified
// against the system's roots, or the CA file given, bounded in time.
func jwksClient(caFile string) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	return &http.Client{Timeout: jwksTimeout, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment},
		CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("a key set endpoint may not redirect") }}, nil
}

// fetchJWKS fetches and parses an issuer's key set.
func fetchJWKS(ctx context.Context, client *http.Client, iss, endpoint string) (issuerKeys, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return issuerKeys{}, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return issuerKeys{}, fmt.Errorf("issuer %q: fetch key set: %w", iss, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return issuerKeys{}, fmt.Errorf("issuer %q: key set %s answered %s", iss, endpoint, resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSBytes+1))
	if err != nil {
		return issuerKeys{}, fmt.Errorf("issuer %q: read key set: %w", iss, err)
	}
	if len(raw) > MaxJWKSBytes {
		return issuerKeys{}, fmt.Errorf("issuer %q: key set %s is larger than %d bytes", iss, endpoint, MaxJWKSBytes)
	}
	ed, p256, err := ParseJWKS(raw)
	if err != nil {
		return issuerKeys{}, fmt.Errorf("issuer %q: %s: %w", iss, endpoint, err)
	}
	var keys issuerKeys
	for _, k := range ed {
		keys.ed25519 = append(keys.ed25519, k)
	}
	for _, k := range p256 {
		keys.p256 = append(keys.p256, k)
	}
	return keys, nil
}

// jwksSource is where a verifier fetches an issuer's keys.
type jwksSource struct {
	endpoint string
	client   *http.Client
}

// RefreshKeys fetches every key-set issuer's keys again. An issuer whose
// fetch fails keeps the keys it had (they were good when fetched, and a
// token lives an hour at most); the errors are returned together.
func (v *Verifier) RefreshKeys(ctx context.Context) error {
	var errs []error
	for name, src := range v.jwks {
		keys, err := fetchJWKS(ctx, src.client, name, src.endpoint)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v.mu.Lock()
		v.issuers[name] = keys
		v.mu.Unlock()
	}
	return errors.Join(errs...)
}

// FetchesKeys reports whether some issuer's keys come from a key set
// endpoint (and RefreshKeysEvery has work to do).
func (v *Verifier) FetchesKeys() bool { return len(v.jwks) > 0 }

// RefreshKeysEvery refreshes the key-set issuers' keys every period until
// ctx ends, telling onError of each failed refresh.
func (v *Verifier) RefreshKeysEvery(ctx context.Context, every time.Duration, onError func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := v.RefreshKeys(ctx); err != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
