package ledgerapi

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// SigningContext prefixes every signed message, so a patient's signature can
// never be taken for one made by the same key in another protocol.
const SigningContext = "healthexchange/v1\n"

// signedMessage is what a signature covers: SigningContext then the exact
// payload bytes.
func signedMessage(payload []byte) []byte {
	return append([]byte(SigningContext), payload...)
}

// Sign marshals payload to JSON and signs it with priv. It returns the JSON to
// send as the payload argument and the standard base64 signature.
func Sign(priv ed25519.PrivateKey, payload any) (payloadJSON string, signatureB64 string, err error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", "", fmt.Errorf("%w: private key must be %d bytes", ErrInvalid, ed25519.PrivateKeySize)
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return "", "", fmt.Errorf("%w: payload: %w", ErrInvalid, err)
	}
	sig := ed25519.Sign(priv, signedMessage(data))
	return string(data), base64.StdEncoding.EncodeToString(sig), nil
}

// VerifySignature checks that signatureB64 is the signature of payload, exactly
// as received, by the Ed25519 key publicKeyB64.
func VerifySignature(publicKeyB64 string, payload []byte, signatureB64 string) error {
	key, err := decodePublicKey("publicKey", publicKeyB64)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	sig, err := base64.StdEncoding.DecodeString(signatureB64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature must be a standard base64 Ed25519 signature (%d bytes)", ErrSignature, ed25519.SignatureSize)
	}
	if !ed25519.Verify(key, signedMessage(payload), sig) {
		return fmt.Errorf("%w: signature does not match the payload and the patient's key", ErrSignature)
	}
	return nil
}
