// Package device is a wearable's identity on its own disk: its Ed25519 key,
// the device and patient ids it is paired for, and the next batch sequence
// number, which is written to disk (fsync, atomic rename) before it is handed
// out, so a restarted device never numbers two batches alike.
//
// It must never write the private key anywhere but its key file (mode 0600,
// never overwritten), never load a key or state file that group or others
// can access, and never hand out a sequence number the state file does not
// already account for.
package device

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"sync"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/wearables/mhealth"
)

// Domain errors; every error of this package that is about the files or the
// ids wraps one of them.
var (
	// ErrPermissions: a key or state file is accessible to group or others.
	ErrPermissions = errors.New("file accessible to group or others")
	// ErrExists: Create would overwrite a key or state file.
	ErrExists = errors.New("file exists")
	// ErrFile: a key or state file is missing, malformed or does not belong
	// with its key.
	ErrFile = errors.New("bad device file")
	// ErrMismatch: a batch names another device or patient than the key's.
	ErrMismatch = errors.New("batch is not this device's")
)

// Device is one wearable: its key, its ids and its sequence counter, bound
// to a key file and a state file. Its methods are safe for concurrent use,
// but only one process may use a device's files at a time.
type Device struct {
	id, patientID string
	private       ed25519.PrivateKey
	statePath     string

	mu   sync.Mutex
	next uint64 // the number NextSeq hands out next; the state file holds it
}

// ID is the device id, as paired on the ledger.
func (d *Device) ID() string { return d.id }

// PatientID is the patient the device is paired to.
func (d *Device) PatientID() string { return d.patientID }

// PublicKey is the Ed25519 public key in standard base64, as the ledger
// stores it (what `patient device pair --public-key` takes).
func (d *Device) PublicKey() string {
	return base64.StdEncoding.EncodeToString(d.private.Public().(ed25519.PublicKey))
}

// NextSeq returns the next batch sequence number (1, 2, ...) after writing
// the one following it to the state file, so a device restarted from its
// files continues after every number it ever returned. On error nothing is
// handed out and the counter does not move.
func (d *Device) NextSeq() (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.next
	if n == math.MaxUint64 {
		return 0, fmt.Errorf("device %s: %w: sequence numbers exhausted", d.id, ErrFile)
	}
	if err := writeState(d.statePath, d.id, n+1); err != nil {
		return 0, fmt.Errorf("device %s: persist sequence number: %w", d.id, err)
	}
	d.next = n + 1
	return n, nil
}

// Sign encodes and signs a batch of this device and patient with the device
// key (mhealth.Sign). It refuses a batch that names another device or
// patient with ErrMismatch.
func (d *Device) Sign(b mhealth.Batch) (mhealth.SignedBatch, error) {
	if b.DeviceID != d.id || b.PatientID != d.patientID {
		return mhealth.SignedBatch{}, fmt.Errorf("%w: batch of device %q patient %q, key of device %q patient %q", ErrMismatch, b.DeviceID, b.PatientID, d.id, d.patientID)
	}
	return mhealth.Sign(d.private, b)
}

func validateIDs(deviceID, patientID string) error {
	if err := ledgerapi.ValidateID("deviceId", deviceID); err != nil {
		return err
	}
	return ledgerapi.ValidateID("patientId", patientID)
}
