package health

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"healthexchange/chaincode/ledgerapi"
)

// cardKey is a fresh P-256 key as a CardKey's JSON.
func cardKey(t *testing.T) (ledgerapi.CardKey, string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := priv.PublicKey.Bytes()
	k := ledgerapi.CardKey{X: base64.RawURLEncoding.EncodeToString(b[1:33]), Y: base64.RawURLEncoding.EncodeToString(b[33:])}
	k.Kid = k.Thumbprint()
	data, _ := json.Marshal(k)
	return k, string(data)
}

func (f *fixture) registerIssuer(caller fakeIdentity, issuer, keyJSON string) (*ledgerapi.CardIssuer, error) {
	return run(f, caller, func(ctx ctxT) (*ledgerapi.CardIssuer, error) {
		return new(CardIssuers).Register(ctx, issuer, keyJSON)
	})
}

func TestCardIssuers(t *testing.T) {
	f := newFixture()
	k1, j1 := cardKey(t)
	k2, j2 := cardKey(t)
	other, _ := cardKey(t)
	wrongKid := strings.Replace(j1, k1.Kid, other.Kid, 1)
	offCurve := strings.Replace(j1, k1.Y, k2.Y, 1)
	const iss = "https://records.providers.example/shc/ProvidersMSP"
	for _, tc := range []struct { // in order, on one ledger
		name    string
		caller  fakeIdentity
		issuer  string
		key     string
		want    error
		msg     string
		issuers int
		keys    int
	}{
		{"a pharmacy issues no cards", pharmacy, iss, j1, ledgerapi.ErrForbidden, "may not call", 0, 0},
		{"the research institute issues no cards", research, iss, j1, ledgerapi.ErrForbidden, "may not call", 0, 0},
		{"an issuer with a query", providers, iss + "?a=b", j1, ledgerapi.ErrInvalid, "issuer", 0, 0},
		{"an issuer with a trailing slash", providers, iss + "/", j1, ledgerapi.ErrInvalid, "issuer", 0, 0},
		{"an issuer that is not a URL", providers, "ProvidersMSP", j1, ledgerapi.ErrInvalid, "issuer", 0, 0},
		{"a kid that is not the key's", providers, iss, wrongKid, ledgerapi.ErrInvalid, "thumbprint", 0, 0},
		{"a point off the curve", providers, iss, offCurve, ledgerapi.ErrInvalid, "P-256", 0, 0},
		{"a key with a private member", providers, iss, strings.Replace(j1, `{`, `{"d":"AAAA",`, 1), ledgerapi.ErrInvalid, "d", 0, 0},
		{"the first registration", providers, iss, j1, nil, "", 1, 1},
		{"the same again changes nothing", providers, iss, j1, nil, "", 1, 1},
		{"a second instance's URL and key", providers, iss + "-b", j2, nil, "", 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ci, err := f.registerIssuer(tc.caller, tc.issuer, tc.key)
			wantErr(t, err, tc.want)
			if err != nil {
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q does not mention %q", err, tc.msg)
				}
				return
			}
			if ci.Org != "ProvidersMSP" || len(ci.Issuers) != tc.issuers || len(ci.Keys) != tc.keys {
				t.Fatalf("registration %+v", ci)
			}
		})
	}
	t.Run("each hospital registers for itself", func(t *testing.T) {
		_, j := cardKey(t)
		if _, err := f.registerIssuer(stmarys, "https://stmarys.example/shc", j); err != nil {
			t.Fatal(err)
		}
		all, err := run(f, insurer, func(ctx ctxT) ([]ledgerapi.CardIssuer, error) { return new(CardIssuers).List(ctx) })
		if err != nil || len(all) != 2 || all[0].Org != "ProvidersMSP" || all[1].Org != "StMarysMSP" || len(all[1].Keys) != 1 {
			t.Fatalf("list %+v, %v", all, err)
		}
		got, err := run(f, outsider, func(ctx ctxT) (*ledgerapi.CardIssuer, error) { return new(CardIssuers).Get(ctx, "ProvidersMSP") })
		wantErr(t, err, ledgerapi.ErrForbidden)
		_ = got
	})
	t.Run("bounded", func(t *testing.T) {
		for i := 0; i < ledgerapi.MaxCardKeys; i++ {
			_, j := cardKey(t)
			_, err := f.registerIssuer(stmarys, "https://stmarys.example/shc", j)
			if i < ledgerapi.MaxCardKeys-1 && err != nil {
				t.Fatal(err)
			}
			if i == ledgerapi.MaxCardKeys-1 {
				wantErr(t, err, ledgerapi.ErrConflict)
			}
		}
	})
}
