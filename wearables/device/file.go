package device

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"healthexchange/services/platform/durable"
)

// keyFile is how a device key is kept: written once, never rewritten.
type keyFile struct {
	DeviceID  string `json:"deviceId"`
	PatientID string `json:"patientId"`
	// PrivateKey is the RFC 8032 Ed25519 private key (the 32-byte seed),
	// standard base64.
	PrivateKey string `json:"privateKey"`
	// PublicKey is the Ed25519 public key, standard base64; Open checks that
	// it is the private key's.
	PublicKey string `json:"publicKey"`
}

// stateFile is the device's sequence counter, rewritten atomically before
// every number NextSeq hands out.
type stateFile struct {
	DeviceID string `json:"deviceId"`
	// NextSeq is the lowest sequence number never handed out.
	NextSeq uint64 `json:"nextSeq"`
}

// StatePath is where the state file of the key file keyPath is kept: beside
// it, with ".state" appended.
func StatePath(keyPath string) string { return keyPath + ".state" }

// Create makes a new key for deviceID of patientID and writes its key file
// at keyPath and its state file (next sequence number 1) at
// StatePath(keyPath), both mode 0600, atomically and synced. It refuses with
// ErrExists to overwrite either file: a device's key is paired on the ledger
// and its counter must never go back.
func Create(keyPath, deviceID, patientID string) (*Device, error) {
	if err := validateIDs(deviceID, patientID); err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	pub, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	key, err := json.MarshalIndent(keyFile{
		DeviceID:   deviceID,
		PatientID:  patientID,
		PrivateKey: base64.StdEncoding.EncodeToString(private.Seed()),
		PublicKey:  base64.StdEncoding.EncodeToString(pub),
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	state, err := marshalState(deviceID, 1)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	// Name the key file when it is there (writeNew below is what makes
	// sure, whatever happens in between).
	if _, err := os.Lstat(keyPath); err == nil {
		return nil, fmt.Errorf("device: %w: refusing to overwrite %s", ErrExists, keyPath)
	}
	// The state file first: a key file never exists without its counter. A
	// crash in between leaves a state file without a key, which the next
	// Create refuses to overwrite, naming it.
	statePath := StatePath(keyPath)
	if err := writeNew(statePath, state); err != nil {
		return nil, err
	}
	if err := writeNew(keyPath, key); err != nil {
		os.Remove(statePath)
		return nil, err
	}
	return &Device{id: deviceID, patientID: patientID, private: private, statePath: statePath, next: 1}, nil
}

// Open loads the device of the key file keyPath and its state file. It
// refuses, with ErrPermissions, either file if group or others can access
// it, and with ErrFile a missing state file (the counter cannot be
// guessed), a malformed file, a public key that is not the private key's, or
// a state file of another device.
func Open(keyPath string) (*Device, error) {
	raw, err := readPrivate(keyPath)
	if err != nil {
		return nil, err
	}
	var k keyFile
	if err := strictUnmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("device: %w: %s: %w", ErrFile, keyPath, err)
	}
	if err := validateIDs(k.DeviceID, k.PatientID); err != nil {
		return nil, fmt.Errorf("device: %w: %s: %w", ErrFile, keyPath, err)
	}
	seed, err := base64.StdEncoding.DecodeString(k.PrivateKey)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("device: %w: %s holds no Ed25519 private key (base64 of %d bytes)", ErrFile, keyPath, ed25519.SeedSize)
	}
	private := ed25519.NewKeyFromSeed(seed)
	if want := base64.StdEncoding.EncodeToString(private.Public().(ed25519.PublicKey)); k.PublicKey != want {
		return nil, fmt.Errorf("device: %w: %s: publicKey is not the private key's", ErrFile, keyPath)
	}

	statePath := StatePath(keyPath)
	raw, err = readPrivate(statePath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("device: %w: state file %s is missing; without it the next sequence number is unknown and a used one could be sent again", ErrFile, statePath)
		}
		return nil, err
	}
	var s stateFile
	if err := strictUnmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("device: %w: %s: %w", ErrFile, statePath, err)
	}
	if s.DeviceID != k.DeviceID || s.NextSeq == 0 {
		return nil, fmt.Errorf("device: %w: %s: state of device %q next seq %d, want device %q and seq at least 1", ErrFile, statePath, s.DeviceID, s.NextSeq, k.DeviceID)
	}
	return &Device{id: k.DeviceID, patientID: k.PatientID, private: private, statePath: statePath, next: s.NextSeq}, nil
}

// readPrivate reads a regular file that only its owner can access; the mode
// is checked on the open file, so it is the mode of what is read.
func readPrivate(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("device: %w: %s is not a regular file", ErrFile, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("device: %w: %s has mode %v; chmod 600 it", ErrPermissions, path, perm)
	}
	raw, err := io.ReadAll(io.LimitReader(f, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("device: read %s: %w", path, err)
	}
	return raw, nil
}

func strictUnmarshal(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func marshalState(deviceID string, next uint64) ([]byte, error) {
	raw, err := json.Marshal(stateFile{DeviceID: deviceID, NextSeq: next})
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	return append(raw, '\n'), nil
}

// writeState replaces the state file atomically and syncs it and its folder.
func writeState(path, deviceID string, next uint64) error {
	raw, err := marshalState(deviceID, next)
	if err != nil {
		return err
	}
	return durable.WriteFile(path, raw, 0o600)
}

// writeNew writes a new file atomically, mode 0600, and never replaces an
// existing one: the data is synced in a temporary file that is then
// hard-linked to path, which fails if path exists.
func writeNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("device: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("device: write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("device: %w: refusing to overwrite %s", ErrExists, path)
		}
		return fmt.Errorf("device: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("device: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("device: sync %s: %w", dir, err)
	}
	return nil
}
