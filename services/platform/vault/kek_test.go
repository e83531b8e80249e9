package vault_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"healthexchange/services/platform/vault"
)

func TestGenerateKEKFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	if err := vault.GenerateKEKFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != vault.KEKSize {
		t.Errorf("KEK file mode %v, %d bytes; want 0600 and %d", fi.Mode().Perm(), fi.Size(), vault.KEKSize)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("never overwrites", func(t *testing.T) {
		if err := vault.GenerateKEKFile(path); !errors.Is(err, fs.ErrExist) {
			t.Errorf("second GenerateKEKFile: err = %v, want fs.ErrExist", err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Error("the existing KEK was changed")
		}
	})
	t.Run("leaves no temporary files", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Dir(path))
		if err != nil || len(entries) != 1 {
			t.Errorf("folder holds %v, %v; want the KEK file only", entries, err)
		}
	})
	t.Run("ID is stable across loads and differs between keys", func(t *testing.T) {
		a, err := vault.NewFileKEK(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := vault.NewFileKEK(path)
		if err != nil {
			t.Fatal(err)
		}
		if a.ID() != b.ID() || !strings.HasPrefix(a.ID(), "file:") {
			t.Errorf("IDs %q and %q for one file", a.ID(), b.ID())
		}
		if other := newKEK(t); other.ID() == a.ID() {
			t.Errorf("two keys share the ID %q", a.ID())
		}
	})
}

func TestNewFileKEKRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // not subject to the umask
			t.Fatal(err)
		}
		return path
	}
	key := bytes.Repeat([]byte{7}, vault.KEKSize)
	for _, tc := range []struct {
		name string
		path string
		want string
	}{
		{"world-readable 0644", write("0644", key, 0o644), "accessible to group or others"},
		{"group-readable 0640", write("0640", key, 0o640), "accessible to group or others"},
		{"world-writable 0602", write("0602", key, 0o602), "accessible to group or others"},
		{"short key", write("short", key[:16], 0o600), "holds 16 bytes, want exactly 32"},
		{"empty file", write("empty", nil, 0o600), "holds 0 bytes"},
		{"long key", write("long", append(key, '\n'), 0o600), "holds more than 32 bytes"},
		{"hex text instead of raw bytes", write("hex", bytes.Repeat([]byte("ab"), vault.KEKSize), 0o600), "holds more than 32 bytes"},
		{"a folder", dir, "not a regular file"},
		{"missing", filepath.Join(dir, "missing"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kek, err := vault.NewFileKEK(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewFileKEK = %v, %v; want an error saying %q", kek, err, tc.want)
			}
		})
	}
	t.Run("0600 loads", func(t *testing.T) {
		if _, err := vault.NewFileKEK(write("ok", key, 0o600)); err != nil {
			t.Errorf("NewFileKEK: %v", err)
		}
	})
	t.Run("0400 loads", func(t *testing.T) {
		if _, err := vault.NewFileKEK(write("ro", key, 0o400)); err != nil {
			t.Errorf("NewFileKEK: %v", err)
		}
	})
}

func TestFileKEKWrap(t *testing.T) {
	ctx := testContext(t)
	kek, other := newKEK(t), newKEK(t)
	dataKey := bytes.Repeat([]byte{0x42}, 32)
	aad := []byte("patient alice, key 1")
	wrapped, err := kek.Wrap(ctx, dataKey, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrapped, dataKey[:8]) {
		t.Fatal("the wrapped key contains the key")
	}
	t.Run("round trip", func(t *testing.T) {
		got, err := kek.Unwrap(ctx, wrapped, aad)
		if err != nil || !bytes.Equal(got, dataKey) {
			t.Errorf("Unwrap = %x, %v", got, err)
		}
	})
	for _, tc := range []struct {
		name    string
		kek     *vault.FileKEK
		wrapped []byte
		aad     []byte
	}{
		{"other KEK", other, wrapped, aad},
		{"other aad", kek, wrapped, []byte("patient bob, key 1")},
		{"no aad", kek, wrapped, nil},
		{"flipped byte", kek, flip(wrapped, len(wrapped)/2, 1), aad},
		{"flipped version", kek, flip(wrapped, 0, 1), aad},
		{"truncated", kek, wrapped[:len(wrapped)-1], aad},
		{"empty", kek, nil, aad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.kek.Unwrap(ctx, tc.wrapped, tc.aad)
			if !errors.Is(err, vault.ErrWrongKEK) || got != nil {
				t.Errorf("Unwrap = %x, %v; want ErrWrongKEK", got, err)
			}
		})
	}
	t.Run("refuses a key that is not 32 bytes", func(t *testing.T) {
		if _, err := kek.Wrap(ctx, dataKey[:16], aad); !errors.Is(err, vault.ErrInvalid) {
			t.Errorf("err = %v, want ErrInvalid", err)
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		done, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := kek.Wrap(done, dataKey, aad); !errors.Is(err, context.Canceled) {
			t.Errorf("Wrap: err = %v", err)
		}
		if _, err := kek.Unwrap(done, wrapped, aad); !errors.Is(err, context.Canceled) {
			t.Errorf("Unwrap: err = %v", err)
		}
	})
}
