package mhealth

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
)

// SigningContext prefixes every message a device signs. It differs from
// ledgerapi.SigningContext ("healthexchange/v1\n") within the first 16 bytes
// and neither is a prefix of the other, so a device's signature over a batch
// can never pass as a patient's signature over a ledger payload, or the
// other way round, even if one key were used for both.
const SigningContext = "healthexchange/wearable-batch/v1\n"

// SignedBatch is a batch as it travels: the exact binary encoding and the
// device's Ed25519 signature over SigningContext followed by it.
type SignedBatch struct {
	Payload   []byte
	Signature []byte
}

// Sign encodes b and signs it with the device key. It refuses a malformed key
// with ErrSignature and a batch Encode refuses with Encode's error.
func Sign(key ed25519.PrivateKey, b Batch) (SignedBatch, error) {
	if len(key) != ed25519.PrivateKeySize {
		return SignedBatch{}, fmt.Errorf("%w: private key must be %d bytes, not %d", ErrSignature, ed25519.PrivateKeySize, len(key))
	}
	n, err := b.encodedLen()
	if err != nil {
		return SignedBatch{}, err
	}
	// Encode straight after the context, so the message is built without a copy.
	msg := make([]byte, len(SigningContext)+n)
	copy(msg, SigningContext)
	b.put(msg[len(SigningContext):])
	return SignedBatch{
		Payload:   msg[len(SigningContext):len(msg):len(msg)],
		Signature: ed25519.Sign(key, msg),
	}, nil
}

// Verify checks that sig is pub's signature over SigningContext followed by
// payload, and only then decodes payload (see Decode). An oversized payload
// is refused before any work, a malformed key or a signature that does not
// verify with ErrSignature. Verify does not know which device pub belongs
// to: the caller must check that the returned batch's DeviceID (and
// PatientID) are those the key is registered for, then Validate each reading.
func Verify(pub ed25519.PublicKey, payload, sig []byte) (Batch, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Batch{}, fmt.Errorf("%w: public key must be %d bytes, not %d", ErrSignature, ed25519.PublicKeySize, len(pub))
	}
	if len(sig) != ed25519.SignatureSize {
		return Batch{}, fmt.Errorf("%w: signature must be %d bytes, not %d", ErrSignature, ed25519.SignatureSize, len(sig))
	}
	if len(payload) > MaxPayloadBytes {
		return Batch{}, fmt.Errorf("%w: payload of %d bytes is longer than any batch (%d)", ErrFormat, len(payload), MaxPayloadBytes)
	}
	msg := make([]byte, len(SigningContext)+len(payload))
	copy(msg, SigningContext)
	copy(msg[len(SigningContext):], payload)
	if !ed25519.Verify(pub, msg, sig) {
		return Batch{}, fmt.Errorf("%w: signature does not match the payload and the device key", ErrSignature)
	}
	return Decode(payload)
}

// BatchHash is the SHA-256 of a payload: what the ingest service stores the
// batch under and the leaf it anchors on the ledger.
func BatchHash(payload []byte) [32]byte {
	return sha256.Sum256(payload)
}
