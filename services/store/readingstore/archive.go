package readingstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/vault"
	"healthexchange/wearables/mhealth"
)

// Sealer encrypts and decrypts patients' objects (*vault.Vault).
type Sealer interface {
	Seal(ctx context.Context, patientID, objectKey string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, patientID, objectKey string, sealed []byte) ([]byte, error)
}

// Rejection is a reading of a batch that was not kept, and why.
type Rejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// Batch is what a batch's object holds, sealed: the batch exactly as
// signed, and which of its readings are not kept.
type Batch struct {
	Payload   []byte      `json:"payload"`
	Signature []byte      `json:"signature"`
	Rejected  []Rejection `json:"rejected,omitempty"`
	Received  time.Time   `json:"received"`
}

// MaxStoredSize bounds what is read back: the largest batch, base64 in
// JSON, with room for rejections, sealed.
const MaxStoredSize = int64(2*mhealth.MaxPayloadBytes + 1<<20)

// StoredReading is a reading and where it is in its batch.
type StoredReading struct {
	mhealth.Reading
	DeviceID string
	Seq      uint64
	Index    int
}

// TimeRange is the earliest and latest reading time of a batch.
func TimeRange(rs []mhealth.Reading) (earliest, latest time.Time) {
	for i, r := range rs {
		t := r.TimeFrame.Begin()
		if i == 0 || t.Before(earliest) {
			earliest = t
		}
		if i == 0 || t.After(latest) {
			latest = t
		}
	}
	return earliest, latest
}

// Archive is the wearables bucket (see layout.go): it stores sealed
// batches, and reads them back for the ingest service and for readers that
// decided access themselves (the research service, after checking research
// consents). It checks no consent.
type Archive struct {
	objects objectstore.Objects
	vault   Sealer
}

// NewArchive reads and writes batches in objects, sealed by v.
func NewArchive(objects objectstore.Objects, v Sealer) *Archive {
	return &Archive{objects: objects, vault: v}
}

// Store seals and writes one batch under key. vault.ErrErased passes
// through; a storage failure is ErrUnavailable.
func (a *Archive) Store(ctx context.Context, patientID, key string, sb Batch) error {
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
	earliest, _ := TimeRange(b.Readings)
	key = BatchKey(b.PatientID, earliest, b.DeviceID, b.Seq)
	return key, a.Store(ctx, b.PatientID, key, Batch{Payload: payload, Signature: signature, Received: received.UTC()})
}

// Load reads and opens a stored batch: ErrNotFound if there is none,
// ErrTampered if it does not open.
func (a *Archive) Load(ctx context.Context, patientID, key string) (Batch, error) {
	sealed, err := a.objects.Get(ctx, key, MaxStoredSize)
	switch {
	case errors.Is(err, objectstore.ErrNotFound):
		return Batch{}, fmt.Errorf("%w: batch %s", ErrNotFound, key)
	case errors.Is(err, objectstore.ErrTooLarge):
		return Batch{}, fmt.Errorf("%w: batch %s is larger than any stored batch", ErrTampered, key)
	case err != nil:
		return Batch{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	raw, err := a.vault.Open(ctx, patientID, key, sealed)
	if errors.Is(err, vault.ErrErased) {
		return Batch{}, fmt.Errorf("%w: patient %s has been erased", ErrNotFound, patientID)
	}
	if err != nil {
		return Batch{}, fmt.Errorf("%w: batch %s: %w", ErrTampered, key, err)
	}
	var sb Batch
	if err := json.Unmarshal(raw, &sb); err != nil {
		return Batch{}, fmt.Errorf("%w: batch %s: %w", ErrTampered, key, err)
	}
	return sb, nil
}

// batchesAhead is how many of a patient's batches Readings loads while the
// one before them is handed out: a patient's objects are fetched a few at a
// time, and at most batchesAhead+1 of their batches are held at once.
const batchesAhead = 3

// Readings calls fn with every accepted reading of the patient taken in
// [from, to), batch by batch in key order (not sorted by time). It lists the
// patient's batches once and opens only those filed in the hours of the
// range and the hour before, up to batchesAhead of them ahead of the batch
// fn is given. A batch that does not open or decode is ErrTampered; an
// erased patient is ErrNotFound. The first error in key order, or of fn,
// stops it; it returns once no load is left running.
func (a *Archive) Readings(ctx context.Context, patientID string, from, to time.Time, fn func(StoredReading) error) error {
	keys, err := a.objects.List(ctx, patientID+"/")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	first := from.UTC().Truncate(time.Hour).Add(-MaxBatchSpan).Format(hourLayout)
	last := to.UTC().Format(hourLayout)
	var wanted []string
	for _, key := range keys {
		hour, _, ok := strings.Cut(strings.TrimPrefix(key, patientID+"/"), "/")
		if !ok || len(hour) != len(hourLayout) || hour < first || hour > last {
			continue // proofs/ and batches filed outside the range
		}
		wanted = append(wanted, key)
	}
	ctx, cancel := context.WithCancel(ctx)
	var loads sync.WaitGroup
	defer func() { cancel(); loads.Wait() }()
	type result struct {
		b   openedBatch
		err error
	}
	ahead := make(chan chan result, batchesAhead) // loads in key order
	loads.Add(1)
	go func() {
		defer loads.Done()
		defer close(ahead)
		for _, key := range wanted {
			done := make(chan result, 1)
			select {
			case ahead <- done:
			case <-ctx.Done():
				return
			}
			loads.Add(1)
			go func() {
				defer loads.Done()
				b, err := a.open(ctx, patientID, key)
				done <- result{b, err}
			}()
		}
	}()
	for done := range ahead {
		r := <-done
		if r.err != nil {
			return r.err
		}
		if err := r.b.each(from, to, fn); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil { // the loads stop early only when ctx ends
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// BatchReadings calls fn with the accepted readings of one stored batch
// taken in [from, to).
func (a *Archive) BatchReadings(ctx context.Context, patientID, key string, from, to time.Time, fn func(StoredReading) error) error {
	b, err := a.open(ctx, patientID, key)
	if err != nil {
		return err
	}
	return b.each(from, to, fn)
}

// openedBatch is a stored batch, opened and decoded.
type openedBatch struct {
	batch mhealth.Batch
	skip  map[int]bool // rejected readings
}

func (a *Archive) open(ctx context.Context, patientID, key string) (openedBatch, error) {
	sb, err := a.Load(ctx, patientID, key)
	if err != nil {
		return openedBatch{}, err
	}
	b, err := mhealth.Decode(sb.Payload)
	if err != nil {
		return openedBatch{}, fmt.Errorf("%w: batch %s: %w", ErrTampered, key, err)
	}
	if b.PatientID != patientID {
		return openedBatch{}, fmt.Errorf("%w: batch %s belongs to another patient", ErrTampered, key)
	}
	skip := make(map[int]bool, len(sb.Rejected))
	for _, r := range sb.Rejected {
		skip[r.Index] = true
	}
	return openedBatch{batch: b, skip: skip}, nil
}

// each calls fn with the batch's accepted readings taken in [from, to).
func (o openedBatch) each(from, to time.Time, fn func(StoredReading) error) error {
	for i, r := range o.batch.Readings {
		t := r.TimeFrame.Begin()
		if o.skip[i] || t.Before(from) || !t.Before(to) {
			continue
		}
		if err := fn(StoredReading{Reading: r, DeviceID: o.batch.DeviceID, Seq: o.batch.Seq, Index: i}); err != nil {
			return err
		}
	}
	return nil
}
