package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"healthexchange/chaincode/ledgerapi"
)

// Vault seals and opens patients' objects under per-patient data keys.
// It is safe for concurrent use, also by several vaults (processes) that
// share a KEK and a key store.
//
// Erasure: Erase replaces the patient's data key with a tombstone in the
// key store. From then on Open of any object sealed under that key fails
// with ErrErased, and Seal for the patient fails with ErrErased too, rather
// than silently making a new key; only Recreate gives them a new key
// (objects under the erased one stay unreadable). The erasure is immediate
// in the vault that performs it; another vault sharing the key store may
// still hold the key in its cache for up to the cache TTL.
type Vault struct {
	kek    KEK
	keys   KeyStore
	cache  *keyCache
	locks  patientLocks
	closed atomic.Bool
}

// Defaults of the data key cache.
const (
	DefaultCacheSize = 1024
	DefaultCacheTTL  = time.Minute
)

// DataKeySize is the length of a data key: AES-256.
const DataKeySize = 32

// MaxObjectKeyLen is the longest object key accepted, as in S3.
const MaxObjectKeyLen = 1024

// Option configures a Vault; New rejects an invalid one.
type Option func(*config) error

type config struct {
	cacheSize int
	cacheTTL  time.Duration
}

// WithCacheSize bounds the cache of unwrapped data keys to n patients (the
// least recently used go first). 0 turns caching off: every Seal and Open
// unwraps the key.
func WithCacheSize(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("vault: cache size %d is negative", n)
		}
		c.cacheSize = n
		return nil
	}
}

// WithCacheTTL sets how long an unwrapped data key stays cached after it
// was unwrapped, however often it is used. It must be positive.
func WithCacheTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("vault: cache TTL %v is not positive", d)
		}
		c.cacheTTL = d
		return nil
	}
}

// New returns a vault whose data keys are wrapped by kek and kept in keys.
func New(kek KEK, keys KeyStore, opts ...Option) (*Vault, error) {
	if kek == nil || keys == nil {
		return nil, errors.New("vault: a KEK and a key store are required")
	}
	if kek.ID() == "" {
		return nil, errors.New("vault: the KEK has an empty ID")
	}
	cfg := config{cacheSize: DefaultCacheSize, cacheTTL: DefaultCacheTTL}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	return &Vault{kek: kek, keys: keys, cache: newKeyCache(cfg.cacheSize, cfg.cacheTTL)}, nil
}

// Seal encrypts plaintext for the patient, to be stored under objectKey,
// and returns the sealed object: a header naming the patient's data key,
// then the AES-256-GCM ciphertext. The patient's data key is made on their
// first Seal. For an erased patient it fails with ErrErased.
//
// Nonces are random, so one data key should seal fewer than 2^32 objects
// (NIST SP 800-38D), far more than one patient's records.
func (v *Vault) Seal(ctx context.Context, patientID, objectKey string, plaintext []byte) ([]byte, error) {
	if err := checkNames(patientID, objectKey); err != nil {
		return nil, err
	}
	k, err := v.dataKey(ctx, patientID, true)
	if err != nil {
		return nil, fmt.Errorf("vault: seal %q for patient %q: %w", objectKey, patientID, err)
	}
	h := Header{Version: FormatVersion, KeyID: k.id}
	rand.Read(h.Nonce[:])
	out := make([]byte, 0, HeaderSize+len(plaintext)+TagSize)
	out = h.appendTo(out)
	return k.aead.Seal(out, h.Nonce[:], plaintext, objectAAD(out, patientID, objectKey)), nil
}

// Open authenticates and decrypts an object that Seal sealed for the
// patient under objectKey. It returns plaintext only if every byte of the
// object is as sealed, for this patient and this object key; otherwise the
// error wraps ErrTampered (also for an object of a patient without a data
// key: none can be theirs). An object under an erased key fails with
// ErrErased, and a key wrapped by another KEK with ErrWrongKEK.
func (v *Vault) Open(ctx context.Context, patientID, objectKey string, sealed []byte) ([]byte, error) {
	if err := checkNames(patientID, objectKey); err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("vault: open %q for patient %q: "+format, append([]any{objectKey, patientID}, args...)...)
	}
	h, err := parseHeader(sealed)
	if err != nil {
		return nil, fail("%w: %w", ErrTampered, err)
	}
	if n := len(sealed) - HeaderSize; n < TagSize {
		return nil, fail("%w: %w: %d bytes after the header, shorter than the %d-byte tag", ErrTampered, ErrMalformed, n, TagSize)
	}
	k, err := v.dataKey(ctx, patientID, false)
	switch {
	case errors.Is(err, ErrNoKey):
		return nil, fail("%w: %w: so no object can be theirs", ErrTampered, ErrNoKey)
	case err != nil:
		return nil, fail("%w", err)
	case h.KeyID != k.id && slices.Contains(k.previous, h.KeyID):
		return nil, fail("%w: sealed under key %s", ErrErased, h.KeyID)
	case h.KeyID != k.id:
		return nil, fail("%w: sealed under key %s, not the patient's key %s", ErrTampered, h.KeyID, k.id)
	}
	plaintext, err := k.aead.Open(nil, h.Nonce[:], sealed[HeaderSize:], objectAAD(sealed[:HeaderSize], patientID, objectKey))
	if err != nil {
		return nil, fail("%w: ciphertext, header, patient or object key changed", ErrTampered)
	}
	return plaintext, nil
}

// Erase crypto-shreds the patient: their data key is replaced by a
// tombstone in the key store and evicted from this vault's cache, so none
// of their objects can be opened again (ErrErased) and Seal refuses them.
// A patient who never had a key gets a tombstone too, so no key is made
// for them later by accident. Erasing an erased patient does nothing.
func (v *Vault) Erase(ctx context.Context, patientID string) error {
	if err := checkPatient(patientID); err != nil {
		return err
	}
	if v.closed.Load() {
		return fmt.Errorf("vault: %w", ErrClosed)
	}
	unlock, err := v.locks.lock(ctx, patientID)
	if err != nil {
		return err
	}
	defer unlock()
	v.cache.remove(patientID)
	for attempt := 1; ; attempt++ {
		cur, err := v.keys.Get(ctx, patientID)
		switch {
		case errors.Is(err, ErrNoKey):
			now := time.Now().UTC()
			err = v.keys.Put(ctx, patientID, WrappedKey{KeyID: newKeyID(), Created: now, Erased: now})
			if errors.Is(err, ErrKeyExists) && attempt < 3 {
				continue // another vault made a key meanwhile: erase that
			}
		case err != nil: // reported below
		case cur.IsTombstone():
			return nil
		default:
			err = v.keys.Delete(ctx, patientID)
		}
		if err != nil {
			return fmt.Errorf("vault: erase patient %q: %w", patientID, err)
		}
		return nil
	}
}

// Erased reports whether the patient has been erased (their key is a
// tombstone). A patient who never had a key is not erased.
func (v *Vault) Erased(ctx context.Context, patientID string) (bool, error) {
	if err := checkPatient(patientID); err != nil {
		return false, err
	}
	if v.closed.Load() {
		return false, fmt.Errorf("vault: %w", ErrClosed)
	}
	cur, err := v.keys.Get(ctx, patientID)
	switch {
	case errors.Is(err, ErrNoKey):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("vault: key of patient %q: %w", patientID, err)
	}
	return cur.IsTombstone(), nil
}

// Recreate gives an erased patient a new data key, so Seal accepts them
// again; objects sealed under their erased keys stay unreadable
// (ErrErased). It fails with ErrKeyExists if the patient has a live key and
// with ErrNoKey if they were never erased (their first Seal makes a key).
func (v *Vault) Recreate(ctx context.Context, patientID string) error {
	if err := checkPatient(patientID); err != nil {
		return err
	}
	if v.closed.Load() {
		return fmt.Errorf("vault: %w", ErrClosed)
	}
	unlock, err := v.locks.lock(ctx, patientID)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := v.keys.Get(ctx, patientID)
	switch {
	case err != nil:
		return fmt.Errorf("vault: recreate key of patient %q: %w", patientID, err)
	case !cur.IsTombstone():
		return fmt.Errorf("vault: recreate key of patient %q: %w: key %s is live", patientID, ErrKeyExists, cur.KeyID)
	}
	if _, err := v.createKey(ctx, patientID, append(slices.Clone(cur.Previous), cur.KeyID)); err != nil {
		return fmt.Errorf("vault: recreate key of patient %q: %w", patientID, err)
	}
	return nil
}

// Close evicts every cached data key; afterwards every call fails with
// ErrClosed.
func (v *Vault) Close() error {
	v.closed.Store(true)
	v.cache.close()
	return nil
}

// dataKey returns the patient's unwrapped data key, from the cache or the
// key store; if create is set and the patient has no record, it makes one.
func (v *Vault) dataKey(ctx context.Context, patientID string, create bool) (*dataKey, error) {
	if v.closed.Load() {
		return nil, ErrClosed
	}
	if k, ok := v.cache.get(patientID); ok {
		return k, nil
	}
	unlock, err := v.locks.lock(ctx, patientID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if k, ok := v.cache.get(patientID); ok { // loaded while this call waited
		return k, nil
	}
	rec, err := v.keys.Get(ctx, patientID)
	if errors.Is(err, ErrNoKey) && create {
		rec, err = v.createKey(ctx, patientID, nil)
		if errors.Is(err, ErrKeyExists) { // another vault made it first: use theirs
			rec, err = v.keys.Get(ctx, patientID)
		}
	}
	if err != nil {
		return nil, err
	}
	if rec.IsTombstone() {
		return nil, fmt.Errorf("%w: key %s erased at %s", ErrErased, rec.KeyID, rec.Erased.Format(time.RFC3339))
	}
	k, err := v.unwrap(ctx, patientID, rec)
	if err != nil {
		return nil, err
	}
	v.cache.put(patientID, k)
	return k, nil
}

// createKey makes a data key, wraps it and stores it (create-only, or over
// the tombstone that previous ends with).
func (v *Vault) createKey(ctx context.Context, patientID string, previous []KeyID) (WrappedKey, error) {
	raw := make([]byte, DataKeySize)
	defer clear(raw)
	rand.Read(raw)
	id := newKeyID()
	wrapped, err := v.kek.Wrap(ctx, raw, wrapAAD(patientID, id))
	if err != nil {
		return WrappedKey{}, fmt.Errorf("wrap new data key: %w", err)
	}
	rec := WrappedKey{KeyID: id, KEKID: v.kek.ID(), Wrapped: wrapped, Created: time.Now().UTC(), Previous: previous}
	if err := v.keys.Put(ctx, patientID, rec); err != nil {
		return WrappedKey{}, err
	}
	return rec, nil
}

// unwrap turns a live record into a usable key. The raw key exists only
// until the cipher is built.
func (v *Vault) unwrap(ctx context.Context, patientID string, rec WrappedKey) (*dataKey, error) {
	if rec.KEKID != v.kek.ID() {
		return nil, fmt.Errorf("%w: key %s was wrapped by KEK %q, this vault has %q", ErrWrongKEK, rec.KeyID, rec.KEKID, v.kek.ID())
	}
	raw, err := v.kek.Unwrap(ctx, rec.Wrapped, wrapAAD(patientID, rec.KeyID))
	defer clear(raw)
	if err != nil {
		return nil, fmt.Errorf("unwrap key %s: %w", rec.KeyID, err)
	}
	if len(raw) != DataKeySize {
		return nil, fmt.Errorf("%w: key %s unwrapped to %d bytes, want %d", ErrWrongKEK, rec.KeyID, len(raw), DataKeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &dataKey{id: rec.KeyID, previous: slices.Clone(rec.Previous), aead: aead}, nil
}

func newKeyID() KeyID {
	for {
		var id KeyID
		rand.Read(id[:])
		if !id.IsZero() {
			return id
		}
	}
}

func checkPatient(patientID string) error {
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return fmt.Errorf("vault: %w (%w)", ErrInvalid, err)
	}
	return nil
}

func checkNames(patientID, objectKey string) error {
	if err := checkPatient(patientID); err != nil {
		return err
	}
	if objectKey == "" || len(objectKey) > MaxObjectKeyLen || !utf8.ValidString(objectKey) {
		return fmt.Errorf("vault: %w: an object key is 1 to %d bytes of UTF-8", ErrInvalid, MaxObjectKeyLen)
	}
	return nil
}
