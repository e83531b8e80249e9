package vault

import "errors"

// Errors from this package wrap one or more of these, for errors.Is.
var (
	// ErrTampered: the object does not authenticate: a byte of it was
	// changed, it was truncated or extended, it was moved to another object
	// key or another patient, or it is not a vault object at all. Open never
	// returns any of its plaintext.
	ErrTampered = errors.New("object failed authentication")
	// ErrErased: the patient's data key was erased (Vault.Erase). Their
	// objects can no longer be opened, and Seal refuses them until the key
	// is explicitly re-created (Vault.Recreate).
	ErrErased = errors.New("patient's data key was erased")
	// ErrMalformed: the object header cannot be parsed (ParseHeader). Open
	// wraps it together with ErrTampered.
	ErrMalformed = errors.New("malformed object")
	// ErrWrongKEK: the data key was wrapped by another KEK than this vault's,
	// or its wrapping does not authenticate (a damaged or swapped key record).
	ErrWrongKEK = errors.New("data key cannot be unwrapped by this KEK")
	// ErrNoKey: the key store holds no record (no key, no tombstone) for the
	// patient.
	ErrNoKey = errors.New("no data key for patient")
	// ErrKeyExists: KeyStore.Put found a record it must not replace.
	ErrKeyExists = errors.New("data key already exists")
	// ErrInvalid: a patient id, object key or stored record is not valid.
	ErrInvalid = errors.New("invalid argument")
	// ErrClosed: the vault was closed.
	ErrClosed = errors.New("closed")
)
