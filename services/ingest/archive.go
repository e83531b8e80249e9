package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"healthexchange/services/objectstore"
	"healthexchange/services/vault"
	"healthexchange/wearables/mhealth"
)

// Archive is the wearables bucket as the ingest service lays it out (see
// layout.go): it stores sealed batches, and reads them back for the service
// and for readers that decided access themselves (the research service,
// after checking research consents). It checks no consent.
type Archive struct {
	objects objectstore.Objects
	vault   Sealer
}

// NewArchive reads and writes batches in objects, sealed by v.
func NewArchive(objects objectstore.Objects, v Sealer) *Archive {
	return &Archive{objects: objects, vault: v}
}

// store seals and writes one batch under key. vault.ErrErased passes
// through; a storage failure is ErrUnavailable.
func (a *Archive) store(ctx context.Context, patientID, key string, sb storedBatch) error {
	raw, err := json.Marshal(sb)
	if err != nil {
		return err
	}
	sealed, err := a.vault.Seal(ctx, patientID, key, raw)
	if err != nil {
		return err
	}
	if err := a.objects.Put(ctx, key, sealed); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// StoreSigned stores a signed batch as the service does after its checks,
// with none of them (no device, signature, sequence or plausibility check,
// and no journal entry, so it is never anchored). It is for loading test and
// benchmark data straight into a bucket.
func (a *Archive) StoreSigned(ctx context.Context, payload, signature []byte, received time.Time) (key string, err error) {
	b, err := mhealth.Decode(payload)
	if err != nil {
		return "", err
	}
	if len(b.Readings) == 0 {
		return "", errors.New("ingest archive: a batch without readings")
	}
	earliest, _ := timeRange(b.Readings)
	key = batchKey(b.PatientID, earliest, b.DeviceID, b.Seq)
	return key, a.store(ctx, b.PatientID, key, storedBatch{Payload: payload, Signature: signature, Received: received.UTC()})
}

// load reads and opens a stored batch: ErrNotFound if there is none,
// ErrTampered if it does not open.
func (a *Archive) load(ctx context.Context, patientID, key string) (storedBatch, error) {
	sealed, err := a.objects.Get(ctx, key, maxStoredSize)
	switch {
	case errors.Is(err, objectstore.ErrNotFound):
		return storedBatch{}, fmt.Errorf("%w: batch %s", ErrNotFound, key)
	case errors.Is(err, objectstore.ErrTooLarge):
		return storedBatch{}, fmt.Errorf("%w: batch %s is larger than any stored batch", ErrTampered, key)
	case err != nil:
		return storedBatch{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	raw, err := a.vault.Open(ctx, patientID, key, sealed)
	if errors.Is(err, vault.ErrErased) {
		return storedBatch{}, fmt.Errorf("%w: patient %s has been erased", ErrNotFound, patientID)
	}
	if err != nil {
		return storedBatch{}, fmt.Errorf("%w: batch %s: %w", ErrTampered, key, err)
	}
	var sb storedBatch
	if err := json.Unmarshal(raw, &sb); err != nil {
		return storedBatch{}, fmt.Errorf("%w: batch %s: %w", ErrTampered, key, err)
	}
	return sb, nil
}

// Readings calls fn with every accepted reading of the patient taken in
// [from, to), batch by batch in key order (not sorted by time). It lists the
// patient's batches once and opens only those filed in the hours of the
// range and the hour before. A batch that does not open or decode is
// ErrTampered; an erased patient is ErrNotFound. An error of fn stops it.
func (a *Archive) Readings(ctx context.Context, patientID string, from, to time.Time, fn func(StoredReading) error) error {
	keys, err := a.objects.List(ctx, patientID+"/")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	first := from.UTC().Truncate(time.Hour).Add(-maxBatchSpan).Format(hourLayout)
	last := to.UTC().Format(hourLayout)
	for _, key := range keys {
		hour, _, ok := strings.Cut(strings.TrimPrefix(key, patientID+"/"), "/")
		if !ok || len(hour) != len(hourLayout) || hour < first || hour > last {
			continue // proofs/ and batches filed outside the range
		}
		if err := a.batchReadings(ctx, patientID, key, from, to, fn); err != nil {
			return err
		}
	}
	return nil
}

// batchReadings calls fn with the accepted readings of one stored batch
// taken in [from, to).
func (a *Archive) batchReadings(ctx context.Context, patientID, key string, from, to time.Time, fn func(StoredReading) error) error {
	sb, err := a.load(ctx, patientID, key)
	if err != nil {
		return err
	}
	b, err := mhealth.Decode(sb.Payload)
	if err != nil {
		return fmt.Errorf("%w: batch %s: %w", ErrTampered, key, err)
	}
	if b.PatientID != patientID {
		return fmt.Errorf("%w: batch %s belongs to another patient", ErrTampered, key)
	}
	skip := make(map[int]bool, len(sb.Rejected))
	for _, r := range sb.Rejected {
		skip[r.Index] = true
	}
	for i, r := range b.Readings {
		t := r.TimeFrame.Begin()
		if skip[i] || t.Before(from) || !t.Before(to) {
			continue
		}
		if err := fn(StoredReading{Reading: r, DeviceID: b.DeviceID, Seq: b.Seq, Index: i}); err != nil {
			return err
		}
	}
	return nil
}
