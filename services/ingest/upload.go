package ingest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/vault"
	"healthexchange/services/store/readingstore"
	"healthexchange/wearables/mhealth"
)

// Status is what became of an uploaded batch.
type Status int

// The outcomes of an upload.
const (
	Accepted  Status = iota + 1 // stored now
	Duplicate                   // stored by an earlier upload of the same batch
	Rejected                    // refused; nothing stored
)

// Upload is one signed batch as a device sends it.
type Upload struct {
	DeviceID           string
	Payload, Signature []byte
}

// Rejection is a reading of a batch that is not kept.
type Rejection = readingstore.Rejection

// Ack answers one upload.
type Ack struct {
	DeviceID string
	Seq      uint64
	Status   Status
	Error    string
	Rejected []Rejection
	SHA256   string
}

// Ingest checks and stores one batch. A definite outcome (accepted,
// duplicate, rejected) is the Ack; an error means the outcome is not known
// (storage or ledger unreachable): nothing was acknowledged and the device
// must send the batch again.
//
// Checks, in order: the device is registered on the ledger, active, and its
// key verifies the signature over the payload; the payload names that
// device; its patient is the device's patient; its sequence number is new
// for the device (or a resend of the very batch stored under it); its
// readings lie within an hour. Each reading is then validated; invalid ones
// are listed in the Ack and kept out of every read, the rest are stored
// (a batch with no valid reading is rejected). Accepted means: the sealed
// object is in storage and the batch is in the journal (fsynced), from
// where it is anchored.
func (s *Service) Ingest(ctx context.Context, u Upload) (Ack, error) {
	ctx, span := tracer.Start(ctx, "ingest")
	defer span.End()
	reject := func(seq uint64, format string, args ...any) (Ack, error) {
		return Ack{DeviceID: u.DeviceID, Seq: seq, Status: Rejected, Error: fmt.Sprintf(format, args...)}, nil
	}
	if err := ledgerapi.ValidateID("device_id", u.DeviceID); err != nil {
		return reject(0, "%v", err)
	}
	if len(u.Payload) == 0 || len(u.Payload) > mhealth.MaxPayloadBytes {
		return reject(0, "payload must be 1 to %d bytes", mhealth.MaxPayloadBytes)
	}
	dev, err := s.ledger.Device(ctx, u.DeviceID)
	if errors.Is(err, ledgerapi.ErrNotFound) {
		return reject(0, "device %s is not registered", u.DeviceID)
	}
	if err != nil {
		return Ack{}, fmt.Errorf("%w: device %s: %w", ErrUnavailable, u.DeviceID, err)
	}
	if dev.Status != ledgerapi.StatusActive {
		return reject(0, "device %s is %s", u.DeviceID, dev.Status)
	}
	pub, err := base64.StdEncoding.DecodeString(dev.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return reject(0, "device %s has no usable key on the ledger", u.DeviceID)
	}
	b, err := mhealth.Verify(ed25519.PublicKey(pub), u.Payload, u.Signature)
	if err != nil {
		return reject(0, "%v", err)
	}
	switch {
	case b.DeviceID != u.DeviceID:
		return reject(b.Seq, "the batch is device %s's, not %s's", b.DeviceID, u.DeviceID)
	case b.PatientID != dev.PatientID:
		return reject(b.Seq, "device %s is registered to another patient than %s", u.DeviceID, b.PatientID)
	}
	earliest, latest := readingstore.TimeRange(b.Readings)
	if latest.Sub(earliest) > readingstore.MaxBatchSpan {
		return reject(b.Seq, "a batch's readings must lie within %v; these span %v", readingstore.MaxBatchSpan, latest.Sub(earliest))
	}
	sum := sha256.Sum256(u.Payload)
	key := readingstore.BatchKey(b.PatientID, earliest, b.DeviceID, b.Seq)

	unlock, err := s.devices.Lock(ctx, b.DeviceID)
	if err != nil {
		return Ack{}, err
	}
	defer unlock()
	if b.Seq <= s.lastSeq(b.DeviceID) {
		return s.resent(ctx, b, key, sum)
	}

	now := s.now()
	var rejected []Rejection
	for i, r := range b.Readings {
		if err := r.Validate(now, s.limits.MaxSkew, s.limits.MaxAge); err != nil {
			rejected = append(rejected, Rejection{Index: i, Error: err.Error()})
		}
	}
	ack := Ack{DeviceID: b.DeviceID, Seq: b.Seq, Status: Accepted, Rejected: rejected, SHA256: hex.EncodeToString(sum[:])}
	if len(rejected) == len(b.Readings) {
		ack.Status, ack.Error = Rejected, "every reading of the batch was rejected"
		return ack, nil
	}
	if err := s.archive.Store(ctx, b.PatientID, key, readingstore.Batch{Payload: u.Payload, Signature: u.Signature, Rejected: rejected, Received: now.UTC()}); errors.Is(err, vault.ErrErased) {
		return reject(b.Seq, "patient %s has been erased: nothing of theirs is stored", b.PatientID)
	} else if err != nil {
		return Ack{}, err
	}
	if s.hooks != nil && s.hooks.afterObjectPut != nil {
		s.hooks.afterObjectPut()
	}
	if _, err := s.journal.Append(ctx, stored{DeviceID: b.DeviceID, PatientID: b.PatientID, Seq: b.Seq, Key: key,
		SHA256: ack.SHA256, Readings: len(b.Readings) - len(rejected), From: earliest, To: latest}); err != nil {
		return Ack{}, fmt.Errorf("%w: journal: %w", ErrUnavailable, err)
	}
	s.setSeen(b.DeviceID, b.Seq)
	return ack, nil
}

// resent answers a batch whose sequence number the device has used: the
// same batch again (its acknowledgement was lost) is a duplicate; anything
// else under a used number is a replay, refused.
func (s *Service) resent(ctx context.Context, b mhealth.Batch, key string, sum [32]byte) (Ack, error) {
	sb, err := s.archive.Load(ctx, b.PatientID, key)
	if errors.Is(err, ErrNotFound) {
		return Ack{DeviceID: b.DeviceID, Seq: b.Seq, Status: Rejected,
			Error: fmt.Sprintf("sequence number %d of device %s is used (the last stored is %d): replay refused", b.Seq, b.DeviceID, s.lastSeq(b.DeviceID))}, nil
	}
	if err != nil {
		return Ack{}, err
	}
	if sha256.Sum256(sb.Payload) != sum {
		return Ack{DeviceID: b.DeviceID, Seq: b.Seq, Status: Rejected,
			Error: fmt.Sprintf("sequence number %d of device %s was stored with other content: replay refused", b.Seq, b.DeviceID)}, nil
	}
	return Ack{DeviceID: b.DeviceID, Seq: b.Seq, Status: Duplicate, Rejected: sb.Rejected, SHA256: hex.EncodeToString(sum[:])}, nil
}
