package mhealth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"healthexchange/chaincode/ledgerapi"
)

func testBatch() Batch {
	return Batch{DeviceID: "watch-7", PatientID: "patient-42", Seq: 3, Readings: goldenReadings()}
}

func TestSignVerify(t *testing.T) {
	device := testKey("device")
	pub := device.Public().(ed25519.PublicKey)
	sb, err := Sign(device, testBatch())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := testBatch().Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sb.Payload, enc) {
		t.Fatal("the signed payload is not the batch's encoding")
	}
	got, err := Verify(pub, sb.Payload, sb.Signature)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(testBatch(), got); diff != "" {
		t.Fatalf("Verify returned a different batch (-want +got):\n%s", diff)
	}

	t.Run("every flipped payload byte fails", func(t *testing.T) {
		for i := range sb.Payload {
			for _, mask := range []byte{0x01, 0x80} {
				p := bytes.Clone(sb.Payload)
				p[i] ^= mask
				if _, err := Verify(pub, p, sb.Signature); !errors.Is(err, ErrSignature) {
					t.Fatalf("payload byte %d ^ %#x: Verify = %v, want ErrSignature", i, mask, err)
				}
			}
		}
	})
	t.Run("every flipped signature byte fails", func(t *testing.T) {
		for i := range sb.Signature {
			for _, mask := range []byte{0x01, 0x80} {
				s := bytes.Clone(sb.Signature)
				s[i] ^= mask
				if _, err := Verify(pub, sb.Payload, s); !errors.Is(err, ErrSignature) {
					t.Fatalf("signature byte %d ^ %#x: Verify = %v, want ErrSignature", i, mask, err)
				}
			}
		}
	})

	other := testKey("other device")
	forged, err := Sign(other, testBatch())
	if err != nil {
		t.Fatal(err)
	}
	undomained := ed25519.Sign(device, sb.Payload)
	asPatient := ed25519.Sign(device, append([]byte(ledgerapi.SigningContext), sb.Payload...))
	for _, tc := range []struct {
		name         string
		pub          ed25519.PublicKey
		payload, sig []byte
		want         error
	}{
		{"another device's key", other.Public().(ed25519.PublicKey), sb.Payload, sb.Signature, ErrSignature},
		{"signed by another device", pub, forged.Payload, forged.Signature, ErrSignature},
		{"signed without the context", pub, sb.Payload, undomained, ErrSignature},
		{"signed with the patient payload context", pub, sb.Payload, asPatient, ErrSignature},
		{"truncated payload", pub, sb.Payload[:len(sb.Payload)-1], sb.Signature, ErrSignature},
		{"extended payload", pub, append(bytes.Clone(sb.Payload), 0), sb.Signature, ErrSignature},
		{"short signature", pub, sb.Payload, sb.Signature[:63], ErrSignature},
		{"long signature", pub, sb.Payload, append(bytes.Clone(sb.Signature), 0), ErrSignature},
		{"no signature", pub, sb.Payload, nil, ErrSignature},
		{"short public key", pub[:31], sb.Payload, sb.Signature, ErrSignature},
		{"oversized payload", pub, make([]byte, MaxPayloadBytes+1), sb.Signature, ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Verify(tc.pub, tc.payload, tc.sig)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if diff := cmp.Diff(Batch{}, b); diff != "" {
				t.Fatalf("a refused batch was returned:\n%s", diff)
			}
		})
	}
}

// TestVerifyBeforeDecode: the signature is checked before a byte is decoded,
// and a correctly signed payload is still decoded strictly.
func TestVerifyBeforeDecode(t *testing.T) {
	device := testKey("device")
	pub := device.Public().(ed25519.PublicKey)
	garbage := []byte("not a batch")
	if _, err := Verify(pub, garbage, make([]byte, ed25519.SignatureSize)); !errors.Is(err, ErrSignature) || errors.Is(err, ErrFormat) {
		t.Fatalf("unsigned garbage: Verify = %v, want ErrSignature only", err)
	}
	sig := ed25519.Sign(device, append([]byte(SigningContext), garbage...))
	if _, err := Verify(pub, garbage, sig); !errors.Is(err, ErrFormat) {
		t.Fatalf("signed garbage: Verify = %v, want ErrFormat", err)
	}
}

// TestSignatureDomains: a device signature never verifies as a patient's
// ledger signature, because the two signing contexts differ.
func TestSignatureDomains(t *testing.T) {
	if strings.HasPrefix(SigningContext, ledgerapi.SigningContext) || strings.HasPrefix(ledgerapi.SigningContext, SigningContext) {
		t.Fatalf("signing contexts %q and %q: one is a prefix of the other", SigningContext, ledgerapi.SigningContext)
	}
	key := testKey("shared key")
	sb, err := Sign(key, testBatch())
	if err != nil {
		t.Fatal(err)
	}
	pub64 := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	sig64 := base64.StdEncoding.EncodeToString(sb.Signature)
	if err := ledgerapi.VerifySignature(pub64, sb.Payload, sig64); !errors.Is(err, ledgerapi.ErrSignature) {
		t.Fatalf("a batch signature verified as a ledger payload signature: %v", err)
	}
	payload, patientSig, err := ledgerapi.Sign(key, ledgerapi.Header{Op: ledgerapi.OpConsentRevoke, Nonce: 1, PatientID: "patient-42"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(patientSig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(key.Public().(ed25519.PublicKey), []byte(payload), raw); !errors.Is(err, ErrSignature) {
		t.Fatalf("a ledger payload signature verified as a batch signature: %v", err)
	}
}

func TestSignRejects(t *testing.T) {
	if _, err := Sign(ed25519.PrivateKey("short"), testBatch()); !errors.Is(err, ErrSignature) {
		t.Fatalf("short key: %v", err)
	}
	bad := testBatch()
	bad.Seq = 0
	if _, err := Sign(testKey("device"), bad); !errors.Is(err, ErrFormat) {
		t.Fatalf("seq 0: %v", err)
	}
}

func TestBatchHash(t *testing.T) {
	sb, err := Sign(testKey("device"), testBatch())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := BatchHash(sb.Payload), sha256.Sum256(sb.Payload); got != want {
		t.Fatalf("BatchHash = %x, want SHA-256 of the payload %x", got, want)
	}
	again, err := Sign(testKey("device"), testBatch())
	if err != nil {
		t.Fatal(err)
	}
	if BatchHash(again.Payload) != BatchHash(sb.Payload) {
		t.Fatal("the same batch hashes differently: the encoding is not deterministic")
	}
	next := testBatch()
	next.Seq++
	other, err := Sign(testKey("device"), next)
	if err != nil {
		t.Fatal(err)
	}
	if BatchHash(other.Payload) == BatchHash(sb.Payload) {
		t.Fatal("different batches hash the same")
	}
}
