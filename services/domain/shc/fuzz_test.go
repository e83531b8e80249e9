package shc

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var sentinels = []error{ErrMalformed, ErrInvalid, ErrUnsupported, ErrTooLarge, ErrInvalidKey, ErrUnknownKey, ErrSignature}

func wrapsSentinel(err error) bool {
	return slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) })
}

// FuzzDecode: Decode never panics; what it accepts is canonical (each part
// re-encodes to itself) and meets the rules it documents; a card it
// accepts never verifies under an unrelated key, and verifies under the
// issuing key only if its signed bytes are those the key signed.
func FuzzDecode(f *testing.F) {
	key, other := fixedKey(f, 1), fixedKey(f, 2)
	keys, otherKeys := keySet(f, key), keySet(f, other)
	jws := issueTestCard(f, key)
	issued := jws[:strings.LastIndexByte(jws, '.')]
	parts := strings.Split(jws, ".")
	// Other seeds are signed by a third key: key signs only jws.
	seedKey := fixedKey(f, 3)
	header := testHeader(f, seedKey)
	claims := []byte(`{"iss":"` + testIssuer + `","nbf":1.5,"exp":2,"vc":{"type":["` + HealthCardType + `"],"credentialSubject":{"fhirBundle":{"resourceType":"Bundle"}}}}`)

	f.Add(jws)
	f.Add(specCard)
	f.Add(jws[:len(jws)/2])
	f.Add(jws[:len(jws)-1])
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + "." + parts[1][:len(parts[1])-3] + "." + parts[2])
	f.Add(parts[0] + "." + strings.Replace(parts[1], "A", "B", 1) + "." + parts[2])
	f.Add(signedJWS(f, seedKey, header, rawDeflate(f, claims)))
	f.Add(signedJWS(f, seedKey, `{"alg":"none","zip":"DEF","kid":"x"}`, rawDeflate(f, claims)))
	f.Add(signedJWS(f, seedKey, header, rawDeflate(f, make([]byte, 1<<20))))
	f.Add(signedJWS(f, seedKey, header, zlibbed(f, claims)))
	f.Add("..")
	f.Add("")

	f.Fuzz(func(t *testing.T, s string) {
		card, err := Decode(s)
		if err != nil {
			if card != nil || !wrapsSentinel(err) {
				t.Fatalf("Decode: card %v, error %v", card != nil, err)
			}
			return
		}
		p := strings.Split(s, ".")
		if len(p) != 3 {
			t.Fatalf("accepted %d parts", len(p))
		}
		var decoded [3][]byte
		for i, part := range p {
			b, err := b64.DecodeString(part)
			if err != nil || b64.EncodeToString(b) != part {
				t.Fatalf("part %d is not canonical base64url", i)
			}
			decoded[i] = b
		}
		if string(card.signingInput) != p[0]+"."+p[1] || !bytes.Equal(card.signature, decoded[2]) {
			t.Fatal("signing input or signature is not the card's")
		}
		if h, err := parseHeader(decoded[0]); err != nil || h != card.Header || h.Alg != "ES256" || h.Zip != "DEF" || h.Kid == "" {
			t.Fatalf("header %+v does not re-parse: %v", card.Header, err)
		}
		// The payload survives a re-encoding and a second parse.
		pl := card.Payload
		if checkIssuer(pl.Issuer) != "" || !slices.Contains(pl.VC.Type, HealthCardType) {
			t.Fatal("accepted a payload that breaks the rules")
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(pl); err != nil {
			t.Fatal(err)
		}
		again, err := parsePayload(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		if err != nil {
			t.Fatalf("re-encoded payload does not parse: %v", err)
		}
		if again.Issuer != pl.Issuer || again.NotBefore != pl.NotBefore || again.Expires != pl.Expires ||
			!reflect.DeepEqual(again.VC.Type, pl.VC.Type) || again.VC.CredentialSubject.FHIRVersion != pl.VC.CredentialSubject.FHIRVersion ||
			compacted(t, again.VC.CredentialSubject.FHIRBundle) != compacted(t, pl.VC.CredentialSubject.FHIRBundle) {
			t.Fatal("re-encoded payload parses to another payload")
		}

		if err := card.Verify(otherKeys); !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrSignature) {
			t.Fatalf("Verify with an unrelated key: %v", err)
		}
		if card.Verify(keys) == nil && string(card.signingInput) != issued {
			t.Fatal("a card the key never signed verifies under it")
		}
	})
}

func compacted(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// FuzzFromNumeric: FromNumeric never panics, and Numeric inverts whatever
// it accepts.
func FuzzFromNumeric(f *testing.F) {
	numeric, err := Numeric(specCard)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{numeric, "shc:/567629", "shc:/0077", "shc:/78", "shc:/1/2/567629", "shc:/", "shc:/5", "SHC:/56", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		jws, err := FromNumeric(s)
		if err != nil {
			if jws != "" || !wrapsSentinel(err) {
				t.Fatalf("FromNumeric: %d bytes, error %v", len(jws), err)
			}
			return
		}
		if len(jws) > MaxJWSBytes {
			t.Fatalf("%d bytes", len(jws))
		}
		back, err := Numeric(jws)
		if err != nil || back != s {
			t.Fatalf("Numeric(FromNumeric(s)) is not s: %v", err)
		}
	})
}

// FuzzParseJWKS: ParseJWKS never panics; every key it accepts is found by
// its kid, is exactly the JWK this package would publish for that key, and
// the set survives a re-encoding.
func FuzzParseJWKS(f *testing.F) {
	two, err := json.Marshal(keySet(f, fixedKey(f, 1), fixedKey(f, 2)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(specJWKS))
	f.Add(two)
	f.Add([]byte(strings.Replace(specJWKS, `"y"`, `"d":"AAAA","y"`, 1)))
	f.Add([]byte(strings.Replace(specJWKS, specKid, "x", 1)))
	f.Add([]byte(strings.Replace(specJWKS, specY[:5], "AAAAA", 1)))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","kty":"EC"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := ParseJWKS(data)
		if err != nil {
			if set.Keys != nil || !wrapsSentinel(err) {
				t.Fatalf("ParseJWKS: %d keys, error %v", len(set.Keys), err)
			}
			return
		}
		for _, k := range set.Keys {
			pub, ok := set.Key(k.Kid)
			if !ok {
				t.Fatal("an accepted key is not found by its kid")
			}
			jwk, err := PublicJWK(pub)
			if err != nil || jwk != k {
				t.Fatalf("accepted key %+v is not the published form %+v (%v)", k, jwk, err)
			}
		}
		data2, err := json.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseJWKS(data2)
		if err != nil || !reflect.DeepEqual(again.Keys, set.Keys) {
			t.Fatalf("re-encoded set does not parse to the same keys: %v", err)
		}
	})
}
