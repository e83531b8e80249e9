package ledgerapi

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"regexp"
	"time"
)

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)
	hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidateID checks that v is an id: 1 to 128 characters from A-Z a-z 0-9 . _ : @ -,
// starting with a letter or digit.
func ValidateID(field, v string) error {
	if !idPattern.MatchString(v) {
		return fmt.Errorf("%w: %s must be 1-128 characters of A-Z a-z 0-9 . _ : @ - starting with a letter or digit", ErrInvalid, field)
	}
	return nil
}

// ValidateOptionalID checks that v is empty or an id.
func ValidateOptionalID(field, v string) error {
	if v == "" {
		return nil
	}
	return ValidateID(field, v)
}

// ValidateHash checks that v is a lowercase hex SHA-256 digest.
func ValidateHash(field, v string) error {
	if !hashPattern.MatchString(v) {
		return fmt.Errorf("%w: %s must be a lowercase hex SHA-256 (64 characters)", ErrInvalid, field)
	}
	return nil
}

// ValidatePublicKey checks that v is a standard base64 Ed25519 public key.
func ValidatePublicKey(field, v string) error {
	_, err := decodePublicKey(field, v)
	return err
}

func decodePublicKey(field, v string) (ed25519.PublicKey, error) {
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %s must be a standard base64 Ed25519 public key (%d bytes)", ErrInvalid, field, ed25519.PublicKeySize)
	}
	return key, nil
}

// ParseTime parses an RFC 3339 time.
func ParseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s must be an RFC 3339 time", ErrInvalid, field)
	}
	return t, nil
}

// ParseOptionalTime parses an RFC 3339 time; "" gives the zero time.
func ParseOptionalTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	return ParseTime(field, v)
}

// CanonicalTime parses an RFC 3339 time and renders it with FormatTime; ""
// stays "".
func CanonicalTime(field, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	t, err := ParseTime(field, v)
	if err != nil {
		return "", err
	}
	return FormatTime(t), nil
}

// FormatTime renders t the way every time is stored on the ledger: RFC 3339
// in UTC with nanoseconds.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}
