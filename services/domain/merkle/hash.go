package merkle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Size of a Hash in bytes.
const hashSize = sha256.Size

// Domain separation prefixes of RFC 9162 section 2.1.1.
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// Hash is a SHA-256 digest: a leaf hash, an inner node or a root.
type Hash [hashSize]byte

// LeafHash is the hash of one leaf, SHA-256(0x00 || data). The ingest service
// passes the bytes that identify a stored batch (for example its content
// digest); the result is what New and Root take.
func LeafHash(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{leafPrefix})
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// nodeHash is the hash of an inner node, SHA-256(0x01 || left || right).
func nodeHash(left, right *Hash) Hash {
	var buf [1 + 2*hashSize]byte
	buf[0] = nodePrefix
	copy(buf[1:], left[:])
	copy(buf[1+hashSize:], right[:])
	return sha256.Sum256(buf[:])
}

// String is the hash as 64 lower-case hex digits.
func (h Hash) String() string {
	return hex.EncodeToString(h[:])
}

// MarshalText is the hash as 64 lower-case hex digits, so a Hash in a JSON
// document is a hex string.
func (h Hash) MarshalText() ([]byte, error) {
	return h.AppendText(make([]byte, 0, 2*hashSize))
}

// AppendText appends the hash as 64 lower-case hex digits to b.
func (h Hash) AppendText(b []byte) ([]byte, error) {
	return hex.AppendEncode(b, h[:]), nil
}

// UnmarshalText accepts exactly what ParseHash accepts.
func (h *Hash) UnmarshalText(text []byte) error {
	return parseHash(h, text)
}

// ParseHash reads a hash written by String: exactly 64 lower-case hex
// digits, nothing before or after. Upper-case digits are refused so that a
// hash has one spelling only.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if err := parseHash(&h, []byte(s)); err != nil {
		return Hash{}, err
	}
	return h, nil
}

func parseHash(h *Hash, text []byte) error {
	if len(text) != 2*hashSize {
		return fmt.Errorf("%w: %d characters, want %d", ErrInvalidHash, len(text), 2*hashSize)
	}
	var out Hash
	for i := range out {
		hi, ok1 := hexDigit(text[2*i])
		lo, ok2 := hexDigit(text[2*i+1])
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: %q is not lower-case hex", ErrInvalidHash, text[2*i:2*i+2])
		}
		out[i] = hi<<4 | lo
	}
	*h = out
	return nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
