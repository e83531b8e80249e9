package vault_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"healthexchange/services/platform/vault"
)

func keyRecord(id byte, previous ...vault.KeyID) vault.WrappedKey {
	return vault.WrappedKey{
		KeyID:    vault.KeyID{id, 1, 2, 3},
		KEKID:    "file:0011223344556677",
		Wrapped:  bytes.Repeat([]byte{id}, 61),
		Created:  time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		Previous: previous,
	}
}

// TestKeyStoreContract runs the KeyStore rules against every implementation.
func TestKeyStoreContract(t *testing.T) {
	for _, impl := range []struct {
		name string
		new  func(t *testing.T) vault.KeyStore
	}{
		{"memory", func(*testing.T) vault.KeyStore { return vault.NewMemoryKeyStore() }},
		{"file", func(t *testing.T) vault.KeyStore { return openFileStore(t, keyDir(t)) }},
	} {
		t.Run(impl.name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				run  func(t *testing.T, s vault.KeyStore)
			}{
				{"get without record", func(t *testing.T, s vault.KeyStore) {
					if _, err := s.Get(testContext(t), "alice"); !errors.Is(err, vault.ErrNoKey) {
						t.Errorf("err = %v, want ErrNoKey", err)
					}
				}},
				{"put then get", func(t *testing.T, s vault.KeyStore) {
					want := keyRecord(1)
					if err := s.Put(testContext(t), "alice", want); err != nil {
						t.Fatal(err)
					}
					got, err := s.Get(testContext(t), "alice")
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("Get (-put +got):\n%s", diff)
					}
					if _, err := s.Get(testContext(t), "bob"); !errors.Is(err, vault.ErrNoKey) {
						t.Errorf("another patient: err = %v, want ErrNoKey", err)
					}
				}},
				{"put is create-only", func(t *testing.T, s vault.KeyStore) {
					ctx := testContext(t)
					if err := s.Put(ctx, "alice", keyRecord(1)); err != nil {
						t.Fatal(err)
					}
					first := keyRecord(1)
					if err := s.Put(ctx, "alice", keyRecord(2)); !errors.Is(err, vault.ErrKeyExists) {
						t.Errorf("second Put: err = %v, want ErrKeyExists", err)
					}
					if err := s.Put(ctx, "alice", keyRecord(2, first.KeyID)); !errors.Is(err, vault.ErrKeyExists) {
						t.Errorf("Put naming the live key as previous: err = %v, want ErrKeyExists", err)
					}
					if got, _ := s.Get(ctx, "alice"); got.KeyID != first.KeyID {
						t.Errorf("the first key was replaced by %s", got.KeyID)
					}
				}},
				{"put refuses invalid records", func(t *testing.T, s vault.KeyStore) {
					noID, noWrapped, wrappedTomb, zeroPrev := keyRecord(1), keyRecord(1), keyRecord(1), keyRecord(1, vault.KeyID{})
					noID.KeyID = vault.KeyID{}
					noWrapped.Wrapped = nil
					wrappedTomb.Erased = time.Now()
					for name, k := range map[string]vault.WrappedKey{"no key id": noID, "no wrapped key": noWrapped, "tombstone with a key": wrappedTomb, "zero previous id": zeroPrev} {
						if err := s.Put(testContext(t), "alice", k); !errors.Is(err, vault.ErrInvalid) {
							t.Errorf("%s: err = %v, want ErrInvalid", name, err)
						}
					}
					if _, err := s.Get(testContext(t), "alice"); !errors.Is(err, vault.ErrNoKey) {
						t.Errorf("an invalid record was stored: %v", err)
					}
				}},
				{"delete leaves a tombstone", func(t *testing.T, s vault.KeyStore) {
					ctx := testContext(t)
					k := keyRecord(1)
					if err := s.Put(ctx, "alice", k); err != nil {
						t.Fatal(err)
					}
					if err := s.Delete(ctx, "alice"); err != nil {
						t.Fatal(err)
					}
					got, err := s.Get(ctx, "alice")
					if err != nil {
						t.Fatal(err)
					}
					if !got.IsTombstone() || got.Wrapped != nil || got.KeyID != k.KeyID || !got.Created.Equal(k.Created) {
						t.Errorf("after Delete: %+v, want the tombstone of %s", got, k.KeyID)
					}
					if err := s.Delete(ctx, "alice"); err != nil {
						t.Errorf("deleting a tombstone: %v", err)
					}
					if again, _ := s.Get(ctx, "alice"); !again.Erased.Equal(got.Erased) {
						t.Errorf("deleting a tombstone changed it: %+v", again)
					}
				}},
				{"delete without record", func(t *testing.T, s vault.KeyStore) {
					if err := s.Delete(testContext(t), "alice"); !errors.Is(err, vault.ErrNoKey) {
						t.Errorf("err = %v, want ErrNoKey", err)
					}
				}},
				{"tombstone blocks a new key", func(t *testing.T, s vault.KeyStore) {
					ctx := testContext(t)
					if err := s.Put(ctx, "alice", keyRecord(1)); err != nil {
						t.Fatal(err)
					}
					if err := s.Delete(ctx, "alice"); err != nil {
						t.Fatal(err)
					}
					for name, k := range map[string]vault.WrappedKey{
						"no predecessor":    keyRecord(2),
						"wrong predecessor": keyRecord(2, keyRecord(9).KeyID),
						"stale predecessor": keyRecord(2, keyRecord(1).KeyID, keyRecord(9).KeyID),
					} {
						if err := s.Put(ctx, "alice", k); !errors.Is(err, vault.ErrKeyExists) {
							t.Errorf("%s: err = %v, want ErrKeyExists", name, err)
						}
					}
					if got, _ := s.Get(ctx, "alice"); !got.IsTombstone() {
						t.Errorf("the tombstone was replaced: %+v", got)
					}
				}},
				{"re-created key replaces its tombstone", func(t *testing.T, s vault.KeyStore) {
					ctx := testContext(t)
					first := keyRecord(1)
					if err := s.Put(ctx, "alice", first); err != nil {
						t.Fatal(err)
					}
					if err := s.Delete(ctx, "alice"); err != nil {
						t.Fatal(err)
					}
					second := keyRecord(2, first.KeyID)
					if err := s.Put(ctx, "alice", second); err != nil {
						t.Fatal(err)
					}
					got, err := s.Get(ctx, "alice")
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(second, got); diff != "" {
						t.Errorf("Get (-put +got):\n%s", diff)
					}
				}},
				{"re-creation without a tombstone", func(t *testing.T, s vault.KeyStore) {
					if err := s.Put(testContext(t), "alice", keyRecord(2, keyRecord(1).KeyID)); !errors.Is(err, vault.ErrNoKey) {
						t.Errorf("err = %v, want ErrNoKey", err)
					}
				}},
				{"records are copies", func(t *testing.T, s vault.KeyStore) {
					ctx := testContext(t)
					k := keyRecord(1)
					if err := s.Put(ctx, "alice", k); err != nil {
						t.Fatal(err)
					}
					clear(k.Wrapped)
					got, _ := s.Get(ctx, "alice")
					clear(got.Wrapped)
					if again, _ := s.Get(ctx, "alice"); !bytes.Equal(again.Wrapped, keyRecord(1).Wrapped) {
						t.Error("changing a record outside the store changed the stored one")
					}
				}},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, impl.new(t)) })
			}
		})
	}
}

func TestFileKeyStore(t *testing.T) {
	t.Run("survives reopen", func(t *testing.T) {
		ctx := testContext(t)
		dir := keyDir(t)
		s := openFileStore(t, dir)
		if err := s.Put(ctx, "alice", keyRecord(1)); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "bob", keyRecord(2)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		reopened := openFileStore(t, dir)
		alice, err := reopened.Get(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(keyRecord(1), alice); diff != "" {
			t.Errorf("alice after reopen (-want +got):\n%s", diff)
		}
		if bob, err := reopened.Get(ctx, "bob"); err != nil || !bob.IsTombstone() {
			t.Errorf("bob after reopen = %+v, %v; want a tombstone", bob, err)
		}
	})
	t.Run("vault survives reopen", func(t *testing.T) {
		ctx := testContext(t)
		dir := t.TempDir()
		kekPath, keysPath := filepath.Join(dir, "kek"), filepath.Join(dir, "keys")
		if err := vault.GenerateKEKFile(kekPath); err != nil {
			t.Fatal(err)
		}
		load := func() *vault.Vault {
			kek, err := vault.NewFileKEK(kekPath)
			if err != nil {
				t.Fatal(err)
			}
			return newVault(t, kek, openFileStore(t, keysPath))
		}
		v := load()
		alice := seal(t, v, "alice", "records/1", record(10<<10))
		bob := seal(t, v, "bob", "records/1", record(10))
		if err := v.Erase(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		v.Close()
		restarted := load()
		mustOpen(t, restarted, "alice", "records/1", alice, record(10<<10))
		if _, err := restarted.Open(ctx, "bob", "records/1", bob); !errors.Is(err, vault.ErrErased) {
			t.Errorf("erased patient after restart: err = %v, want ErrErased", err)
		}
		if _, err := restarted.Seal(ctx, "bob", "records/2", nil); !errors.Is(err, vault.ErrErased) {
			t.Errorf("Seal for erased patient after restart: err = %v, want ErrErased", err)
		}
	})
	t.Run("files", func(t *testing.T) {
		ctx := testContext(t)
		dir := keyDir(t)
		s := openFileStore(t, dir)
		k := keyRecord(1)
		if err := s.Put(ctx, "alice", k); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "bob", keyRecord(2)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("folder: %v, %v; want mode 0700", fi.Mode(), err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Errorf("folder holds %d entries, want one file per patient and no temporary files: %v", len(entries), entries)
		}
		wrapped := base64.StdEncoding.EncodeToString(k.Wrapped)
		for _, e := range entries {
			if strings.Contains(e.Name(), "alice") || strings.Contains(e.Name(), "bob") {
				t.Errorf("file %s is named after the patient", e.Name())
			}
			info, err := e.Info()
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, %v; want 0600", e.Name(), info.Mode(), err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), wrapped) {
				t.Errorf("%s still holds the erased wrapped key", e.Name())
			}
		}
	})
	t.Run("refuses a record under another patient's name", func(t *testing.T) {
		ctx := testContext(t)
		dir := keyDir(t)
		s := openFileStore(t, dir)
		if err := s.Put(ctx, "alice", keyRecord(1)); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "bob", keyRecord(2)); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		a, b := filepath.Join(dir, entries[0].Name()), filepath.Join(dir, entries[1].Name())
		rawA, _ := os.ReadFile(a)
		rawB, _ := os.ReadFile(b)
		if err := os.WriteFile(a, rawB, 0o600); err != nil { // swap the two files
			t.Fatal(err)
		}
		if err := os.WriteFile(b, rawA, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"alice", "bob"} {
			if _, err := s.Get(ctx, p); !errors.Is(err, vault.ErrInvalid) || !strings.Contains(err.Error(), "holds the record of patient") {
				t.Errorf("%s: err = %v, want ErrInvalid about another patient's record", p, err)
			}
		}
	})
	t.Run("refuses damaged records", func(t *testing.T) {
		ctx := testContext(t)
		dir := keyDir(t)
		s := openFileStore(t, dir)
		if err := s.Put(ctx, "alice", keyRecord(1)); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		path := filepath.Join(dir, entries[0].Name())
		good, _ := os.ReadFile(path)
		for name, content := range map[string]string{
			"not JSON":       "garbage",
			"empty":          "",
			"unknown field":  strings.Replace(string(good), `"version"`, `"extra": 1, "version"`, 1),
			"other version":  strings.Replace(string(good), `"version": 1`, `"version": 2`, 1),
			"bad key id":     strings.Replace(string(good), `"keyId": "01`, `"keyId": "zz`, 1),
			"trailing data":  string(good) + "{}",
			"no wrapped key": strings.Replace(string(good), `"wrapped"`, `"unwrapped"`, 1),
		} {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, "alice"); !errors.Is(err, vault.ErrInvalid) {
				t.Errorf("%s: err = %v, want ErrInvalid", name, err)
			}
		}
	})
	t.Run("refuses an open folder", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if _, err := vault.OpenFileKeyStore(dir); err == nil || !strings.Contains(err.Error(), "chmod 700") {
			t.Errorf("err = %v, want a refusal", err)
		}
	})
	t.Run("refuses a file as folder", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := vault.OpenFileKeyStore(path); err == nil {
			t.Error("a plain file was accepted as the key folder")
		}
	})
}
