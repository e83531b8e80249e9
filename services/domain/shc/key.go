package shc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
)

// MaxJWKSBytes is the largest key set ParseJWKS reads.
const MaxJWKSBytes = 64 << 10

// The members every SMART Health Card issuer key has (spec: "Determining
// keys associated with an issuer").
const (
	ktyEC    = "EC"
	crvP256  = "P-256"
	useSig   = "sig"
	algES256 = "ES256"
)

// privateMembers are the JWK members of private or symmetric key material
// (RFC 7518 section 6). A key set that names any of them, in any letter
// case, is refused rather than stripped: its publisher has leaked a key.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// NewKey generates a P-256 signing key for Issue.
func NewKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("shc: generate key: %w", err)
	}
	return key, nil
}

// pointBytes is pub as an uncompressed SEC 1 point (0x04 || x || y, each
// coordinate 32 bytes, left-padded), or ErrInvalidKey if pub is not a
// valid P-256 public key.
func pointBytes(pub *ecdsa.PublicKey) (b []byte, err error) {
	if pub == nil || pub.Curve != elliptic.P256() {
		return nil, fail(ErrInvalidKey, "not a P-256 public key")
	}
	// PublicKey.Bytes dereferences the coordinates; a hand-built key
	// without them is an invalid key, not a crash.
	defer func() {
		if recover() != nil {
			b, err = nil, fail(ErrInvalidKey, "the public key has no point")
		}
	}()
	b, err = pub.Bytes()
	if err != nil || len(b) != 65 {
		return nil, fail(ErrInvalidKey, "the public key is not a point on P-256")
	}
	return b, nil
}

// thumbprintOf is the RFC 7638 thumbprint of the point p (pointBytes):
// SHA-256 of the required members in lexicographic order without
// whitespace, base64url without padding.
func thumbprintOf(p []byte) string {
	canonical := `{"crv":"` + crvP256 + `","kty":"` + ktyEC + `","x":"` + b64.EncodeToString(p[1:33]) +
		`","y":"` + b64.EncodeToString(p[33:65]) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:])
}

// Thumbprint is the RFC 7638 JWK thumbprint of a P-256 public key, the kid
// under which SMART Health Cards name it.
func Thumbprint(pub *ecdsa.PublicKey) (string, error) {
	p, err := pointBytes(pub)
	if err != nil {
		return "", err
	}
	return thumbprintOf(p), nil
}

// JWK is the public JSON Web Key (RFC 7517) of a SMART Health Card
// issuer: an ES256 signing key on P-256 whose kid is its thumbprint.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// JWKS is a JSON Web Key Set, as an issuer publishes at
// <iss>/.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK is the public JWK of pub as an issuer publishes it: kty EC,
// use sig, alg ES256, crv P-256, kid its thumbprint.
func PublicJWK(pub *ecdsa.PublicKey) (JWK, error) {
	p, err := pointBytes(pub)
	if err != nil {
		return JWK{}, err
	}
	return JWK{
		Kty: ktyEC, Kid: thumbprintOf(p), Use: useSig, Alg: algES256, Crv: crvP256,
		X: b64.EncodeToString(p[1:33]), Y: b64.EncodeToString(p[33:65]),
	}, nil
}

// publicKey is the key k describes, checked as ParseJWKS checks it: an EC
// P-256 ES256 signing key, a point on the curve, kid its thumbprint. If k
// fails a check, problem names the member that is wrong.
func (k JWK) publicKey() (pub *ecdsa.PublicKey, problem string) {
	switch {
	case k.Kty != ktyEC:
		return nil, "kty is not EC"
	case k.Crv != crvP256:
		return nil, "crv is not P-256"
	case k.Use != useSig:
		return nil, "use is not sig"
	case k.Alg != algES256:
		return nil, "alg is not ES256"
	}
	x, okX := decodeB64(k.X)
	y, okY := decodeB64(k.Y)
	if !okX || !okY || len(x) != 32 || len(y) != 32 {
		return nil, "x and y are not 32-byte base64url coordinates"
	}
	p := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), p)
	if err != nil {
		return nil, "the point is not on P-256"
	}
	if thumbprintOf(p) != k.Kid {
		return nil, "kid is not the key's thumbprint"
	}
	return pub, ""
}

// Key is the public key with the given kid. Only a key that passes the
// checks of ParseJWKS is returned, so a hand-built JWKS whose kid does not
// match its key finds nothing.
func (s JWKS) Key(kid string) (*ecdsa.PublicKey, bool) {
	for _, k := range s.Keys {
		if k.Kid != kid {
			continue
		}
		if pub, problem := k.publicKey(); problem == "" {
			return pub, true
		}
	}
	return nil, false
}

// ParseJWKS reads an issuer's key set, at most MaxJWKSBytes. It is strict:
// the set must be one JSON object without duplicate member names whose
// "keys" is an array, and every key must be an EC P-256 ES256 signing key
// (use sig) on the curve whose kid is its thumbprint. One bad key refuses
// the whole set, and so does any private key member ("d" and the like).
// Members other than those of JWK (x5c, for instance) are ignored.
func ParseJWKS(data []byte) (JWKS, error) {
	if len(data) > MaxJWKSBytes {
		return JWKS{}, fail(ErrTooLarge, "key set is larger than %d bytes", MaxJWKSBytes)
	}
	if err := checkObject(data); err != nil {
		return JWKS{}, fail(ErrMalformed, "key set: %v", err)
	}
	top, _ := parseObject(data)
	raw, ok := top["keys"]
	var keys []json.RawMessage
	if !ok || len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &keys) != nil {
		return JWKS{}, fail(ErrMalformed, "key set: keys is not an array")
	}
	set := JWKS{Keys: make([]JWK, 0, len(keys))}
	for i, rawKey := range keys {
		k, err := parseJWK(i, rawKey)
		if err != nil {
			return JWKS{}, err
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// parseJWK reads and checks key i of a key set.
func parseJWK(i int, raw json.RawMessage) (JWK, error) {
	o, ok := parseObject(raw)
	if !ok {
		return JWK{}, fail(ErrMalformed, "key set: key %d is not a JSON object", i)
	}
	for name := range o {
		for _, private := range privateMembers {
			if strings.EqualFold(name, private) {
				return JWK{}, fail(ErrInvalidKey, "key set: key %d carries private key material", i)
			}
		}
	}
	var k JWK
	for _, m := range []struct {
		name string
		dst  *string
	}{
		{"kty", &k.Kty}, {"kid", &k.Kid}, {"use", &k.Use}, {"alg", &k.Alg},
		{"crv", &k.Crv}, {"x", &k.X}, {"y", &k.Y},
	} {
		s, _, ok := o.str(m.name)
		if !ok {
			return JWK{}, fail(ErrMalformed, "key set: key %d: %s is missing or not a string", i, m.name)
		}
		*m.dst = s
	}
	if _, problem := k.publicKey(); problem != "" {
		return JWK{}, fail(ErrInvalidKey, "key set: key %d: %s", i, problem)
	}
	return k, nil
}
