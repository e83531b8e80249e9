package shc

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits of a card. A SMART Health Card fits in a QR code, so its JWS is
// a few kilobytes; its payload inflates to some tens of kilobytes at most.
const (
	// MaxJWSBytes is the longest compact JWS Decode reads or Issue writes.
	MaxJWSBytes = 16 << 10
	// MaxPayloadBytes is the most a card's payload may inflate to. Decode
	// stops inflating one byte past it, so a DEFLATE bomb costs nothing.
	MaxPayloadBytes = 64 << 10
)

// HealthCardType is the verifiable credential type every SMART Health Card
// has in vc.type.
const HealthCardType = "https://smarthealth.cards#health-card"

// FHIRVersion is the FHIR version Issue writes in credentialSubject.
const FHIRVersion = "4.0.1"

// maxUnixSeconds (9999-12-31T23:59:59Z) bounds nbf and exp.
const maxUnixSeconds = 253402300799

// Header is the protected header of a card's JWS.
type Header struct {
	// Alg is the signature algorithm, always ES256.
	Alg string `json:"alg"`
	// Zip is the payload's compression, always DEF (raw DEFLATE).
	Zip string `json:"zip"`
	// Kid is the signing key's RFC 7638 thumbprint.
	Kid string `json:"kid"`
}

// Payload is a card's JWT claims set.
type Payload struct {
	// Issuer is the issuer's URL; its key set is at
	// Issuer + "/.well-known/jwks.json".
	Issuer string `json:"iss"`
	// NotBefore is when the card was issued, in seconds since the Unix
	// epoch; other issuers write fractional seconds.
	NotBefore float64 `json:"nbf"`
	// Expires is when the card expires, in seconds since the Unix epoch,
	// or 0 if it does not (most cards do not).
	Expires float64 `json:"exp,omitempty"`
	// VC is the verifiable credential.
	VC VC `json:"vc"`
}

// VC is the verifiable credential of a card.
type VC struct {
	// Type lists the credential's types; it includes HealthCardType.
	Type []string `json:"type"`
	// CredentialSubject holds the FHIR content.
	CredentialSubject CredentialSubject `json:"credentialSubject"`
}

// CredentialSubject is the FHIR content of a card.
type CredentialSubject struct {
	// FHIRVersion is the FHIR version of the bundle, "4.0.1" for R4.
	FHIRVersion string `json:"fhirVersion"`
	// FHIRBundle is the FHIR Bundle, a JSON object.
	FHIRBundle json.RawMessage `json:"fhirBundle"`
}

// Credential is what a card asserts, without the JWT around it.
type Credential struct {
	// Types are the credential's types, including HealthCardType.
	Types []string
	// FHIRVersion is the FHIR version of the bundle.
	FHIRVersion string
	// Bundle is the FHIR Bundle, a JSON object.
	Bundle json.RawMessage
}

// Card is a decoded SMART Health Card. Decoding does not verify it: until
// Verify succeeds, nothing in it is known to come from its issuer.
type Card struct {
	// Header is the JWS protected header.
	Header Header
	// Payload is the inflated, parsed claims set.
	Payload Payload

	signingInput []byte // the JWS's header.payload, as signed
	signature    []byte // r || s, 32 bytes each
}

// NotBeforeTime is NotBefore as a UTC time, to the microsecond (a float64
// of seconds holds no finer).
func (p Payload) NotBeforeTime() time.Time {
	whole, frac := math.Modf(p.NotBefore)
	return time.Unix(int64(whole), 0).Add(time.Duration(math.Round(frac*1e6)) * time.Microsecond).UTC()
}

// Credential is the credential the card asserts, a copy its caller may
// keep.
func (c *Card) Credential() Credential {
	cs := c.Payload.VC.CredentialSubject
	return Credential{
		Types:       slices.Clone(c.Payload.VC.Type),
		FHIRVersion: cs.FHIRVersion,
		Bundle:      bytes.Clone(cs.FHIRBundle),
	}
}

// Issue signs a SMART Health Card for the FHIR Bundle bundle and returns
// its compact JWS: the header is exactly
// {"alg":"ES256","zip":"DEF","kid":"<thumbprint of key>"}, the payload is
// the minified claims set {"iss","nbf","vc":{"type","credentialSubject":
// {"fhirVersion":"4.0.1","fhirBundle"}}} compressed with raw DEFLATE (no
// zlib header), the signature is ES256 as r || s. issuer must be an
// absolute http(s) URL without a trailing slash, query or fragment; types
// must include HealthCardType; bundle must be a JSON object with
// "resourceType":"Bundle"; notBefore is written in whole seconds. Issue
// applies the rules of Decode to what it signs, so every card it returns
// decodes.
func Issue(key *ecdsa.PrivateKey, issuer string, notBefore time.Time, types []string, bundle json.RawMessage) (string, error) {
	if key == nil {
		return "", fail(ErrInvalidKey, "no signing key")
	}
	point, err := pointBytes(&key.PublicKey)
	if err != nil {
		return "", err
	}
	if problem := checkIssuer(issuer); problem != "" {
		return "", fail(ErrInvalid, "issuer: %s", problem)
	}
	nbf := notBefore.Unix()
	if nbf < 0 || nbf > maxUnixSeconds {
		return "", fail(ErrInvalid, "notBefore is not between 1970 and 9999")
	}
	for _, t := range types {
		if !utf8.ValidString(t) {
			return "", fail(ErrMalformed, "a type is not valid UTF-8")
		}
	}
	if !slices.Contains(types, HealthCardType) {
		return "", fail(ErrInvalid, "types do not include the health-card type")
	}
	if err := checkObject(bundle); err != nil {
		return "", fail(ErrMalformed, "bundle: %v", err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, bundle); err != nil {
		return "", fail(ErrMalformed, "bundle: not valid JSON")
	}
	payload := Payload{
		Issuer:    issuer,
		NotBefore: float64(nbf),
		VC: VC{
			Type:              types,
			CredentialSubject: CredentialSubject{FHIRVersion: FHIRVersion, FHIRBundle: compact.Bytes()},
		},
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(payload); err != nil {
		return "", fail(ErrMalformed, "payload cannot be encoded")
	}
	claims := bytes.TrimSuffix(body.Bytes(), []byte("\n"))
	if _, err := parsePayload(claims); err != nil {
		return "", err
	}
	zipped, err := deflate(claims)
	if err != nil {
		return "", fmt.Errorf("shc: compress payload: %w", err)
	}
	header := `{"alg":"` + algES256 + `","zip":"DEF","kid":"` + thumbprintOf(point) + `"}`
	signingInput := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(zipped)
	if len(signingInput)+1+b64.EncodedLen(64) > MaxJWSBytes {
		return "", fail(ErrTooLarge, "the card would be longer than %d bytes", MaxJWSBytes)
	}
	digest := sha256.Sum256([]byte(signingInput))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", fail(ErrInvalidKey, "cannot sign with the key")
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signingInput + "." + b64.EncodeToString(sig), nil
}

// Decode parses a card's compact JWS strictly, without verifying it (see
// Card.Verify). The JWS is at most MaxJWSBytes: three canonical base64url
// parts without padding. The header is a JSON object with alg ES256, zip
// DEF, a non-empty kid and no crit. The payload inflates (raw DEFLATE,
// nothing after the stream) to at most MaxPayloadBytes of one JSON object
// in valid UTF-8 without duplicate member names, whose iss is an http(s)
// URL, nbf (and exp, if present) a number of seconds, vc.type includes
// HealthCardType and vc.credentialSubject.fhirBundle is an object with
// resourceType Bundle. The signature is 64 bytes. Decode is safe on any
// input.
func Decode(jws string) (*Card, error) {
	if len(jws) > MaxJWSBytes {
		return nil, fail(ErrTooLarge, "card is longer than %d bytes", MaxJWSBytes)
	}
	h, rest, ok1 := strings.Cut(jws, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, fail(ErrMalformed, "a card is three parts separated by dots")
	}
	headerJSON, ok := decodeB64(h)
	if !ok {
		return nil, fail(ErrMalformed, "header is not base64url without padding")
	}
	header, err := parseHeader(headerJSON)
	if err != nil {
		return nil, err
	}
	sig, ok := decodeB64(s)
	if !ok {
		return nil, fail(ErrMalformed, "signature is not base64url without padding")
	}
	if len(sig) != 64 {
		return nil, fail(ErrMalformed, "signature is not 64 bytes")
	}
	zipped, ok := decodeB64(p)
	if !ok {
		return nil, fail(ErrMalformed, "payload is not base64url without padding")
	}
	claims, err := inflate(zipped)
	if err != nil {
		return nil, err
	}
	payload, err := parsePayload(claims)
	if err != nil {
		return nil, err
	}
	return &Card{
		Header:       header,
		Payload:      payload,
		signingInput: []byte(jws[:len(h)+1+len(p)]),
		signature:    sig,
	}, nil
}

// Verify checks the card's ES256 signature with the key of keys whose kid
// is the card's kid: ErrUnknownKey if keys has no valid such key,
// ErrSignature if the signature does not verify. It does not check nbf or
// exp against a clock, nor whether keys belong to Payload.Issuer: the
// caller fetched keys for an issuer it trusts.
func (c *Card) Verify(keys JWKS) error {
	if c == nil || len(c.signature) != 64 || len(c.signingInput) == 0 {
		return fail(ErrMalformed, "not a decoded card")
	}
	pub, ok := keys.Key(c.Header.Kid)
	if !ok {
		return fail(ErrUnknownKey, "no valid key in the key set has the card's kid")
	}
	digest := sha256.Sum256(c.signingInput)
	r := new(big.Int).SetBytes(c.signature[:32])
	s := new(big.Int).SetBytes(c.signature[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return fail(ErrSignature, "the card's signature does not verify under its key")
	}
	return nil
}

// parseHeader reads a card's protected header.
func parseHeader(data []byte) (Header, error) {
	if err := checkObject(data); err != nil {
		return Header{}, fail(ErrMalformed, "header: %v", err)
	}
	o, _ := parseObject(data)
	if _, crit := o["crit"]; crit {
		return Header{}, fail(ErrUnsupported, "header has crit")
	}
	var h Header
	for _, m := range []struct {
		name, want string
		dst        *string
	}{
		{"alg", algES256, &h.Alg}, {"zip", "DEF", &h.Zip},
	} {
		v, present, ok := o.str(m.name)
		if present && !ok {
			return Header{}, fail(ErrMalformed, "header: %s is not a string", m.name)
		}
		if v != m.want {
			return Header{}, fail(ErrUnsupported, "header: %s is not %s", m.name, m.want)
		}
		*m.dst = v
	}
	kid, _, ok := o.str("kid")
	if !ok || kid == "" {
		return Header{}, fail(ErrMalformed, "header: kid is missing, empty or not a string")
	}
	h.Kid = kid
	return h, nil
}

// deflaters are compressors kept for reuse: each holds the best
// compression's tables (most of a megabyte), which a card of a kilobyte
// would otherwise allocate afresh.
var deflaters = sync.Pool{New: func() any {
	zw, err := flate.NewWriter(io.Discard, flate.BestCompression)
	if err != nil {
		panic(err) // only for an invalid level
	}
	return zw
}}

// deflate compresses data with raw DEFLATE at best compression.
func deflate(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// inflate decompresses a raw DEFLATE stream of at most MaxPayloadBytes,
// reading no further than one byte past the limit.
func inflate(zipped []byte) ([]byte, error) {
	src := bytes.NewReader(zipped)
	zr := flate.NewReader(src)
	defer zr.Close()
	claims, err := io.ReadAll(io.LimitReader(zr, MaxPayloadBytes+1))
	if len(claims) > MaxPayloadBytes {
		return nil, fail(ErrTooLarge, "payload inflates to more than %d bytes", MaxPayloadBytes)
	}
	if err != nil {
		return nil, fail(ErrMalformed, "payload is not raw DEFLATE")
	}
	if src.Len() != 0 {
		return nil, fail(ErrMalformed, "payload has data after its DEFLATE stream")
	}
	return claims, nil
}

// parsePayload reads a card's claims set by the rules of Decode.
func parsePayload(data []byte) (Payload, error) {
	if len(data) > MaxPayloadBytes {
		return Payload{}, fail(ErrTooLarge, "payload is more than %d bytes", MaxPayloadBytes)
	}
	if err := checkObject(data); err != nil {
		return Payload{}, fail(ErrMalformed, "payload: %v", err)
	}
	top, _ := parseObject(data)
	var p Payload
	iss, _, ok := top.str("iss")
	if !ok {
		return Payload{}, fail(ErrMalformed, "payload: iss is missing or not a string")
	}
	if problem := checkIssuer(iss); problem != "" {
		return Payload{}, fail(ErrInvalid, "payload: iss: %s", problem)
	}
	p.Issuer = iss
	for _, m := range []struct {
		name     string
		required bool
		dst      *float64
	}{
		{"nbf", true, &p.NotBefore}, {"exp", false, &p.Expires},
	} {
		raw, present := top[m.name]
		if !present {
			if m.required {
				return Payload{}, fail(ErrMalformed, "payload: %s is missing", m.name)
			}
			continue
		}
		v, ok := number(raw)
		if !ok {
			return Payload{}, fail(ErrMalformed, "payload: %s is not a number", m.name)
		}
		if v < 0 || v > maxUnixSeconds {
			return Payload{}, fail(ErrInvalid, "payload: %s is not between 1970 and 9999", m.name)
		}
		*m.dst = v
	}
	vc, ok := top.obj("vc")
	if !ok {
		return Payload{}, fail(ErrMalformed, "payload: vc is missing or not an object")
	}
	types, ok := vc.stringArray("type")
	if !ok {
		return Payload{}, fail(ErrMalformed, "payload: vc.type is missing or not an array of strings")
	}
	if !slices.Contains(types, HealthCardType) {
		return Payload{}, fail(ErrInvalid, "payload: vc.type does not include the health-card type")
	}
	p.VC.Type = types
	subject, ok := vc.obj("credentialSubject")
	if !ok {
		return Payload{}, fail(ErrMalformed, "payload: vc.credentialSubject is missing or not an object")
	}
	version, present, ok := subject.str("fhirVersion")
	if present && !ok {
		return Payload{}, fail(ErrMalformed, "payload: vc.credentialSubject.fhirVersion is not a string")
	}
	p.VC.CredentialSubject.FHIRVersion = version
	bundle, ok := subject.obj("fhirBundle")
	if !ok {
		return Payload{}, fail(ErrMalformed, "payload: vc.credentialSubject.fhirBundle is missing or not an object")
	}
	if rt, _, _ := bundle.str("resourceType"); rt != "Bundle" {
		return Payload{}, fail(ErrInvalid, "payload: vc.credentialSubject.fhirBundle is not a Bundle")
	}
	p.VC.CredentialSubject.FHIRBundle = subject["fhirBundle"]
	return p, nil
}

// checkIssuer names what is wrong with iss as a card's issuer, or returns
// "": it must be an absolute http or https URL with a host, in printable
// ASCII, without user information, query, fragment or trailing slash, so
// that iss + "/.well-known/jwks.json" is its key set.
func checkIssuer(iss string) string {
	for i := 0; i < len(iss); i++ {
		if iss[i] <= ' ' || iss[i] > '~' {
			return "not printable ASCII"
		}
	}
	if !strings.HasPrefix(iss, "https://") && !strings.HasPrefix(iss, "http://") {
		return "not an http or https URL"
	}
	u, err := url.Parse(iss)
	switch {
	case err != nil:
		return "not a URL"
	case u.Hostname() == "" || u.User != nil:
		return "no host, or user information"
	case strings.ContainsAny(iss, "?#"):
		return "has a query or fragment"
	case strings.HasSuffix(iss, "/"):
		return "ends with a slash"
	}
	return ""
}

// number is raw as a JSON number.
func number(raw json.RawMessage) (float64, bool) {
	var v float64
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) || json.Unmarshal(raw, &v) != nil {
		return 0, false
	}
	return v, true
}

// stringArray is the member name of o as an array of JSON strings (null is
// not a string).
func (o object) stringArray(name string) ([]string, bool) {
	raw := o[name]
	var items []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		var s string
		if len(item) == 0 || item[0] != '"' || json.Unmarshal(item, &s) != nil {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
