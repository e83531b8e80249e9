package ledgerapi

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func publicKeyOf(priv ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
}

func TestSignAndVerify(t *testing.T) {
	alice, mallory := testKey("alice"), testKey("mallory")
	payload, sig, err := Sign(alice, ConsentRevocation{Header: Header{Op: OpConsentRevoke, Nonce: 3, PatientID: "alice"}, ConsentID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"op":"consent.revoke","nonce":3,"patientId":"alice","consentId":"c1"}`; payload != want {
		t.Fatalf("payload = %s, want %s", payload, want)
	}
	_, forged, _ := Sign(mallory, ConsentRevocation{Header: Header{Op: OpConsentRevoke, Nonce: 3, PatientID: "alice"}, ConsentID: "c1"})
	undomained := base64.StdEncoding.EncodeToString(ed25519.Sign(alice, []byte(payload)))
	for _, tc := range []struct {
		name, key, payload, sig string
		want                    error
	}{
		{"valid", publicKeyOf(alice), payload, sig, nil},
		{"signed by another key", publicKeyOf(alice), payload, forged, ErrSignature},
		{"payload re-encoded", publicKeyOf(alice), strings.Replace(payload, ",", ", ", 1), sig, ErrSignature},
		{"payload changed", publicKeyOf(alice), strings.Replace(payload, "c1", "c2", 1), sig, ErrSignature},
		{"signed without the signing context", publicKeyOf(alice), payload, undomained, ErrSignature},
		{"signature not base64", publicKeyOf(alice), payload, "!!", ErrSignature},
		{"signature too short", publicKeyOf(alice), payload, sig[:40], ErrSignature},
		{"bad public key", "AAAA", payload, sig, ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifySignature(tc.key, []byte(tc.payload), tc.sig); !errors.Is(err, tc.want) {
				t.Fatalf("VerifySignature = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	if _, _, err := Sign(ed25519.PrivateKey("short"), Header{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short key: %v", err)
	}
	if _, _, err := Sign(testKey("alice"), func() {}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unencodable payload: %v", err)
	}
}
