package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"

	"healthexchange/services/platform/durable"
)

// KEK is a key-encryption key: it wraps patients' data keys and never hands
// out its own key material. FileKEK is the local implementation; a KMS
// (MinIO KES, HashiCorp Vault transit) can take its place.
type KEK interface {
	// ID names the KEK; it is recorded with every data key it wraps, so a
	// vault can tell a key wrapped by another KEK. It is not secret, and it
	// stays the same for the same key material.
	ID() string
	// Wrap encrypts plaintextKey, authenticating aad with it.
	Wrap(ctx context.Context, plaintextKey, aad []byte) ([]byte, error)
	// Unwrap returns the key that Wrap wrapped with the same aad. If wrapped
	// was not made by this KEK with this aad, the error wraps ErrWrongKEK.
	Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error)
}

// KEKSize is the length of the key in a KEK file: 32 raw bytes (AES-256).
const KEKSize = 32

// FileKEK is a KEK kept in a local file of KEKSize random bytes, readable by
// its owner only. It wraps with AES-256-GCM under a random nonce.
type FileKEK struct {
	id   string
	aead cipher.AEAD
}

var _ KEK = (*FileKEK)(nil)

const (
	fileKEKVersion = 1
	// fileKEKWrappedSize: version, nonce, a data key, the tag.
	fileKEKWrappedSize = 1 + NonceSize + DataKeySize + TagSize
	kekIDLabel         = "healthexchange/vault/kek-id/v1\x00"
)

// NewFileKEK loads the KEK in path. It refuses a file that is not a regular
// file, that its group or others may access (it must be mode 0600 or
// stricter), or that does not hold exactly KEKSize bytes.
func NewFileKEK(path string) (*FileKEK, error) {
	key, err := durable.ReadSecret(path, KEKSize)
	defer clear(key)
	if errors.Is(err, durable.ErrSecretTooLarge) {
		return nil, fmt.Errorf("vault: KEK file %s holds more than %d bytes, want exactly %d raw bytes (see GenerateKEKFile)", path, KEKSize, KEKSize)
	} else if err != nil {
		return nil, fmt.Errorf("vault: KEK file: %w", err)
	}
	if len(key) != KEKSize {
		return nil, fmt.Errorf("vault: KEK file %s holds %d bytes, want exactly %d raw bytes (see GenerateKEKFile)", path, len(key), KEKSize)
	}
	return newFileKEK(key)
}

// newFileKEK builds the KEK from key; the caller still owns (and clears) key.
func newFileKEK(key []byte) (*FileKEK, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: KEK: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("vault: KEK: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(kekIDLabel))
	h.Write(key)
	return &FileKEK{id: "file:" + hex.EncodeToString(h.Sum(nil)[:8]), aead: aead}, nil
}

// GenerateKEKFile writes a new random KEK to path, mode 0600. It never
// replaces an existing file (that would make every key it wrapped
// unrecoverable): if path exists, the error wraps fs.ErrExist. The file
// appears complete or not at all, and is on disk when this returns.
func GenerateKEKFile(path string) error {
	key := make([]byte, KEKSize)
	defer clear(key)
	rand.Read(key)
	if err := createExclusive(filepath.Dir(path), filepath.Base(path), key); err != nil {
		return fmt.Errorf("vault: KEK file: %w", err)
	}
	return nil
}

// ID is "file:" and 16 hex digits of a hash of the key.
func (k *FileKEK) ID() string { return k.id }

// Wrap encrypts plaintextKey (a DataKeySize data key) bound to aad.
func (k *FileKEK) Wrap(ctx context.Context, plaintextKey, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(plaintextKey) != DataKeySize {
		return nil, fmt.Errorf("vault: %w: a data key is 32 bytes, not %d", ErrInvalid, len(plaintextKey))
	}
	var nonce [NonceSize]byte
	rand.Read(nonce[:])
	out := make([]byte, 0, fileKEKWrappedSize)
	out = append(out, fileKEKVersion)
	out = append(out, nonce[:]...)
	return k.aead.Seal(out, nonce[:], plaintextKey, aad), nil
}

// Unwrap reverses Wrap; anything Wrap did not make with this key and aad
// is ErrWrongKEK.
func (k *FileKEK) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case len(wrapped) != fileKEKWrappedSize:
		return nil, fmt.Errorf("vault: %w: wrapped key is %d bytes, want %d", ErrWrongKEK, len(wrapped), fileKEKWrappedSize)
	case wrapped[0] != fileKEKVersion:
		return nil, fmt.Errorf("vault: %w: unknown wrapping version %d", ErrWrongKEK, wrapped[0])
	}
	key, err := k.aead.Open(nil, wrapped[1:1+NonceSize], wrapped[1+NonceSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("vault: %w: KEK %s: wrapping does not authenticate", ErrWrongKEK, k.id)
	}
	return key, nil
}
