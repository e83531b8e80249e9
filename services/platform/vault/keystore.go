package vault

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// KeyStore keeps one record per patient: their data key wrapped by a KEK,
// or, once erased, a tombstone. FileKeyStore and MemoryKeyStore implement
// it; a database or a KMS's key store can too. The vault keeps no key
// material outside the store but its short-lived cache.
type KeyStore interface {
	// Get returns the patient's record, a live key or a tombstone; if there
	// is none, the error wraps ErrNoKey.
	Get(ctx context.Context, patientID string) (WrappedKey, error)
	// Put stores k, atomically with its check that the patient has no
	// record. The one exception is an explicit re-creation after erasure:
	// a live k whose Previous ends with the KeyID of the patient's
	// tombstone replaces that tombstone. Anything else fails with
	// ErrKeyExists (or ErrNoKey for a re-creation with no tombstone left
	// to replace). Put never replaces a live key.
	Put(ctx context.Context, patientID string, k WrappedKey) error
	// Delete replaces the patient's live key with a tombstone (k.Tombstone)
	// and returns once the wrapped key is gone from the store, durably.
	// Deleting a tombstone does nothing; with no record the error wraps
	// ErrNoKey.
	Delete(ctx context.Context, patientID string) error
}

// WrappedKey is a key store's record of one patient: a data key wrapped by
// a KEK, or a tombstone left where an erased key was.
type WrappedKey struct {
	// KeyID names the data key; every object it sealed carries it.
	KeyID KeyID
	// KEKID is the ID of the KEK that wrapped it (empty in a tombstone
	// that replaced no key).
	KEKID string
	// Wrapped is the data key as the KEK wrapped it, bound to the patient
	// id and KeyID; empty in a tombstone.
	Wrapped []byte
	// Created is when the key (or a tombstone that replaced no key) was made.
	Created time.Time
	// Erased, if set, makes this a tombstone: the key was erased then.
	Erased time.Time
	// Previous lists the patient's earlier data keys, all erased, oldest
	// first; their objects fail with ErrErased.
	Previous []KeyID
}

// IsTombstone reports whether k records an erased key.
func (k WrappedKey) IsTombstone() bool { return !k.Erased.IsZero() }

// Tombstone is what Delete leaves of a live key erased at t: the ids and
// dates, without the wrapped key.
func (k WrappedKey) Tombstone(t time.Time) WrappedKey {
	return WrappedKey{KeyID: k.KeyID, KEKID: k.KEKID, Created: k.Created, Erased: t.UTC(), Previous: slices.Clone(k.Previous)}
}

// Validate reports a record no store should hold.
func (k WrappedKey) Validate() error {
	switch {
	case k.KeyID.IsZero():
		return fmt.Errorf("%w: key record without a key id", ErrInvalid)
	case k.Created.IsZero():
		return fmt.Errorf("%w: key record %s without a creation time", ErrInvalid, k.KeyID)
	case k.IsTombstone() && len(k.Wrapped) != 0:
		return fmt.Errorf("%w: tombstone %s still holds a wrapped key", ErrInvalid, k.KeyID)
	case !k.IsTombstone() && (len(k.Wrapped) == 0 || k.KEKID == ""):
		return fmt.Errorf("%w: key record %s without a wrapped key or KEK id", ErrInvalid, k.KeyID)
	case slices.Contains(k.Previous, KeyID{}):
		return fmt.Errorf("%w: key record %s lists a zero previous key id", ErrInvalid, k.KeyID)
	}
	return nil
}

// clone returns a deep copy of k.
func (k WrappedKey) clone() WrappedKey {
	k.Wrapped = slices.Clone(k.Wrapped)
	k.Previous = slices.Clone(k.Previous)
	return k
}

// checkPut is Put's rule: may k be stored over cur (found says whether the
// patient has a record at all)?
func checkPut(patientID string, cur WrappedKey, found bool, k WrappedKey) error {
	recreate := len(k.Previous) > 0 && !k.IsTombstone()
	switch {
	case !found && !recreate:
		return nil
	case !found:
		return fmt.Errorf("%w: patient %q has no tombstone for a re-created key to replace", ErrNoKey, patientID)
	case !cur.IsTombstone():
		return fmt.Errorf("%w: patient %q has key %s", ErrKeyExists, patientID, cur.KeyID)
	case !recreate || k.Previous[len(k.Previous)-1] != cur.KeyID:
		return fmt.Errorf("%w: patient %q has the tombstone of key %s, which the new record does not name as its predecessor", ErrKeyExists, patientID, cur.KeyID)
	}
	return nil
}

// MemoryKeyStore is a KeyStore in memory, for tests and for demos that
// need no restart.
type MemoryKeyStore struct {
	mu   sync.Mutex
	keys map[string]WrappedKey
}

var _ KeyStore = (*MemoryKeyStore)(nil)

// NewMemoryKeyStore returns an empty store.
func NewMemoryKeyStore() *MemoryKeyStore {
	return &MemoryKeyStore{keys: map[string]WrappedKey{}}
}

// Get returns a copy of the patient's record.
func (s *MemoryKeyStore) Get(ctx context.Context, patientID string) (WrappedKey, error) {
	if err := ctx.Err(); err != nil {
		return WrappedKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[patientID]
	if !ok {
		return WrappedKey{}, fmt.Errorf("vault: %w: patient %q", ErrNoKey, patientID)
	}
	return k.clone(), nil
}

// Put stores a copy of k under KeyStore's rule.
func (s *MemoryKeyStore) Put(ctx context.Context, patientID string, k WrappedKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := k.Validate(); err != nil {
		return fmt.Errorf("vault: put key of patient %q: %w", patientID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, found := s.keys[patientID]
	if err := checkPut(patientID, cur, found, k); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	s.keys[patientID] = k.clone()
	return nil
}

// Delete replaces the patient's key with its tombstone and zeroes the
// wrapped key it held.
func (s *MemoryKeyStore) Delete(ctx context.Context, patientID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.keys[patientID]
	switch {
	case !ok:
		return fmt.Errorf("vault: %w: patient %q", ErrNoKey, patientID)
	case cur.IsTombstone():
		return nil
	}
	s.keys[patientID] = cur.Tombstone(time.Now())
	clear(cur.Wrapped)
	return nil
}
