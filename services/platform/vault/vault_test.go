package vault_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"healthexchange/services/platform/vault"
)

func TestRoundTrip(t *testing.T) {
	v, _ := memVault(t)
	for _, tc := range []struct {
		name, patient, objectKey string
		plaintext                []byte
	}{
		{"empty", "alice", "records/empty", nil},
		{"one byte", "alice", "records/1", []byte{0}},
		{"10 KB record", "alice", "records/2026/visit-7.json", record(10 << 10)},
		{"1 MB record", "bob", "records/scan.dcm", record(1 << 20)},
		{"unicode object key", "carol-01", "records/ärztebrief-©.pdf", record(100)},
		{"longest object key", "carol-01", strings.Repeat("k", vault.MaxObjectKeyLen), record(100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed := seal(t, v, tc.patient, tc.objectKey, tc.plaintext)
			if want := vault.HeaderSize + len(tc.plaintext) + vault.TagSize; len(sealed) != want {
				t.Errorf("sealed %d bytes, want %d", len(sealed), want)
			}
			mustOpen(t, v, tc.patient, tc.objectKey, sealed, tc.plaintext)
			again := seal(t, v, tc.patient, tc.objectKey, tc.plaintext)
			if bytes.Equal(again, sealed) {
				t.Error("sealing the same plaintext twice gave the same bytes: the nonce is not fresh")
			}
			mustOpen(t, v, tc.patient, tc.objectKey, again, tc.plaintext)
		})
	}
}

func TestSealedHoldsNoPlaintext(t *testing.T) {
	dir := t.TempDir()
	kekPath := filepath.Join(dir, "kek")
	if err := vault.GenerateKEKFile(kekPath); err != nil {
		t.Fatal(err)
	}
	kek, err := vault.NewFileKEK(kekPath)
	if err != nil {
		t.Fatal(err)
	}
	v := newVault(t, kek, openFileStore(t, filepath.Join(dir, "keys")))
	plaintext := record(10 << 10)
	sealed := seal(t, v, "alice", "records/1", plaintext)

	t.Run("sealed object", func(t *testing.T) {
		if !sharesWindow(plaintext, plaintext) {
			t.Fatal("the check cannot fail: the plaintext does not match itself")
		}
		if sharesWindow(sealed, plaintext) {
			t.Error("the sealed object contains 8 or more bytes of the plaintext")
		}
	})
	t.Run("files written", func(t *testing.T) {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if sharesWindow(raw, plaintext) {
				t.Errorf("%s contains plaintext", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestOpenTampered(t *testing.T) {
	v, _ := memVault(t)
	plaintext := record(1 << 10)
	sealed := seal(t, v, "alice", "records/1", plaintext)
	mustOpen(t, v, "alice", "records/1", sealed, plaintext)

	check := func(t *testing.T, what string, object []byte) {
		t.Helper()
		got, err := v.Open(testContext(t), "alice", "records/1", object)
		if !errors.Is(err, vault.ErrTampered) || errors.Is(err, vault.ErrErased) {
			t.Fatalf("%s: err = %v, want ErrTampered", what, err)
		}
		if got != nil {
			t.Fatalf("%s: Open returned %d bytes with its error", what, len(got))
		}
	}
	field := func(i int) string {
		switch {
		case i < 4:
			return "magic"
		case i == 4:
			return "version"
		case i < 5+vault.KeyIDSize:
			return "key id"
		default:
			return "nonce"
		}
	}
	for i := range vault.HeaderSize {
		t.Run(fmt.Sprintf("header byte %d (%s)", i, field(i)), func(t *testing.T) {
			for _, mask := range []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff} {
				check(t, fmt.Sprintf("xor %#02x", mask), flip(sealed, i, mask))
			}
		})
	}
	t.Run("every ciphertext and tag byte", func(t *testing.T) {
		for i := vault.HeaderSize; i < len(sealed); i++ {
			check(t, fmt.Sprintf("byte %d xor 0x01", i), flip(sealed, i, 0x01))
			check(t, fmt.Sprintf("byte %d xor 0xff", i), flip(sealed, i, 0xff))
		}
	})
	t.Run("truncated at every length", func(t *testing.T) {
		for n := range len(sealed) {
			check(t, fmt.Sprintf("first %d bytes", n), sealed[:n])
		}
	})
	t.Run("extended", func(t *testing.T) {
		check(t, "one byte more", append(bytes.Clone(sealed), 0))
		check(t, "sealed twice over", append(bytes.Clone(sealed), sealed...))
	})
	t.Run("malformed header also wraps ErrMalformed", func(t *testing.T) {
		_, err := v.Open(testContext(t), "alice", "records/1", flip(sealed, 0, 0xff))
		if !errors.Is(err, vault.ErrMalformed) {
			t.Errorf("err = %v, want ErrMalformed too", err)
		}
	})
}

func TestOpenMoved(t *testing.T) {
	v, _ := memVault(t)
	plaintext := record(1 << 10)
	alice1 := seal(t, v, "alice", "records/1", plaintext)
	alice2 := seal(t, v, "alice", "records/2", record(2<<10))
	seal(t, v, "bob", "records/1", record(10)) // bob has a key of his own
	for _, tc := range []struct {
		name, patient, objectKey string
		object                   []byte
		alsoNoKey                bool
	}{
		{"other object key", "alice", "records/2", alice1, false},
		{"object key with a suffix", "alice", "records/10", alice1, false},
		{"object key changed in case", "alice", "Records/1", alice1, false},
		{"objects swapped", "alice", "records/1", alice2, false},
		{"other patient with a key", "bob", "records/1", alice1, false},
		{"other patient without a key", "carol", "records/1", alice1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Open(testContext(t), tc.patient, tc.objectKey, tc.object)
			if !errors.Is(err, vault.ErrTampered) || errors.Is(err, vault.ErrErased) || got != nil {
				t.Fatalf("Open = %d bytes, %v; want ErrTampered", len(got), err)
			}
			if tc.alsoNoKey != errors.Is(err, vault.ErrNoKey) {
				t.Errorf("errors.Is(err, ErrNoKey) = %v, want %v", !tc.alsoNoKey, tc.alsoNoKey)
			}
		})
	}
	mustOpen(t, v, "alice", "records/1", alice1, plaintext) // the original still opens
}

func TestWrongKEK(t *testing.T) {
	ctx := testContext(t)
	keys := vault.NewMemoryKeyStore()
	kek := newKEK(t)
	v := newVault(t, kek, keys)
	sealed := seal(t, v, "alice", "records/1", record(100))

	other := newKEK(t)
	if other.ID() == kek.ID() {
		t.Fatalf("two random KEKs share the ID %s", kek.ID())
	}
	// alice's record, copied to bob: wrapped for another patient.
	rec, err := keys.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	moved := vault.NewMemoryKeyStore()
	if err := moved.Put(ctx, "bob", rec); err != nil {
		t.Fatal(err)
	}
	bobs := seal(t, v, "bob", "records/1", record(100))

	for _, tc := range []struct {
		name    string
		v       *vault.Vault
		patient string
		object  []byte
	}{
		{"another KEK", newVault(t, other, keys), "alice", sealed},
		{"another key under the same KEK ID", newVault(t, renamedKEK{other, kek.ID()}, keys), "alice", sealed},
		{"a key record moved to another patient", newVault(t, kek, moved), "bob", bobs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.v.Open(ctx, tc.patient, "records/1", tc.object); !errors.Is(err, vault.ErrWrongKEK) {
				t.Errorf("Open: err = %v, want ErrWrongKEK", err)
			}
			if _, err := tc.v.Seal(ctx, tc.patient, "records/2", record(10)); !errors.Is(err, vault.ErrWrongKEK) {
				t.Errorf("Seal: err = %v, want ErrWrongKEK (and no new key)", err)
			}
		})
	}
	mustOpen(t, v, "alice", "records/1", sealed, record(100))
}

func TestErase(t *testing.T) {
	for _, store := range []struct {
		name string
		new  func(t *testing.T) vault.KeyStore
	}{
		{"memory store", func(*testing.T) vault.KeyStore { return vault.NewMemoryKeyStore() }},
		{"file store", func(t *testing.T) vault.KeyStore { return openFileStore(t, keyDir(t)) }},
	} {
		t.Run(store.name, func(t *testing.T) {
			ctx := testContext(t)
			kek, keys := newKEK(t), store.new(t)
			v := newVault(t, kek, keys)
			alice1 := seal(t, v, "alice", "records/1", record(100))
			alice2 := seal(t, v, "alice", "records/2", record(200))
			bob := seal(t, v, "bob", "records/1", record(300))
			before, err := keys.Get(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Erase(ctx, "alice"); err != nil {
				t.Fatal(err)
			}

			erased := func(t *testing.T, err error) {
				t.Helper()
				if !errors.Is(err, vault.ErrErased) || errors.Is(err, vault.ErrTampered) {
					t.Errorf("err = %v, want ErrErased (and not ErrTampered)", err)
				}
			}
			t.Run("open erased objects", func(t *testing.T) {
				for _, obj := range []struct {
					key    string
					sealed []byte
				}{{"records/1", alice1}, {"records/2", alice2}} {
					got, err := v.Open(ctx, "alice", obj.key, obj.sealed)
					erased(t, err)
					if got != nil {
						t.Errorf("Open returned %d bytes", len(got))
					}
				}
			})
			t.Run("seal for erased patient", func(t *testing.T) {
				_, err := v.Seal(ctx, "alice", "records/3", record(10))
				erased(t, err)
			})
			t.Run("another vault on the same store", func(t *testing.T) {
				v2 := newVault(t, kek, keys)
				_, err := v2.Open(ctx, "alice", "records/1", alice1)
				erased(t, err)
				_, err = v2.Seal(ctx, "alice", "records/3", record(10))
				erased(t, err)
			})
			t.Run("store keeps a tombstone", func(t *testing.T) {
				rec, err := keys.Get(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				if !rec.IsTombstone() || len(rec.Wrapped) != 0 || rec.KeyID != before.KeyID {
					t.Errorf("record after erase = %+v, want a tombstone of key %s", rec, before.KeyID)
				}
			})
			t.Run("erase again", func(t *testing.T) {
				if err := v.Erase(ctx, "alice"); err != nil {
					t.Errorf("second Erase: %v", err)
				}
			})
			t.Run("erased is reported", func(t *testing.T) {
				for _, p := range []struct {
					id   string
					want bool
				}{{"alice", true}, {"bob", false}, {"carol", false}} {
					got, err := v.Erased(ctx, p.id)
					if err != nil || got != p.want {
						t.Errorf("Erased(%s) = %v, %v; want %v", p.id, got, err, p.want)
					}
				}
			})
			t.Run("other patient unaffected", func(t *testing.T) {
				mustOpen(t, v, "bob", "records/1", bob, record(300))
				mustOpen(t, v, "bob", "records/2", seal(t, v, "bob", "records/2", record(10)), record(10))
			})
		})
	}
}

func TestEraseWithoutKey(t *testing.T) {
	ctx := testContext(t)
	v, keys := memVault(t)
	if err := v.Erase(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Seal(ctx, "dave", "records/1", record(10)); !errors.Is(err, vault.ErrErased) {
		t.Errorf("Seal after erasing a patient who had no key: err = %v, want ErrErased", err)
	}
	if rec, err := keys.Get(ctx, "dave"); err != nil || !rec.IsTombstone() {
		t.Errorf("record = %+v, %v; want a tombstone", rec, err)
	}
}

func TestRecreate(t *testing.T) {
	ctx := testContext(t)
	v, _ := memVault(t)
	first := seal(t, v, "alice", "records/1", record(100))

	for _, tc := range []struct {
		name    string
		patient string
		want    error
	}{
		{"live key", "alice", vault.ErrKeyExists},
		{"never erased, no key", "erin", vault.ErrNoKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.Recreate(ctx, tc.patient); !errors.Is(err, tc.want) {
				t.Errorf("Recreate: err = %v, want %v", err, tc.want)
			}
		})
	}
	mustOpen(t, v, "alice", "records/1", first, record(100)) // the refused Recreate changed nothing

	if err := v.Erase(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := v.Recreate(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	second := seal(t, v, "alice", "records/2", record(200))
	t.Run("new objects open", func(t *testing.T) {
		mustOpen(t, v, "alice", "records/2", second, record(200))
	})
	t.Run("objects under the erased key stay erased", func(t *testing.T) {
		if _, err := v.Open(ctx, "alice", "records/1", first); !errors.Is(err, vault.ErrErased) {
			t.Errorf("err = %v, want ErrErased", err)
		}
	})
	t.Run("recreate again refused", func(t *testing.T) {
		if err := v.Recreate(ctx, "alice"); !errors.Is(err, vault.ErrKeyExists) {
			t.Errorf("err = %v, want ErrKeyExists", err)
		}
	})
	t.Run("second erasure covers both keys", func(t *testing.T) {
		if err := v.Erase(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		for key, obj := range map[string][]byte{"records/1": first, "records/2": second} {
			if _, err := v.Open(ctx, "alice", key, obj); !errors.Is(err, vault.ErrErased) {
				t.Errorf("%s: err = %v, want ErrErased", key, err)
			}
		}
	})
}

func TestEraseRacingSeal(t *testing.T) {
	ctx := testContext(t)
	// A short TTL keeps the sealers reloading the key, so some are loading
	// it while Erase runs.
	v, _ := memVault(t, vault.WithCacheTTL(time.Millisecond))
	seal(t, v, "alice", "records/0", record(10))
	var (
		erased     atomic.Bool
		sealed     atomic.Int64
		violations atomic.Int64
		wg         sync.WaitGroup
	)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				after := erased.Load() // read before the call starts
				_, err := v.Seal(ctx, "alice", fmt.Sprintf("records/%d-%d", g, i), record(64))
				switch {
				case err == nil && after:
					violations.Add(1)
				case err == nil:
					sealed.Add(1)
				case !errors.Is(err, vault.ErrErased):
					t.Errorf("Seal: %v", err)
					return
				case after:
					return // refused after the erasure: done
				}
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); sealed.Load() < 100 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if err := v.Erase(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	erased.Store(true)
	wg.Wait()
	if n := violations.Load(); n > 0 {
		t.Errorf("%d Seals that started after Erase returned succeeded", n)
	}
}

func TestConcurrentFirstSeal(t *testing.T) {
	const sealers = 16
	for _, tc := range []struct {
		name   string
		vaults func(t *testing.T) (vaults []*vault.Vault, keys vault.KeyStore)
	}{
		{"one vault", func(t *testing.T) ([]*vault.Vault, vault.KeyStore) {
			v, keys := memVault(t)
			return []*vault.Vault{v}, keys
		}},
		{"two vaults, one memory store", func(t *testing.T) ([]*vault.Vault, vault.KeyStore) {
			kek, keys, meet := newKEK(t), vault.NewMemoryKeyStore(), newRendezvous(2)
			return []*vault.Vault{
				newVault(t, kek, &meetingStore{keys, meet}),
				newVault(t, kek, &meetingStore{keys, meet}),
			}, keys
		}},
		{"four vaults, each with its own handle on one key folder", func(t *testing.T) ([]*vault.Vault, vault.KeyStore) {
			kek, dir, meet := newKEK(t), keyDir(t), newRendezvous(4)
			var vs []*vault.Vault
			for range 4 {
				vs = append(vs, newVault(t, kek, &meetingStore{openFileStore(t, dir), meet}))
			}
			return vs, openFileStore(t, dir)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			vs, keys := tc.vaults(t)
			sealed := make([][]byte, sealers)
			errs := make([]error, sealers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range sealers {
				wg.Go(func() {
					<-start
					sealed[i], errs[i] = vs[i%len(vs)].Seal(ctx, "alice", fmt.Sprintf("records/%d", i), record(100+i))
				})
			}
			close(start)
			wg.Wait()
			rec, err := keys.Get(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			for i := range sealers {
				if errs[i] != nil {
					t.Fatalf("Seal %d: %v", i, errs[i])
				}
				h, err := vault.ParseHeader(sealed[i])
				if err != nil {
					t.Fatal(err)
				}
				if h.KeyID != rec.KeyID {
					t.Errorf("object %d is sealed under key %s, the store holds key %s", i, h.KeyID, rec.KeyID)
				}
				for _, v := range vs {
					mustOpen(t, v, "alice", fmt.Sprintf("records/%d", i), sealed[i], record(100+i))
				}
			}
		})
	}
}

func TestKeyCache(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      []vault.Option
		opens     []string // patients opened in turn, after one Seal each for alice, bob, carol
		wantReads int64    // key store reads made by the opens
	}{
		{"default cache reads each key once", nil, []string{"alice", "alice", "bob", "carol", "alice"}, 0},
		{"size 2 evicts the least recently used", []vault.Option{vault.WithCacheSize(2)}, []string{"carol", "bob", "alice", "carol", "bob"}, 3},
		{"size 0 reads every time", []vault.Option{vault.WithCacheSize(0)}, []string{"alice", "alice", "alice"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := &countingStore{KeyStore: vault.NewMemoryKeyStore()}
			v := newVault(t, newKEK(t), keys, tc.opts...)
			objects := map[string][]byte{}
			for _, p := range []string{"alice", "bob", "carol"} {
				objects[p] = seal(t, v, p, "records/1", record(10))
			}
			before := keys.gets.Load()
			for _, p := range tc.opens {
				mustOpen(t, v, p, "records/1", objects[p], record(10))
			}
			if got := keys.gets.Load() - before; got != tc.wantReads {
				t.Errorf("key store reads = %d, want %d", got, tc.wantReads)
			}
		})
	}
}

func TestEraseReachesOtherVaultsWithinTTL(t *testing.T) {
	ctx := testContext(t)
	kek, keys := newKEK(t), vault.NewMemoryKeyStore()
	a := newVault(t, kek, keys)
	b := newVault(t, kek, keys, vault.WithCacheTTL(50*time.Millisecond))
	sealed := seal(t, a, "alice", "records/1", record(10))
	mustOpen(t, b, "alice", "records/1", sealed, record(10)) // b caches the key
	if err := a.Erase(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(ctx, "alice", "records/1", sealed); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("the erasing vault: err = %v, want ErrErased at once", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := b.Open(ctx, "alice", "records/1", sealed)
		if errors.Is(err, vault.ErrErased) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other vault still opens the erased patient's object 10s after a 50ms TTL: err = %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewRejects(t *testing.T) {
	kek, keys := newKEK(t), vault.NewMemoryKeyStore()
	for _, tc := range []struct {
		name string
		kek  vault.KEK
		keys vault.KeyStore
		opts []vault.Option
		want string
	}{
		{"no KEK", nil, keys, nil, "KEK and a key store"},
		{"no key store", kek, nil, nil, "KEK and a key store"},
		{"KEK without ID", renamedKEK{kek, ""}, keys, nil, "empty ID"},
		{"negative cache size", kek, keys, []vault.Option{vault.WithCacheSize(-1)}, "cache size -1"},
		{"zero TTL", kek, keys, []vault.Option{vault.WithCacheTTL(0)}, "cache TTL 0s"},
		{"negative TTL", kek, keys, []vault.Option{vault.WithCacheTTL(-time.Second)}, "cache TTL -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := vault.New(tc.kek, tc.keys, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, %v; want an error about %q", v, err, tc.want)
			}
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	ctx := testContext(t)
	v, keys := memVault(t)
	sealed := seal(t, v, "alice", "records/1", record(10))
	for _, tc := range []struct {
		name, patient, objectKey string
	}{
		{"empty patient", "", "records/1"},
		{"patient with a slash", "alice/../bob", "records/1"},
		{"patient too long", strings.Repeat("a", 129), "records/1"},
		{"empty object key", "alice", ""},
		{"object key too long", "alice", strings.Repeat("k", vault.MaxObjectKeyLen+1)},
		{"object key not UTF-8", "alice", "records/\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.Seal(ctx, tc.patient, tc.objectKey, record(10)); !errors.Is(err, vault.ErrInvalid) {
				t.Errorf("Seal: err = %v, want ErrInvalid", err)
			}
			if _, err := v.Open(ctx, tc.patient, tc.objectKey, sealed); !errors.Is(err, vault.ErrInvalid) {
				t.Errorf("Open: err = %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("erase with an invalid patient", func(t *testing.T) {
		if err := v.Erase(ctx, ""); !errors.Is(err, vault.ErrInvalid) {
			t.Errorf("err = %v, want ErrInvalid", err)
		}
		if _, err := keys.Get(ctx, ""); !errors.Is(err, vault.ErrNoKey) {
			t.Errorf("a record was written for the empty patient: %v", err)
		}
	})
}

func TestClose(t *testing.T) {
	ctx := testContext(t)
	v, _ := memVault(t)
	sealed := seal(t, v, "alice", "records/1", record(10))
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"seal":     func() error { _, err := v.Seal(ctx, "alice", "records/2", nil); return err },
		"open":     func() error { _, err := v.Open(ctx, "alice", "records/1", sealed); return err },
		"erase":    func() error { return v.Erase(ctx, "alice") },
		"recreate": func() error { return v.Recreate(ctx, "alice") },
	} {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, vault.ErrClosed) {
				t.Errorf("err = %v, want ErrClosed", err)
			}
		})
	}
}
