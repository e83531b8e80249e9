package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"healthexchange/services/platform/durable"
)

// FileKeyStore is a KeyStore in a local folder: one file per patient, named
// by the SHA-256 of the patient id (so no id can name a path, and ids that
// differ only in case do not collide on case-insensitive file systems),
// holding JSON that repeats the patient id. Every change is atomic and on
// disk when it returns. Several processes may share the folder: changes
// take turns under a lock on the folder (on Unix), and a first key is
// created with a hard link, which never overwrites.
type FileKeyStore struct {
	dir string
	mu  sync.Mutex // this process's changes take turns; lockDir serialises processes
}

var _ KeyStore = (*FileKeyStore)(nil)

// maxRecordSize bounds what Get reads: a record is a few hundred bytes.
const maxRecordSize = 64 << 10

// OpenFileKeyStore opens the store in dir, creating the folder (mode 0700)
// if needed. It refuses a folder that its group or others may access.
func OpenFileKeyStore(dir string) (*FileKeyStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: key store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("vault: key store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("vault: key store %s is not a folder", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("vault: key store %s is accessible to group or others (mode %v); chmod 700 it", dir, perm)
	}
	return &FileKeyStore{dir: dir}, nil
}

// keyFile is a record on disk.
type keyFile struct {
	Version   int       `json:"version"`
	PatientID string    `json:"patientId"`
	KeyID     KeyID     `json:"keyId"`
	KEKID     string    `json:"kekId,omitempty"`
	Wrapped   []byte    `json:"wrapped,omitempty"`
	Created   time.Time `json:"created"`
	Erased    time.Time `json:"erased,omitzero"`
	Previous  []KeyID   `json:"previous,omitempty"`
}

const keyFileVersion = 1

func (s *FileKeyStore) name(patientID string) string {
	sum := sha256.Sum256([]byte(patientID))
	return hex.EncodeToString(sum[:]) + ".key"
}

// Get reads the patient's record. It needs no lock: a record is replaced
// only by rename, so a reader sees the old file or the new one.
func (s *FileKeyStore) Get(ctx context.Context, patientID string) (WrappedKey, error) {
	if err := ctx.Err(); err != nil {
		return WrappedKey{}, err
	}
	path := filepath.Join(s.dir, s.name(patientID))
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return WrappedKey{}, fmt.Errorf("vault: %w: patient %q", ErrNoKey, patientID)
	}
	if err != nil {
		return WrappedKey{}, fmt.Errorf("vault: key store: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	if err != nil {
		return WrappedKey{}, fmt.Errorf("vault: key store: %w", err)
	}
	if len(raw) > maxRecordSize {
		return WrappedKey{}, fmt.Errorf("vault: key store %s: %w: larger than %d bytes", path, ErrInvalid, maxRecordSize)
	}
	var kf keyFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		return WrappedKey{}, fmt.Errorf("vault: key store %s: %w: %w", path, ErrInvalid, err)
	}
	switch {
	case dec.More():
		return WrappedKey{}, fmt.Errorf("vault: key store %s: %w: trailing data", path, ErrInvalid)
	case kf.Version != keyFileVersion:
		return WrappedKey{}, fmt.Errorf("vault: key store %s: %w: record version %d, want %d", path, ErrInvalid, kf.Version, keyFileVersion)
	case kf.PatientID != patientID:
		return WrappedKey{}, fmt.Errorf("vault: key store %s: %w: holds the record of patient %q, not %q", path, ErrInvalid, kf.PatientID, patientID)
	}
	k := WrappedKey{KeyID: kf.KeyID, KEKID: kf.KEKID, Wrapped: kf.Wrapped, Created: kf.Created, Erased: kf.Erased, Previous: kf.Previous}
	if err := k.Validate(); err != nil {
		return WrappedKey{}, fmt.Errorf("vault: key store %s: %w", path, err)
	}
	return k, nil
}

// Put stores k under KeyStore's rule: a first record by hard link (never
// overwriting), a re-created key over its tombstone by rename.
func (s *FileKeyStore) Put(ctx context.Context, patientID string, k WrappedKey) error {
	if err := k.Validate(); err != nil {
		return fmt.Errorf("vault: put key of patient %q: %w", patientID, err)
	}
	raw, err := s.encode(patientID, k)
	if err != nil {
		return err
	}
	return s.change(ctx, func() error {
		cur, err := s.Get(ctx, patientID)
		found := err == nil
		if err != nil && !errors.Is(err, ErrNoKey) {
			return err
		}
		if err := checkPut(patientID, cur, found, k); err != nil {
			return fmt.Errorf("vault: %w", err)
		}
		if found { // a re-created key replaces its tombstone
			if err := durable.WriteFile(filepath.Join(s.dir, s.name(patientID)), raw, 0o600); err != nil {
				return fmt.Errorf("vault: key store: %w", err)
			}
			return nil
		}
		err = createExclusive(s.dir, s.name(patientID), raw)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("vault: %w: patient %q", ErrKeyExists, patientID)
		}
		if err != nil {
			return fmt.Errorf("vault: key store: %w", err)
		}
		return nil
	})
}

// Delete replaces the patient's key file with its tombstone (by rename,
// then a sync of the folder), then overwrites the old file's bytes with
// zeros through a handle opened before the rename. The overwrite is best
// effort: on copy-on-write file systems and flash the old blocks may
// survive, still wrapped by the KEK.
func (s *FileKeyStore) Delete(ctx context.Context, patientID string) error {
	return s.change(ctx, func() error {
		cur, err := s.Get(ctx, patientID)
		if err != nil {
			return err
		}
		if cur.IsTombstone() {
			return nil
		}
		path := filepath.Join(s.dir, s.name(patientID))
		old, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("vault: key store: %w", err)
		}
		defer old.Close()
		raw, err := s.encode(patientID, cur.Tombstone(time.Now()))
		if err != nil {
			return err
		}
		if err := durable.WriteFile(path, raw, 0o600); err != nil {
			return fmt.Errorf("vault: key store: %w", err)
		}
		shred(old)
		return nil
	})
}

// change runs fn while no other change to the store, in this process or
// (on Unix) another, is running.
func (s *FileKeyStore) change(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("vault: key store: %w", err)
	}
	defer d.Close() // releases the lock
	if err := lockDir(d); err != nil {
		return fmt.Errorf("vault: key store: lock %s: %w", s.dir, err)
	}
	return fn()
}

func (s *FileKeyStore) encode(patientID string, k WrappedKey) ([]byte, error) {
	raw, err := json.MarshalIndent(keyFile{
		Version: keyFileVersion, PatientID: patientID, KeyID: k.KeyID, KEKID: k.KEKID,
		Wrapped: k.Wrapped, Created: k.Created.UTC(), Erased: k.Erased.UTC(), Previous: k.Previous,
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("vault: key store: %w", err)
	}
	return append(raw, '\n'), nil
}

// shred overwrites f's bytes with zeros and syncs them, best effort.
func shred(f *os.File) {
	fi, err := f.Stat()
	if err != nil {
		return
	}
	if _, err := f.WriteAt(make([]byte, fi.Size()), 0); err != nil {
		return
	}
	f.Sync()
}

// OpenFiles is a vault whose KEK is the key file kekFile (NewFileKEK) and
// whose data keys are kept in the folder keyDir (OpenFileKeyStore): the
// development setup of every service.
func OpenFiles(kekFile, keyDir string, opts ...Option) (*Vault, error) {
	kek, err := NewFileKEK(kekFile)
	if err != nil {
		return nil, err
	}
	keys, err := OpenFileKeyStore(keyDir)
	if err != nil {
		return nil, err
	}
	return New(kek, keys, opts...)
}
