package shc

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

const testIssuer = "https://issuer.example.org/shc"

// testBundle is a synthetic FHIR Bundle; "&" and "<" must survive
// unescaped (the payload is minified, not HTML-escaped).
const testBundle = `{
  "resourceType": "Bundle", "type": "collection",
  "entry": [
    {"fullUrl": "resource:0", "resource": {"resourceType": "Patient", "name": [{"family": "Anyperson & Co", "given": ["<Jo>"]}], "birthDate": "1951-01-20"}},
    {"fullUrl": "resource:1", "resource": {"resourceType": "Immunization", "status": "completed",
      "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "207"}]},
      "patient": {"reference": "resource:0"}, "occurrenceDateTime": "2021-01-01"}}
  ]
}`

var testTypes = []string{HealthCardType, "https://smarthealth.cards#immunization"}

var testNotBefore = time.Unix(1700000000, 0)

// fixedKey is a deterministic P-256 key with private scalar d.
func fixedKey(t testing.TB, d byte) *ecdsa.PrivateKey {
	t.Helper()
	scalar := make([]byte, 32)
	scalar[31] = d
	scalar[0] = 0x5a
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func keySet(t testing.TB, keys ...*ecdsa.PrivateKey) JWKS {
	t.Helper()
	var set JWKS
	for _, k := range keys {
		jwk, err := PublicJWK(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk)
	}
	return set
}

func issueTestCard(t testing.TB, key *ecdsa.PrivateKey) string {
	t.Helper()
	jws, err := Issue(key, testIssuer, testNotBefore, testTypes, json.RawMessage(testBundle))
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func rawDeflate(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// signedJWS is a compact JWS of the given header JSON and (already
// compressed or not) payload bytes, ES256-signed by key.
func signedJWS(t testing.TB, key *ecdsa.PrivateKey, header string, payload []byte) string {
	t.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(nil, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

func testHeader(t testing.TB, key *ecdsa.PrivateKey) string {
	t.Helper()
	kid, err := Thumbprint(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return `{"alg":"ES256","zip":"DEF","kid":"` + kid + `"}`
}

func compactJSON(t testing.TB, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRoundTrip(t *testing.T) {
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	jws, err := Issue(key, testIssuer, testNotBefore, testTypes, json.RawMessage(testBundle))
	if err != nil {
		t.Fatal(err)
	}
	numeric, err := Numeric(jws)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromNumeric(numeric)
	if err != nil {
		t.Fatal(err)
	}
	if back != jws {
		t.Fatal("FromNumeric(Numeric(jws)) is not the JWS")
	}
	card, err := Decode(back)
	if err != nil {
		t.Fatal(err)
	}
	if err := card.Verify(keySet(t, key)); err != nil {
		t.Fatal(err)
	}
	kid, _ := Thumbprint(&key.PublicKey)
	if card.Header != (Header{Alg: "ES256", Zip: "DEF", Kid: kid}) {
		t.Errorf("header %+v", card.Header)
	}
	p := card.Payload
	if p.Issuer != testIssuer || !p.NotBeforeTime().Equal(testNotBefore) || p.Expires != 0 {
		t.Errorf("payload iss/nbf/exp %q %v %v", p.Issuer, p.NotBeforeTime(), p.Expires)
	}
	cred := card.Credential()
	if strings.Join(cred.Types, " ") != strings.Join(testTypes, " ") || cred.FHIRVersion != FHIRVersion {
		t.Errorf("credential types %v version %q", cred.Types, cred.FHIRVersion)
	}
	if string(cred.Bundle) != compactJSON(t, testBundle) {
		t.Errorf("bundle %s, want the minified input", cred.Bundle)
	}
}

// TestIssueFormat checks the bytes the SMART Health Cards spec fixes.
func TestIssueFormat(t *testing.T) {
	key := fixedKey(t, 1)
	jws := issueTestCard(t, key)
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	t.Run("header bytes", func(t *testing.T) {
		header, err := b64.DecodeString(parts[0])
		if err != nil {
			t.Fatal(err)
		}
		if string(header) != testHeader(t, key) {
			t.Errorf("header %s", header)
		}
	})
	t.Run("payload is raw DEFLATE of the minified claims", func(t *testing.T) {
		zipped, err := b64.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		claims, err := io.ReadAll(flate.NewReader(bytes.NewReader(zipped)))
		if err != nil {
			t.Fatal(err)
		}
		want := `{"iss":"` + testIssuer + `","nbf":1700000000,"vc":{"type":["https://smarthealth.cards#health-card",` +
			`"https://smarthealth.cards#immunization"],"credentialSubject":{"fhirVersion":"4.0.1","fhirBundle":` +
			compactJSON(t, testBundle) + `}}}`
		if string(claims) != want {
			t.Errorf("claims\n%s\nwant\n%s", claims, want)
		}
		if !bytes.Equal(zipped, rawDeflate(t, claims)) {
			t.Error("payload is not the best-compression raw DEFLATE of the claims")
		}
		if zr, err := zlib.NewReader(bytes.NewReader(zipped)); err == nil {
			if _, err := io.ReadAll(zr); err == nil {
				t.Error("payload reads as a zlib stream")
			}
		}
	})
	t.Run("signature is 64 bytes r||s", func(t *testing.T) {
		sig, err := b64.DecodeString(parts[2])
		if err != nil || len(sig) != 64 {
			t.Fatalf("signature: %d bytes, %v", len(sig), err)
		}
	})
	t.Run("base64url without padding", func(t *testing.T) {
		if strings.ContainsAny(jws, "=+/ \n") {
			t.Error("JWS has characters outside base64url and '.'")
		}
	})
}

func TestIssueRejects(t *testing.T) {
	key := fixedKey(t, 1)
	bundle := json.RawMessage(testBundle)
	tests := []struct {
		name    string
		key     *ecdsa.PrivateKey
		issuer  string
		nbf     time.Time
		types   []string
		bundle  json.RawMessage
		wantErr error
	}{
		{"nil key", nil, testIssuer, testNotBefore, testTypes, bundle, ErrInvalidKey},
		{"issuer with trailing slash", key, testIssuer + "/", testNotBefore, testTypes, bundle, ErrInvalid},
		{"issuer with query", key, testIssuer + "?a=b", testNotBefore, testTypes, bundle, ErrInvalid},
		{"issuer with fragment", key, testIssuer + "#x", testNotBefore, testTypes, bundle, ErrInvalid},
		{"issuer not http", key, "ftp://issuer.example.org", testNotBefore, testTypes, bundle, ErrInvalid},
		{"issuer relative", key, "/issuer", testNotBefore, testTypes, bundle, ErrInvalid},
		{"issuer upper-case scheme", key, "HTTPS://issuer.example.org", testNotBefore, testTypes, bundle, ErrInvalid},
		{"issuer without host", key, "https:///path", testNotBefore, testTypes, bundle, ErrInvalid},
		{"issuer with user", key, "https://u:p@issuer.example.org", testNotBefore, testTypes, bundle, ErrInvalid},
		{"issuer with space", key, "https://issuer.example.org/a b", testNotBefore, testTypes, bundle, ErrInvalid},
		{"zero notBefore", key, testIssuer, time.Time{}, testTypes, bundle, ErrInvalid},
		{"no health-card type", key, testIssuer, testNotBefore, []string{"https://smarthealth.cards#immunization"}, bundle, ErrInvalid},
		{"no types", key, testIssuer, testNotBefore, nil, bundle, ErrInvalid},
		{"type not UTF-8", key, testIssuer, testNotBefore, []string{HealthCardType, "\xff"}, bundle, ErrMalformed},
		{"bundle not JSON", key, testIssuer, testNotBefore, testTypes, json.RawMessage(`{"resourceType":`), ErrMalformed},
		{"bundle an array", key, testIssuer, testNotBefore, testTypes, json.RawMessage(`[]`), ErrMalformed},
		{"bundle duplicate member", key, testIssuer, testNotBefore, testTypes, json.RawMessage(`{"resourceType":"Bundle","type":"a","type":"b"}`), ErrMalformed},
		{"bundle not a Bundle", key, testIssuer, testNotBefore, testTypes, json.RawMessage(`{"resourceType":"Patient"}`), ErrInvalid},
		{"bundle too large", key, testIssuer, testNotBefore, testTypes, json.RawMessage(`{"resourceType":"Bundle","x":"` + strings.Repeat("a", MaxPayloadBytes) + `"}`), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jws, err := Issue(tt.key, tt.issuer, tt.nbf, tt.types, tt.bundle)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Issue: %v, want %v", err, tt.wantErr)
			}
			if jws != "" {
				t.Error("Issue returned a card with its error")
			}
		})
	}
	t.Run("card too long for a QR code", func(t *testing.T) {
		// Random-looking text does not compress below the JWS limit.
		var b strings.Builder
		for i := 0; b.Len() < 20000; i++ {
			sum := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
			b.WriteString(b64.EncodeToString(sum[:]))
		}
		big := json.RawMessage(`{"resourceType":"Bundle","x":"` + b.String() + `"}`)
		if _, err := Issue(key, testIssuer, testNotBefore, testTypes, big); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Issue: %v, want ErrTooLarge", err)
		}
	})
}

func TestVerify(t *testing.T) {
	key, other := fixedKey(t, 1), fixedKey(t, 2)
	jws := issueTestCard(t, key)
	parts := strings.Split(jws, ".")
	claims := compactJSON(t, `{"iss":"`+testIssuer+`","nbf":1700000000,"vc":{"type":["`+HealthCardType+`"],
		"credentialSubject":{"fhirVersion":"4.0.1","fhirBundle":{"resourceType":"Bundle","type":"collection"}}}}`)
	otherKid, _ := Thumbprint(&other.PublicKey)
	tests := []struct {
		name    string
		jws     string
		keys    JWKS
		wantErr error
	}{
		{"issued card", jws, keySet(t, key), nil},
		{"issued card, key among others", jws, keySet(t, other, key), nil},
		{"payload changed, signature kept", parts[0] + "." + b64.EncodeToString(rawDeflate(t, []byte(claims))) + "." + parts[2],
			keySet(t, key), ErrSignature},
		{"header changed, signature kept", b64.EncodeToString([]byte(`{"zip":"DEF","alg":"ES256","kid":"`+thumb(t, key)+`"}`)) +
			"." + parts[1] + "." + parts[2], keySet(t, key), ErrSignature},
		{"signature of another card", parts[0] + "." + parts[1] + "." + strings.Split(issueOther(t, key), ".")[2],
			keySet(t, key), ErrSignature},
		{"signed by another key claiming the kid", signedJWS(t, other, testHeader(t, key), rawDeflate(t, []byte(claims))),
			keySet(t, key, other), ErrSignature},
		{"kid not in the key set", jws, keySet(t, other), ErrUnknownKey},
		{"empty key set", jws, JWKS{}, ErrUnknownKey},
		{"key set entry with the kid but another point", jws,
			JWKS{Keys: []JWK{withKid(keySet(t, other).Keys[0], thumb(t, key))}}, ErrUnknownKey},
		{"other key's kid and point relabelled", signedJWS(t, other, testHeader(t, other), rawDeflate(t, []byte(claims))),
			JWKS{Keys: []JWK{withKid(keySet(t, key).Keys[0], otherKid)}}, ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card, err := Decode(tt.jws)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if err := card.Verify(tt.keys); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify: %v, want %v", err, tt.wantErr)
			}
		})
	}
	t.Run("nil card", func(t *testing.T) {
		var card *Card
		if err := card.Verify(keySet(t, key)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Verify: %v", err)
		}
	})
}

func thumb(t testing.TB, key *ecdsa.PrivateKey) string {
	t.Helper()
	kid, err := Thumbprint(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

func withKid(k JWK, kid string) JWK {
	k.Kid = kid
	return k
}

func issueOther(t testing.TB, key *ecdsa.PrivateKey) string {
	t.Helper()
	jws, err := Issue(key, testIssuer, testNotBefore.Add(time.Hour), testTypes, json.RawMessage(testBundle))
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func TestDecodeRejects(t *testing.T) {
	key := fixedKey(t, 1)
	kid := thumb(t, key)
	header := testHeader(t, key)
	good := compactJSON(t, testBundle)
	claimsWith := func(s string) []byte { return []byte(s) }
	payload := func(iss, nbf, vc string) []byte {
		return []byte(`{"iss":` + iss + `,"nbf":` + nbf + `,"vc":` + vc + `}`)
	}
	vc := `{"type":["` + HealthCardType + `"],"credentialSubject":{"fhirVersion":"4.0.1","fhirBundle":` + good + `}}`
	okClaims := payload(`"`+testIssuer+`"`, "1700000000", vc)
	card := func(header string, claims []byte) string {
		return signedJWS(t, key, header, rawDeflate(t, claims))
	}
	jws := card(header, okClaims)
	parts := strings.Split(jws, ".")
	tests := []struct {
		name    string
		jws     string
		wantErr error
	}{
		{"empty", "", ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"four parts", jws + ".", ErrMalformed},
		{"too long", strings.Repeat("A", MaxJWSBytes+1), ErrTooLarge},
		{"padding", parts[0] + "==." + parts[1] + "." + parts[2], ErrMalformed},
		{"newline in a part", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], ErrMalformed},
		{"standard base64 alphabet", parts[0] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[1]) + "+/." + parts[2], ErrMalformed},
		{"non-canonical trailing bits", parts[0] + "." + parts[1] + "." + parts[2][:85] + nonCanonical(parts[2][85]), ErrMalformed},
		{"header not JSON", b64.EncodeToString([]byte("{alg")) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"header an array", card(`["ES256"]`, okClaims), ErrMalformed},
		{"alg none", card(`{"alg":"none","zip":"DEF","kid":"`+kid+`"}`, okClaims), ErrUnsupported},
		{"alg HS256", card(`{"alg":"HS256","zip":"DEF","kid":"`+kid+`"}`, okClaims), ErrUnsupported},
		{"alg lower case", card(`{"alg":"es256","zip":"DEF","kid":"`+kid+`"}`, okClaims), ErrUnsupported},
		{"alg missing", card(`{"zip":"DEF","kid":"`+kid+`"}`, okClaims), ErrUnsupported},
		{"alg not a string", card(`{"alg":256,"zip":"DEF","kid":"`+kid+`"}`, okClaims), ErrMalformed},
		{"alg twice", card(`{"alg":"none","alg":"ES256","zip":"DEF","kid":"`+kid+`"}`, okClaims), ErrMalformed},
		{"alg differently cased member", card(`{"ALG":"none","alg":"ES256","zip":"DEF","kid":"`+kid+`"}`, okClaims), nil},
		{"zip missing", signedJWS(t, key, `{"alg":"ES256","kid":"`+kid+`"}`, okClaims), ErrUnsupported},
		{"zip other", card(`{"alg":"ES256","zip":"GZIP","kid":"`+kid+`"}`, okClaims), ErrUnsupported},
		{"crit", card(`{"alg":"ES256","zip":"DEF","kid":"`+kid+`","crit":["b64"],"b64":false}`, okClaims), ErrUnsupported},
		{"kid missing", card(`{"alg":"ES256","zip":"DEF"}`, okClaims), ErrMalformed},
		{"kid empty", card(`{"alg":"ES256","zip":"DEF","kid":""}`, okClaims), ErrMalformed},
		{"kid null", card(`{"alg":"ES256","zip":"DEF","kid":null}`, okClaims), ErrMalformed},
		{"signature 63 bytes", parts[0] + "." + parts[1] + "." + b64.EncodeToString(make([]byte, 63)), ErrMalformed},
		{"signature DER-sized", parts[0] + "." + parts[1] + "." + b64.EncodeToString(make([]byte, 72)), ErrMalformed},
		{"payload empty", parts[0] + ".." + parts[2], ErrMalformed},
		{"payload zlib", signedJWS(t, key, header, zlibbed(t, okClaims)), ErrMalformed},
		{"payload not compressed", signedJWS(t, key, header, okClaims), ErrMalformed},
		{"payload truncated DEFLATE", signedJWS(t, key, header, rawDeflate(t, okClaims)[:40]), ErrMalformed},
		{"payload data after DEFLATE", signedJWS(t, key, header, append(rawDeflate(t, okClaims), 0)), ErrMalformed},
		{"payload bomb", signedJWS(t, key, header, rawDeflate(t, make([]byte, 1<<20))), ErrTooLarge},
		{"payload one byte over the limit", card(header, paddedClaims(okClaims, MaxPayloadBytes+1)), ErrTooLarge},
		{"payload at the limit", card(header, paddedClaims(okClaims, MaxPayloadBytes)), nil},
		{"payload not UTF-8", card(header, payload(`"`+testIssuer+`"`, "1700000000", strings.Replace(vc, "Anyperson", "Any\xffperson", 1))), ErrMalformed},
		{"payload two objects", card(header, append(append([]byte{}, okClaims...), okClaims...)), ErrMalformed},
		{"payload an array", card(header, []byte(`[`+string(okClaims)+`]`)), ErrMalformed},
		{"duplicate iss", card(header, claimsWith(`{"iss":"https://evil.example","iss":"`+testIssuer+`","nbf":1,"vc":`+vc+`}`)), ErrMalformed},
		{"duplicate in vc", card(header, claimsWith(`{"iss":"`+testIssuer+`","nbf":1,"vc":{"type":["x"],"type":["`+HealthCardType+`"],"credentialSubject":{"fhirBundle":`+good+`}}}`)), ErrMalformed},
		{"duplicate in bundle", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":["`+HealthCardType+`"],"credentialSubject":{"fhirBundle":{"resourceType":"Bundle","id":"a","id":"b"}}}`)), ErrMalformed},
		{"ISS is not iss", card(header, claimsWith(`{"ISS":"`+testIssuer+`","nbf":1,"vc":`+vc+`}`)), ErrMalformed},
		{"too deep", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":["`+HealthCardType+`"],"credentialSubject":{"fhirBundle":{"resourceType":"Bundle","x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}}}`)), ErrMalformed},
		{"iss missing", card(header, claimsWith(`{"nbf":1,"vc":`+vc+`}`)), ErrMalformed},
		{"iss not a string", card(header, payload(`1`, "1", vc)), ErrMalformed},
		{"iss not http", card(header, payload(`"urn:x:y"`, "1", vc)), ErrInvalid},
		{"iss trailing slash", card(header, payload(`"`+testIssuer+`/"`, "1", vc)), ErrInvalid},
		{"iss http", card(header, payload(`"http://localhost:8080/issuer"`, "1", vc)), nil},
		{"nbf missing", card(header, claimsWith(`{"iss":"`+testIssuer+`","vc":`+vc+`}`)), ErrMalformed},
		{"nbf a string", card(header, payload(`"`+testIssuer+`"`, `"1700000000"`, vc)), ErrMalformed},
		{"nbf null", card(header, payload(`"`+testIssuer+`"`, `null`, vc)), ErrMalformed},
		{"nbf negative", card(header, payload(`"`+testIssuer+`"`, `-1`, vc)), ErrInvalid},
		{"nbf beyond 9999", card(header, payload(`"`+testIssuer+`"`, `1e300`, vc)), ErrInvalid},
		{"nbf overflows", card(header, payload(`"`+testIssuer+`"`, `1e400`, vc)), ErrMalformed},
		{"nbf fractional", card(header, payload(`"`+testIssuer+`"`, `1639490372.558`, vc)), nil},
		{"exp a string", card(header, claimsWith(`{"iss":"`+testIssuer+`","nbf":1,"exp":"x","vc":`+vc+`}`)), ErrMalformed},
		{"vc missing", card(header, claimsWith(`{"iss":"`+testIssuer+`","nbf":1}`)), ErrMalformed},
		{"vc.type missing", card(header, payload(`"`+testIssuer+`"`, "1", `{"credentialSubject":{"fhirBundle":`+good+`}}`)), ErrMalformed},
		{"vc.type without health card", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":["https://smarthealth.cards#covid19"],"credentialSubject":{"fhirBundle":`+good+`}}`)), ErrInvalid},
		{"vc.type with null", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":["`+HealthCardType+`",null],"credentialSubject":{"fhirBundle":`+good+`}}`)), ErrMalformed},
		{"vc.type a string", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":"`+HealthCardType+`","credentialSubject":{"fhirBundle":`+good+`}}`)), ErrMalformed},
		{"credentialSubject missing", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":["`+HealthCardType+`"]}`)), ErrMalformed},
		{"fhirVersion a number", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":["`+HealthCardType+`"],"credentialSubject":{"fhirVersion":4,"fhirBundle":`+good+`}}`)), ErrMalformed},
		{"fhirBundle missing", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":["`+HealthCardType+`"],"credentialSubject":{}}`)), ErrMalformed},
		{"fhirBundle a string", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":["`+HealthCardType+`"],"credentialSubject":{"fhirBundle":"{}"}}`)), ErrMalformed},
		{"fhirBundle not a Bundle", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":["`+HealthCardType+`"],"credentialSubject":{"fhirBundle":{"resourceType":"Patient"}}}`)), ErrInvalid},
		{"fhirBundle resourceType missing", card(header, payload(`"`+testIssuer+`"`, "1", `{"type":["`+HealthCardType+`"],"credentialSubject":{"fhirBundle":{}}}`)), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card, err := Decode(tt.jws)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode: %v, want %v", err, tt.wantErr)
			}
			if (card == nil) != (err != nil) {
				t.Fatal("Decode returned a card with its error, or neither")
			}
			if err == nil {
				if err := card.Verify(keySet(t, key)); err != nil {
					t.Fatalf("Verify: %v", err)
				}
			}
		})
	}
}

// nonCanonical is c with its lowest bit set. The last character of a
// 64-byte signature carries 2 bits and 4 zero bits; setting one of those
// gives the same bytes in a non-canonical encoding.
func nonCanonical(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i|1])
}

func zlibbed(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// paddedClaims is claims grown to exactly n bytes by an extra member.
func paddedClaims(claims []byte, n int) []byte {
	pad := n - len(claims) - len(`,"pad":""`)
	return []byte(string(claims[:len(claims)-1]) + `,"pad":"` + strings.Repeat("a", pad) + `"}`)
}

// TestErrorsDoNotEchoInput decodes cards whose wrong parts carry a marker
// value and checks no error repeats it.
func TestErrorsDoNotEchoInput(t *testing.T) {
	const marker = "SECRETVALUE"
	key := fixedKey(t, 1)
	header := testHeader(t, key)
	inputs := map[string]string{
		"alg":      signedJWS(t, key, `{"alg":"`+marker+`","zip":"DEF","kid":"x"}`, nil),
		"iss":      signedJWS(t, key, header, rawDeflate(t, []byte(`{"iss":"`+marker+`","nbf":1,"vc":{}}`))),
		"type":     signedJWS(t, key, header, rawDeflate(t, []byte(`{"iss":"`+testIssuer+`","nbf":1,"vc":{"type":["`+marker+`"],"credentialSubject":{"fhirBundle":{}}}}`))),
		"resource": signedJWS(t, key, header, rawDeflate(t, []byte(`{"iss":"`+testIssuer+`","nbf":1,"vc":{"type":["`+HealthCardType+`"],"credentialSubject":{"fhirBundle":{"resourceType":"`+marker+`"}}}}`))),
		"json":     signedJWS(t, key, header, rawDeflate(t, []byte(`{"iss":"`+marker+`"`))),
		"dup":      signedJWS(t, key, header, rawDeflate(t, []byte(`{"`+marker+`":1,"`+marker+`":2}`))),
	}
	for name, jws := range inputs {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(jws)
			if err == nil {
				t.Fatal("Decode accepted the card")
			}
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("error echoes the input: %v", err)
			}
		})
	}
	for _, s := range []string{"shc:/" + marker, marker} {
		if _, err := FromNumeric(s); err == nil || strings.Contains(err.Error(), marker) {
			t.Fatalf("FromNumeric error %v", err)
		}
	}
	if _, err := ParseJWKS([]byte(`{"keys":[{"kty":"` + marker + `"}]}`)); err == nil || strings.Contains(err.Error(), marker) {
		t.Fatalf("ParseJWKS error %v", err)
	}
}
