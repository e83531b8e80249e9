// Package vaulttest makes throwaway vaults for the unit tests of the
// services: a fresh key-encryption key in the test's temporary folder and
// data keys in memory. It is never used outside tests.
package vaulttest

import (
	"path/filepath"
	"testing"

	"healthexchange/services/platform/vault"
)

// New returns a vault that is closed when the test ends.
func New(t testing.TB) *vault.Vault {
	t.Helper()
	kekPath := filepath.Join(t.TempDir(), "kek")
	if err := vault.GenerateKEKFile(kekPath); err != nil {
		t.Fatal(err)
	}
	kek, err := vault.NewFileKEK(kekPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(kek, vault.NewMemoryKeyStore())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}
