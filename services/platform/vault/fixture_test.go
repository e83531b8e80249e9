package vault_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"healthexchange/services/platform/vault"
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newKEK makes a KEK file in a fresh folder and loads it.
func newKEK(t testing.TB) *vault.FileKEK {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kek")
	if err := vault.GenerateKEKFile(path); err != nil {
		t.Fatal(err)
	}
	kek, err := vault.NewFileKEK(path)
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

func newVault(t testing.TB, kek vault.KEK, keys vault.KeyStore, opts ...vault.Option) *vault.Vault {
	t.Helper()
	v, err := vault.New(kek, keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// memVault is a vault with a fresh file KEK and an in-memory key store.
func memVault(t testing.TB, opts ...vault.Option) (*vault.Vault, *vault.MemoryKeyStore) {
	t.Helper()
	keys := vault.NewMemoryKeyStore()
	return newVault(t, newKEK(t), keys, opts...), keys
}

// keyDir is a path for a key store folder, not yet made (t.TempDir is
// 0755, which OpenFileKeyStore refuses).
func keyDir(t testing.TB) string {
	return filepath.Join(t.TempDir(), "keys")
}

func openFileStore(t testing.TB, dir string) *vault.FileKeyStore {
	t.Helper()
	s, err := vault.OpenFileKeyStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// record is a recognisable plaintext of n bytes: numbered lines of
// readings, so any 8 bytes of it identify it.
func record(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "RECORD-%06d patient=alice heart-rate=72 bp=120/80 spo2=98;\n", i)
	}
	return b.Bytes()[:n]
}

// sharesWindow reports whether haystack contains any 8-byte run of needle.
func sharesWindow(haystack, needle []byte) bool {
	const w = 8
	seen := map[uint64]bool{}
	for i := 0; i+w <= len(haystack); i++ {
		seen[binary.LittleEndian.Uint64(haystack[i:])] = true
	}
	for i := 0; i+w <= len(needle); i++ {
		if seen[binary.LittleEndian.Uint64(needle[i:])] {
			return true
		}
	}
	return false
}

func seal(t testing.TB, v *vault.Vault, patientID, objectKey string, plaintext []byte) []byte {
	t.Helper()
	sealed, err := v.Seal(testContext(t), patientID, objectKey, plaintext)
	if err != nil {
		t.Fatalf("Seal(%s, %s): %v", patientID, objectKey, err)
	}
	return sealed
}

func mustOpen(t testing.TB, v *vault.Vault, patientID, objectKey string, sealed, want []byte) {
	t.Helper()
	got, err := v.Open(testContext(t), patientID, objectKey, sealed)
	if err != nil {
		t.Fatalf("Open(%s, %s): %v", patientID, objectKey, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Open(%s, %s) = %d bytes, not the %d sealed", patientID, objectKey, len(got), len(want))
	}
}

// countingStore counts the key store reads a vault makes.
type countingStore struct {
	vault.KeyStore
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, patientID string) (vault.WrappedKey, error) {
	s.gets.Add(1)
	return s.KeyStore.Get(ctx, patientID)
}

// rendezvous holds its first n arrivals until all n have arrived.
type rendezvous struct {
	n   int
	mu  sync.Mutex
	all chan struct{}
}

func newRendezvous(n int) *rendezvous { return &rendezvous{n: n, all: make(chan struct{})} }

func (r *rendezvous) arrive(ctx context.Context) {
	r.mu.Lock()
	r.n--
	switch {
	case r.n == 0:
		close(r.all)
	case r.n < 0: // late: go on
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	select {
	case <-r.all:
	case <-ctx.Done():
	}
}

// meetingStore makes the vaults sharing a rendezvous all find no key before
// any of them can create one, so that each tries to create it.
type meetingStore struct {
	vault.KeyStore
	meet *rendezvous
}

func (s *meetingStore) Get(ctx context.Context, patientID string) (vault.WrappedKey, error) {
	k, err := s.KeyStore.Get(ctx, patientID)
	if errors.Is(err, vault.ErrNoKey) {
		s.meet.arrive(ctx)
	}
	return k, err
}

// renamedKEK is a KEK that claims another KEK's ID.
type renamedKEK struct {
	vault.KEK
	id string
}

func (k renamedKEK) ID() string { return k.id }

func flip(b []byte, i int, mask byte) []byte {
	c := bytes.Clone(b)
	c[i] ^= mask
	return c
}
