package ingest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/merkle"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/pep"
	"healthexchange/services/store/readingstore"
	"healthexchange/wearables/mhealth"
)

// categoryVitals is the record category wearable readings are.
const categoryVitals = "vitals"

// defaultPurpose is the purpose of use when a request names none.
const defaultPurpose = "treatment"

// Limits of a read.
const (
	maxReadSpan  = 7 * 24 * time.Hour
	defaultLimit = 10000
	maxLimit     = 100000
)

// authorize asks the consent service, as the caller, to read the patient's
// vitals; see pep.Authorize.
func (s *Service) authorize(ctx context.Context, patientID, purpose string) error {
	p, _ := auth.FromContext(ctx)
	_, err := pep.Authorize(ctx, s.decider, p, pep.Access{Action: "read", Purpose: purpose, PatientID: patientID, Category: categoryVitals})
	return err
}

// ReadRequest selects readings (see ingestv1.ReadReadingsRequest).
type ReadRequest struct {
	PatientID, Kind string
	From, To        time.Time
	Purpose         string
	Limit           int
}

// StoredReading is a reading and where it is in its batch.
type StoredReading = readingstore.StoredReading

func (r *ReadRequest) validate() (kind mhealth.Kind, err error) {
	var errs []error
	errs = append(errs, ledgerapi.ValidateID("patient_id", r.PatientID))
	if r.Kind != "" {
		if kind, err = mhealth.ParseKind(r.Kind); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case r.From.IsZero() || r.To.IsZero():
		errs = append(errs, errors.New("from and to are required"))
	case !r.To.After(r.From):
		errs = append(errs, errors.New("to must be after from"))
	case r.To.Sub(r.From) > maxReadSpan:
		errs = append(errs, fmt.Errorf("from and to may be at most %v apart", maxReadSpan))
	}
	if r.Limit < 0 || r.Limit > maxLimit {
		errs = append(errs, fmt.Errorf("limit must be 0 to %d", maxLimit))
	}
	if r.Limit == 0 {
		r.Limit = defaultLimit
	}
	if r.Purpose == "" {
		r.Purpose = defaultPurpose
	}
	errs = append(errs, ledgerapi.ValidatePurpose("purpose", r.Purpose))
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return kind, nil
}

// Read returns a patient's readings of a kind (any kind when empty) taken
// in [From, To), oldest first, at most Limit (truncated reports more). It
// lists only the hours of the range and the hour before, and never returns a
// reading that was rejected when its batch was stored.
func (s *Service) Read(ctx context.Context, req ReadRequest) (out []StoredReading, truncated bool, err error) {
	ctx, span := tracer.Start(ctx, "read")
	defer span.End()
	kind, err := req.validate()
	if err != nil {
		return nil, false, err
	}
	if err := s.authorize(ctx, req.PatientID, req.Purpose); err != nil {
		return nil, false, err
	}
	first := req.From.UTC().Truncate(time.Hour).Add(-readingstore.MaxBatchSpan)
	for hour := first; hour.Before(req.To); hour = hour.Add(time.Hour) {
		keys, err := s.objects.List(ctx, readingstore.HourPrefix(req.PatientID, hour))
		if err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		for _, key := range keys {
			err := s.archive.BatchReadings(ctx, req.PatientID, key, req.From, req.To, func(r StoredReading) error {
				if kind == 0 || r.Kind == kind {
					out = append(out, r)
				}
				return nil
			})
			if err != nil {
				return nil, false, err
			}
		}
	}
	slices.SortStableFunc(out, func(a, b StoredReading) int { return a.Reading.TimeFrame.Begin().Compare(b.Reading.TimeFrame.Begin()) })
	if len(out) > req.Limit {
		out, truncated = out[:req.Limit], true
	}
	return out, truncated, nil
}

// ProofRequest names one reading (see ingestv1.GetProofRequest).
type ProofRequest struct {
	PatientID, DeviceID string
	Seq                 uint64
	Index               int
	Purpose             string
}

// Proof is what proves one reading untouched.
type Proof struct {
	Reading            StoredReading
	Payload, Signature []byte
	DevicePublicKey    string
	LeafIndex          int
	Path               []string
	Anchor             ledgerapi.RootAnchor
}

// GetProof returns a reading with its signed batch, the batch's inclusion
// path and the ledger's anchor of the root, after checking all of it here
// too: a proof that does not verify is ErrTampered, never handed out. A
// batch whose anchor is not on the ledger yet is ErrNotAnchored.
func (s *Service) GetProof(ctx context.Context, req ProofRequest) (Proof, error) {
	ctx, span := tracer.Start(ctx, "proof")
	defer span.End()
	if req.Purpose == "" {
		req.Purpose = defaultPurpose
	}
	var indexErr error
	if req.Index < 0 || req.Index >= mhealth.MaxReadings {
		indexErr = fmt.Errorf("index must be 0 to %d", mhealth.MaxReadings-1)
	}
	if err := errors.Join(ledgerapi.ValidateID("patient_id", req.PatientID), ledgerapi.ValidateID("device_id", req.DeviceID),
		ledgerapi.ValidatePurpose("purpose", req.Purpose), indexErr); err != nil {
		return Proof{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := s.authorize(ctx, req.PatientID, req.Purpose); err != nil {
		return Proof{}, err
	}
	raw, err := s.objects.Get(ctx, readingstore.ProofKey(req.PatientID, req.DeviceID, req.Seq), 1<<20)
	if errors.Is(err, objectstore.ErrNotFound) {
		return Proof{}, fmt.Errorf("%w: batch %d of device %s (or no such batch)", ErrNotAnchored, req.Seq, req.DeviceID)
	}
	if err != nil {
		return Proof{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var p pointer
	if err := json.Unmarshal(raw, &p); err != nil {
		return Proof{}, fmt.Errorf("%w: proof of batch %d of device %s: %w", ErrTampered, req.Seq, req.DeviceID, err)
	}
	sb, err := s.archive.Load(ctx, req.PatientID, p.BatchKey)
	if err != nil {
		return Proof{}, err
	}
	if sum := sha256.Sum256(sb.Payload); hex.EncodeToString(sum[:]) != p.SHA256 {
		return Proof{}, fmt.Errorf("%w: batch %d of device %s does not hash to its anchored leaf", ErrTampered, req.Seq, req.DeviceID)
	}
	dev, err := s.ledger.Device(ctx, req.DeviceID)
	if err != nil {
		return Proof{}, err
	}
	pub, err := base64.StdEncoding.DecodeString(dev.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return Proof{}, fmt.Errorf("%w: device %s has no usable key on the ledger", ErrTampered, req.DeviceID)
	}
	b, err := mhealth.Verify(ed25519.PublicKey(pub), sb.Payload, sb.Signature)
	if err != nil || b.DeviceID != req.DeviceID || b.PatientID != req.PatientID || b.Seq != req.Seq {
		return Proof{}, fmt.Errorf("%w: batch %d of device %s is not the one the device signed", ErrTampered, req.Seq, req.DeviceID)
	}
	if req.Index >= len(b.Readings) || slices.ContainsFunc(sb.Rejected, func(r Rejection) bool { return r.Index == req.Index }) {
		return Proof{}, fmt.Errorf("%w: batch %d of device %s has no kept reading %d", ErrNotFound, req.Seq, req.DeviceID, req.Index)
	}
	a, err := s.ledger.RootAnchorOf(ctx, p.AnchorID)
	if errors.Is(err, ledgerapi.ErrNotFound) {
		return Proof{}, fmt.Errorf("%w: anchor %s", ErrNotAnchored, p.AnchorID)
	}
	if err != nil {
		return Proof{}, err
	}
	if err := verifyPath(p, a); err != nil {
		return Proof{}, fmt.Errorf("%w: batch %d of device %s: %w", ErrTampered, req.Seq, req.DeviceID, err)
	}
	return Proof{
		Reading: StoredReading{Reading: b.Readings[req.Index], DeviceID: b.DeviceID, Seq: b.Seq, Index: req.Index},
		Payload: sb.Payload, Signature: sb.Signature, DevicePublicKey: dev.PublicKey,
		LeafIndex: p.LeafIndex, Path: p.Path, Anchor: a,
	}, nil
}

// verifyPath checks a pointer's path against the anchor on the ledger.
func verifyPath(p pointer, a ledgerapi.RootAnchor) error {
	leaf, err := leafOf(p.SHA256)
	if err != nil {
		return err
	}
	root, err := merkle.ParseHash(a.Root)
	if err != nil {
		return err
	}
	proof := merkle.Proof{Index: p.LeafIndex, Size: p.Size, Path: make([]merkle.Hash, len(p.Path))}
	for i, h := range p.Path {
		if proof.Path[i], err = merkle.ParseHash(h); err != nil {
			return err
		}
	}
	return proof.Verify(leaf, root, a.Size)
}
