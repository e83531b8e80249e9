package shc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// The example issuer key of the SMART Health Cards specification
// (spec.smarthealth.cards/examples/issuer/.well-known/jwks.json); its kid
// is its RFC 7638 thumbprint as computed by the spec's authors.
const (
	specKid = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"
	specX   = "11XvRWy1I2S0EyJlyf_bWfw_TQ5CJJNLw78bHXNxcgw"
	specY   = "eZXwxvO1hvCY0KucrPfKo7yAyMT6Ajc3N7OkAB6VYy8"
)

func specKey(t testing.TB) *ecdsa.PublicKey {
	t.Helper()
	x, _ := b64.DecodeString(specX)
	y, _ := b64.DecodeString(specY)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// handThumbprint builds the RFC 7638 member string by hand from the
// point's bytes and hashes it.
func handThumbprint(t testing.TB, pub *ecdsa.PublicKey) string {
	t.Helper()
	p, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s := `{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(p[1:33]) + `","y":"` + b64.EncodeToString(p[33:]) + `"}`
	sum := sha256.Sum256([]byte(s))
	return b64.EncodeToString(sum[:])
}

// scalarKey is the key of private scalar d (1 <= d < n).
func scalarKey(t testing.TB, d int64) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), big.NewInt(d).FillBytes(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestThumbprint(t *testing.T) {
	t.Run("spec example key", func(t *testing.T) {
		kid, err := Thumbprint(specKey(t))
		if err != nil {
			t.Fatal(err)
		}
		if kid != specKid {
			t.Fatalf("thumbprint %s, want %s", kid, specKid)
		}
	})
	t.Run("generated key matches the hand-built member string", func(t *testing.T) {
		key, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		kid, err := Thumbprint(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if want := handThumbprint(t, &key.PublicKey); kid != want || len(kid) != 43 {
			t.Fatalf("thumbprint %s, want %s", kid, want)
		}
	})
	t.Run("coordinates with a leading zero byte are padded to 32 bytes", func(t *testing.T) {
		// Find, deterministically, keys whose x and whose y start with 0x00.
		var zeroX, zeroY *ecdsa.PrivateKey
		for d := int64(1); zeroX == nil || zeroY == nil; d++ {
			key := scalarKey(t, d)
			p, _ := key.PublicKey.Bytes()
			if p[1] == 0 && zeroX == nil {
				zeroX = key
			}
			if p[33] == 0 && zeroY == nil {
				zeroY = key
			}
		}
		for name, key := range map[string]*ecdsa.PrivateKey{"x": zeroX, "y": zeroY} {
			jwk, err := PublicJWK(&key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			x, _ := b64.DecodeString(jwk.X)
			y, _ := b64.DecodeString(jwk.Y)
			if len(x) != 32 || len(y) != 32 || len(jwk.X) != 43 || len(jwk.Y) != 43 {
				t.Fatalf("%s: coordinates of %d and %d bytes", name, len(x), len(y))
			}
			if jwk.Kid != handThumbprint(t, &key.PublicKey) {
				t.Fatalf("%s: thumbprint is not over the padded coordinates", name)
			}
		}
	})
	t.Run("rejects keys that are not P-256", func(t *testing.T) {
		p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for name, pub := range map[string]*ecdsa.PublicKey{
			"nil": nil, "P-384": &p384.PublicKey, "no curve": {}, "no point": {Curve: elliptic.P256()},
		} {
			if _, err := Thumbprint(pub); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("%s: %v, want ErrInvalidKey", name, err)
			}
		}
	})
}

func TestPublicJWK(t *testing.T) {
	jwk, err := PublicJWK(specKey(t))
	if err != nil {
		t.Fatal(err)
	}
	want := JWK{Kty: "EC", Kid: specKid, Use: "sig", Alg: "ES256", Crv: "P-256", X: specX, Y: specY}
	if jwk != want {
		t.Fatalf("JWK %+v, want %+v", jwk, want)
	}
	data, err := json.Marshal(JWKS{Keys: []JWK{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"keys":[{"kty":"EC","kid":"` + specKid + `","use":"sig","alg":"ES256","crv":"P-256","x":"` + specX + `","y":"` + specY + `"}]}`
	if string(data) != wantJSON {
		t.Fatalf("JSON %s", data)
	}
	set, err := ParseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := set.Key(specKid)
	if !ok || !pub.Equal(specKey(t)) {
		t.Fatal("the key set does not give back the key")
	}
}

func TestParseJWKS(t *testing.T) {
	// member renders the spec key with one member replaced or added.
	member := func(name, value string) string {
		m := map[string]string{"kty": `"EC"`, "kid": `"` + specKid + `"`, "use": `"sig"`, "alg": `"ES256"`, "crv": `"P-256"`, "x": `"` + specX + `"`, "y": `"` + specY + `"`}
		if value == "" {
			delete(m, name)
		} else {
			m[name] = value
		}
		var parts []string
		for _, n := range []string{"kty", "kid", "use", "alg", "crv", "x", "y", "d", "D", "k", "x5c"} {
			if v, ok := m[n]; ok {
				parts = append(parts, `"`+n+`":`+v)
			}
		}
		return `{` + strings.Join(parts, ",") + `}`
	}
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }
	good := member("kty", `"EC"`)
	other := keySet(t, fixedKey(t, 7)).Keys[0]
	otherJSON, _ := json.Marshal(other)

	// A point off the curve: y + 1.
	y, _ := b64.DecodeString(specY)
	y[31]++
	offCurve := b64.EncodeToString(y)
	// x = p, the field's modulus: not a canonical coordinate.
	fieldP := b64.EncodeToString(elliptic.P256().Params().P.FillBytes(make([]byte, 32)))
	short, _ := b64.DecodeString(specX)
	shortX := b64.EncodeToString(short[1:])

	tests := []struct {
		name     string
		data     string
		wantErr  error
		wantKeys int
	}{
		{"spec key", set(good), nil, 1},
		{"two keys", set(good, string(otherJSON)), nil, 2},
		{"no keys", set(), nil, 0},
		{"x5c ignored", set(member("x5c", `["MIIB"]`)), nil, 1},
		{"extra top-level member ignored", `{"keys":[` + good + `],"note":"x"}`, nil, 1},
		{"private d", set(member("d", `"FvOOk6hMixJ2o9zt4PCfan_UW7i4aOEnzj76ZaCI9Og"`)), ErrInvalidKey, 0},
		{"private D", set(member("D", `"AAAA"`)), ErrInvalidKey, 0},
		{"private d null", set(member("d", `null`)), ErrInvalidKey, 0},
		{"symmetric k", set(member("k", `"AAAA"`)), ErrInvalidKey, 0},
		{"private key after a good one", set(good, member("d", `"AAAA"`)), ErrInvalidKey, 0},
		{"kid not the thumbprint", set(member("kid", `"`+other.Kid+`"`)), ErrInvalidKey, 0},
		{"kid empty", set(member("kid", `""`)), ErrInvalidKey, 0},
		{"kid missing", set(member("kid", "")), ErrMalformed, 0},
		{"point off the curve", set(member("y", `"`+offCurve+`"`)), ErrInvalidKey, 0},
		{"x equal to p", set(member("x", `"`+fieldP+`"`)), ErrInvalidKey, 0},
		{"x 31 bytes", set(member("x", `"`+shortX+`"`)), ErrInvalidKey, 0},
		{"x padded", set(member("x", `"`+specX+`="`)), ErrInvalidKey, 0},
		{"x standard base64", set(member("x", `"`+strings.ReplaceAll(specX, "_", "/")+`"`)), ErrInvalidKey, 0},
		{"x a number", set(member("x", `1`)), ErrMalformed, 0},
		{"kty RSA", set(member("kty", `"RSA"`)), ErrInvalidKey, 0},
		{"crv P-384", set(member("crv", `"P-384"`)), ErrInvalidKey, 0},
		{"use enc", set(member("use", `"enc"`)), ErrInvalidKey, 0},
		{"alg missing", set(member("alg", "")), ErrMalformed, 0},
		{"alg ES384", set(member("alg", `"ES384"`)), ErrInvalidKey, 0},
		{"duplicate kid member", set(`{"kid":"x",` + good[1:]), ErrMalformed, 0},
		{"key not an object", set(`"key"`), ErrMalformed, 0},
		{"keys missing", `{}`, ErrMalformed, 0},
		{"keys null", `{"keys":null}`, ErrMalformed, 0},
		{"keys an object", `{"keys":{}}`, ErrMalformed, 0},
		{"an array", `[` + good + `]`, ErrMalformed, 0},
		{"trailing data", set(good) + `{}`, ErrMalformed, 0},
		{"empty", ``, ErrMalformed, 0},
		{"too large", set(good) + strings.Repeat(" ", MaxJWKSBytes), ErrTooLarge, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJWKS([]byte(tt.data))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseJWKS: %v, want %v", err, tt.wantErr)
			}
			if len(got.Keys) != tt.wantKeys {
				t.Fatalf("%d keys, want %d", len(got.Keys), tt.wantKeys)
			}
			for _, k := range got.Keys {
				if _, ok := got.Key(k.Kid); !ok {
					t.Fatal("a parsed key is not found by its kid")
				}
			}
		})
	}
}

func TestJWKSKey(t *testing.T) {
	key, other := fixedKey(t, 1), fixedKey(t, 2)
	good := keySet(t, key).Keys[0]
	mislabelled := keySet(t, other).Keys[0]
	mislabelled.Kid = good.Kid
	tests := []struct {
		name   string
		set    JWKS
		kid    string
		wantOK bool
	}{
		{"found", JWKS{Keys: []JWK{good}}, good.Kid, true},
		{"absent", JWKS{Keys: []JWK{good}}, "nope", false},
		{"empty kid", JWKS{Keys: []JWK{good}}, "", false},
		{"hand-built key whose kid is not its thumbprint", JWKS{Keys: []JWK{mislabelled}}, good.Kid, false},
		{"valid key after a mislabelled one", JWKS{Keys: []JWK{mislabelled, good}}, good.Kid, true},
		{"hand-built key without alg", JWKS{Keys: []JWK{withAlg(good, "")}}, good.Kid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, ok := tt.set.Key(tt.kid)
			if ok != tt.wantOK {
				t.Fatalf("Key: ok %v, want %v", ok, tt.wantOK)
			}
			if ok && !pub.Equal(&key.PublicKey) {
				t.Fatal("Key returned another key")
			}
		})
	}
}

func withAlg(k JWK, alg string) JWK {
	k.Alg = alg
	return k
}
