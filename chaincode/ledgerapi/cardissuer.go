package ledgerapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// CardIssuer is an organisation of the exchange that issues SMART Health
// Cards (verifiable copies of records, such as a vaccination): the issuer
// URLs its cards name (iss) and the public keys it signs them with. An
// organisation registers its own issuer, so a card whose iss and key are
// not here is not from the exchange.
type CardIssuer struct {
	Org       string    `json:"org"`
	Issuers   []string  `json:"issuers"`
	Keys      []CardKey `json:"keys"`
	TxID      string    `json:"txId"`
	Timestamp string    `json:"timestamp"`
}

// CardKey is an issuer's ES256 public key as a JWK: P-256, its coordinates
// base64url without padding, Kid its RFC 7638 thumbprint.
type CardKey struct {
	Kid string `json:"kid"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// Bounds of an issuer's registration.
const (
	MaxCardIssuerURLs = 8
	MaxCardKeys       = 8
	maxIssuerURL      = 256
)

// ValidateIssuerURL checks that v is an absolute https (or http) URL with a
// host, without user, query, fragment or trailing slash: the form a card's
// iss takes, to which /.well-known/jwks.json is appended.
func ValidateIssuerURL(field, v string) error {
	u, err := url.Parse(v)
	if err != nil || len(v) > maxIssuerURL || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(v, "/") || u.Opaque != "" {
		return fmt.Errorf("%w: %s must be an absolute http(s) URL of at most %d characters, without query, fragment or trailing slash", ErrInvalid, field, maxIssuerURL)
	}
	return nil
}

// Validate checks that k is a P-256 point and Kid its thumbprint.
func (k CardKey) Validate() error {
	x, errX := base64.RawURLEncoding.Strict().DecodeString(k.X)
	y, errY := base64.RawURLEncoding.Strict().DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return fmt.Errorf("%w: key: x and y must be 32 bytes each, base64url without padding", ErrInvalid)
	}
	point := append(append([]byte{4}, x...), y...)
	if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point); err != nil {
		return fmt.Errorf("%w: key: not a point on P-256", ErrInvalid)
	}
	if k.Kid != k.Thumbprint() {
		return fmt.Errorf("%w: key: kid must be the key's RFC 7638 thumbprint", ErrInvalid)
	}
	return nil
}

// Thumbprint is the RFC 7638 thumbprint of the key: SHA-256 of its required
// members in lexicographic order, base64url without padding.
func (k CardKey) Thumbprint() string {
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + k.X + `","y":"` + k.Y + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
