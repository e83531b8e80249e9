package vault

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// The object format, version 1:
//
//	offset  size  field
//	0       4     magic "\x89HXV"
//	4       1     format version (1)
//	5       16    key id: which of the patient's data keys sealed it
//	21      12    nonce, random per object
//	33      n+16  AES-256-GCM ciphertext of the n plaintext bytes, then the tag
//
// The GCM additional data is the 33 header bytes, then the patient id and
// the object key, each preceded by its length (4 bytes, big-endian): a
// changed header byte, or an object presented under another object key or
// for another patient, fails authentication.
const (
	// FormatVersion is the object format this package writes.
	FormatVersion = 1
	// KeyIDSize is the length of a data key id.
	KeyIDSize = 16
	// NonceSize is the length of an object's GCM nonce.
	NonceSize = 12
	// HeaderSize is the length of an object header.
	HeaderSize = len(magic) + 1 + KeyIDSize + NonceSize
	// TagSize is the length of the GCM authentication tag after the
	// ciphertext; a sealed object is HeaderSize+len(plaintext)+TagSize bytes.
	TagSize = 16
)

// magic starts every object. The non-ASCII first byte catches text-mode
// mangling, as PNG's does.
const magic = "\x89HXV"

// KeyID names one data key of one patient. It is random, not derived from
// the key, and not secret.
type KeyID [KeyIDSize]byte

// String is the id in lowercase hex.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is all zeros, which no key ever has.
func (id KeyID) IsZero() bool { return id == KeyID{} }

// MarshalText encodes the id as lowercase hex.
func (id KeyID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes an id encoded by MarshalText.
func (id *KeyID) UnmarshalText(text []byte) error {
	if len(text) != 2*KeyIDSize {
		return fmt.Errorf("%w: key id must be %d hex characters, not %d", ErrInvalid, 2*KeyIDSize, len(text))
	}
	if _, err := hex.Decode(id[:], text); err != nil {
		return fmt.Errorf("%w: key id: %w", ErrInvalid, err)
	}
	return nil
}

// Header is the clear-text start of a sealed object.
type Header struct {
	// Version is the format version, FormatVersion.
	Version byte
	// KeyID names the patient's data key that sealed the object.
	KeyID KeyID
	// Nonce is the object's GCM nonce.
	Nonce [NonceSize]byte
}

// ParseHeader reads the header at the start of b, which may be a whole
// sealed object or only its first HeaderSize bytes. Every error wraps
// ErrMalformed and says what is wrong. A header that parses is not yet
// authentic: only Vault.Open can tell.
func ParseHeader(b []byte) (Header, error) {
	h, err := parseHeader(b)
	if err != nil {
		return Header{}, fmt.Errorf("vault: %w", err)
	}
	return h, nil
}

// parseHeader is ParseHeader without the package prefix on its errors.
func parseHeader(b []byte) (Header, error) {
	switch {
	case len(b) < HeaderSize:
		return Header{}, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), HeaderSize)
	case string(b[:len(magic)]) != magic:
		return Header{}, fmt.Errorf("%w: not a vault object (starts % x, want % x)", ErrMalformed, b[:len(magic)], magic)
	case b[len(magic)] != FormatVersion:
		return Header{}, fmt.Errorf("%w: unsupported format version %d (this build reads %d)", ErrMalformed, b[len(magic)], FormatVersion)
	}
	h := Header{Version: b[len(magic)]}
	copy(h.KeyID[:], b[len(magic)+1:])
	copy(h.Nonce[:], b[len(magic)+1+KeyIDSize:])
	if h.KeyID.IsZero() {
		return Header{}, fmt.Errorf("%w: zero key id", ErrMalformed)
	}
	return h, nil
}

// appendTo appends the encoded header to b.
func (h Header) appendTo(b []byte) []byte {
	b = append(b, magic...)
	b = append(b, h.Version)
	b = append(b, h.KeyID[:]...)
	return append(b, h.Nonce[:]...)
}

// objectAAD is the GCM additional data of an object: its header, the
// patient id and the object key, each id length-prefixed so no two
// (patient, object key) pairs encode alike.
func objectAAD(header []byte, patientID, objectKey string) []byte {
	aad := make([]byte, 0, len(header)+8+len(patientID)+len(objectKey))
	aad = append(aad, header...)
	aad = appendString(aad, patientID)
	return appendString(aad, objectKey)
}

// wrapLabel separates data-key wrapping from any other use of a KEK.
const wrapLabel = "healthexchange/vault/data-key/v1"

// wrapAAD is the additional data a data key is wrapped with: a wrapped key
// record moved to another patient, or given another key id, does not
// unwrap.
func wrapAAD(patientID string, id KeyID) []byte {
	aad := make([]byte, 0, len(wrapLabel)+1+4+len(patientID)+KeyIDSize)
	aad = append(aad, wrapLabel...)
	aad = append(aad, 0)
	aad = appendString(aad, patientID)
	return append(aad, id[:]...)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
