package durable

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ReadSecret reads a key file of its owner's only, within its limit, and
// refuses anything else in words.
func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
		return path
	}
	secret := bytes.Repeat([]byte{7}, 32)
	if got, err := ReadSecret(write("ok", secret, 0o600), 32); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("a 0600 file: %v", err)
	}
	if got, err := ReadSecret(write("owner-only", secret, 0o400), 32); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("a 0400 file: %v", err)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"group-readable", write("g", secret, 0o640), "accessible to group or others"},
		{"world-readable", write("o", secret, 0o604), "accessible to group or others"},
		{"over the limit", write("big", append(secret, 1), 0o600), "holds more than 32 bytes"},
		{"a folder", dir, "not a regular file"},
		{"missing", filepath.Join(dir, "none"), "no such file"},
	} {
		if _, err := ReadSecret(tc.path, 32); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := ReadSecret(filepath.Join(dir, "big"), 32); !errors.Is(err, ErrSecretTooLarge) {
		t.Errorf("over the limit: %v is not ErrSecretTooLarge", err)
	}
}
