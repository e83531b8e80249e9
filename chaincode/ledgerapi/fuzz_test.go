package ledgerapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// fuzzParse checks Parse's invariants on arbitrary input: it never panics;
// it refuses with ErrInvalid and a zero value; what it accepts is valid and
// survives a round trip through JSON unchanged.
func fuzzParse[T any, P Input[T]](f *testing.F, seeds ...T) {
	for _, s := range seeds {
		data, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, junk := range []string{"", "null", "{}", "[]", `{"op":1}`, `[{}]`, `{"nonce":-1}`, "\xff"} {
		f.Add([]byte(junk))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse[T, P](data)
		if err != nil {
			var zero T
			if !errors.Is(err, ErrInvalid) || !reflect.DeepEqual(v, zero) {
				t.Fatalf("refused with %v and %+v, want ErrInvalid and a zero value", err, v)
			}
			return
		}
		if err := P(&v).Validate(); err != nil {
			t.Fatalf("accepted an invalid document: %v", err)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse[T, P](again)
		if err != nil || !reflect.DeepEqual(back, v) {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, v)
		}
	})
}

func FuzzParsePatientRegistration(f *testing.F) {
	fuzzParse(f, validRegistration())
}

func FuzzParseConsentGrant(f *testing.F) {
	noLimits := validGrant()
	noLimits.RecordIDs, noLimits.NotBefore, noLimits.ExpiresAt = []string{}, "", ""
	fuzzParse(f, validGrant(), noLimits)
}

func FuzzParseConsentRevocation(f *testing.F) {
	fuzzParse(f, validRevocation())
}

func FuzzParseDeviceRegistration(f *testing.F) {
	fuzzParse(f, validDevice())
}

func FuzzParseDeviceRevocation(f *testing.F) {
	fuzzParse(f, validDeviceRevocation())
}

func FuzzParseAccessEvents(f *testing.F) {
	bare := validEvent("e3")
	bare.ActorOrg, bare.Purpose, bare.Reason, bare.BreakGlass = "", "", "", true
	fuzzParse(f, validEvents(), AccessEvents{bare})
}

func FuzzParseDatasetReleaseRequest(f *testing.F) {
	fuzzParse(f, validRelease())
}

// FuzzVerifySignature: verification never panics, and accepts only the
// signed bytes under the signer's key.
func FuzzVerifySignature(f *testing.F) {
	key := testKey("alice")
	payload, sig, err := Sign(key, validRevocation())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(publicKeyOf(key), []byte(payload), sig)
	f.Add("AAAA", []byte("{}"), "AAAA")
	f.Fuzz(func(t *testing.T, publicKey string, data []byte, signature string) {
		err := VerifySignature(publicKey, data, signature)
		if err != nil && !errors.Is(err, ErrSignature) {
			t.Fatalf("error %v does not wrap ErrSignature", err)
		}
		if err == nil && publicKey == publicKeyOf(key) && string(data) != payload {
			t.Fatalf("accepted bytes alice did not sign: %q", data)
		}
	})
}
