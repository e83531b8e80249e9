package records

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/pep"
	"healthexchange/services/store/recordstore"
)

// PutRequest is one resource to store (see recordsv1.PutRecordRequest).
type PutRequest struct {
	PatientID, RecordID string
	Resource            []byte
	IdempotencyKey      string
	BaseVersion         int
	Purpose             string
}

// PutResult is the stored version.
type PutResult struct {
	Record   ledgerapi.Notarization
	Replayed bool
}

// maxIdempotencyKey bounds an idempotency key's length.
const maxIdempotencyKey = 128

// plan is what a put will store, decided once and kept (as an idempotency
// entry, in the object store) before anything else is written, so that a
// retry of a put that failed half-way stores the same version, not another.
type plan struct {
	// Request is a hash of the request, to tell a retry from another
	// request under the same key.
	Request        string    `json:"request"`
	RecordID       string    `json:"recordId"`
	PatientID      string    `json:"patientId"`
	Version        int       `json:"version"`
	SHA256         string    `json:"sha256"`
	PreviousSHA256 string    `json:"previousSha256,omitempty"`
	Category       string    `json:"category"`
	Author         string    `json:"author"`
	Created        time.Time `json:"created"`
	// Prescription is a MedicationRequest's fill terms, nil for every
	// other resource: the ledger enforces them at each dispense.
	Prescription *ledgerapi.FillTerms `json:"prescription,omitempty"`
	// Entry is the plan's own object key.
	Entry string `json:"entry"`
}

func (p plan) objectKey() string {
	return recordstore.VersionKey(p.PatientID, p.RecordID, p.Version, p.SHA256)
}

func (p plan) notarization() ledgerapi.Notarization {
	return ledgerapi.Notarization{
		RecordID: p.RecordID, PatientID: p.PatientID, SHA256: p.SHA256, Category: p.Category,
		Author: p.Author, Version: p.Version, PreviousSHA256: p.PreviousSHA256, Prescription: p.Prescription,
	}
}

func (r *PutRequest) validate() error {
	var errs []error
	errs = append(errs, ledgerapi.ValidateID("patient_id", r.PatientID))
	if r.RecordID != "" {
		errs = append(errs, ledgerapi.ValidateID("record_id", r.RecordID))
	}
	if n := len(r.IdempotencyKey); n > maxIdempotencyKey {
		errs = append(errs, fmt.Errorf("idempotency_key is longer than %d characters", maxIdempotencyKey))
	}
	for _, c := range r.IdempotencyKey {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) {
			errs = append(errs, errors.New("idempotency_key must be printable ASCII"))
			break
		}
	}
	if r.BaseVersion < 0 {
		errs = append(errs, errors.New("base_version must not be negative"))
	}
	if r.BaseVersion > 0 && r.RecordID == "" {
		errs = append(errs, errors.New("base_version is for an update: record_id is missing"))
	}
	if r.Purpose == "" {
		r.Purpose = defaultPurpose
	}
	errs = append(errs, ledgerapi.ValidatePurpose("purpose", r.Purpose))
	if len(r.Resource) == 0 {
		errs = append(errs, errors.New("resource is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Put stores a resource as a new record or a new version of one, filed by
// the caller's organisation (the ledger records it as the record's owner).
// The caller must be allowed to write the resource's category of the
// patient's records, and this service must file for their organisation. The sealed object is written first and the hash
// notarized last: the record exists once notarized. If the notarization is
// refused, the object is deleted; if its outcome is unknown (the ledger did
// not answer), the object stays, unlisted and unserved, for a retry with the
// same idempotency key to finish, or for the sweeper to remove.
func (s *Service) Put(ctx context.Context, p auth.Principal, req PutRequest) (PutResult, error) {
	ctx, span := tracer.Start(ctx, "put")
	defer span.End()
	if err := req.validate(); err != nil {
		return PutResult{}, err
	}
	res, err := fhir.Validate(req.Resource, req.PatientID)
	if err != nil {
		return PutResult{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// The filed bytes are what is sealed, served and notarized: nothing of
	// them is rewritten (a decimal's precision is part of its value).
	sum := fhir.Digest(req.Resource)
	var terms *ledgerapi.FillTerms
	if res.Type == "MedicationRequest" {
		rx, err := fhir.PrescriptionOf(req.Resource)
		if err != nil {
			return PutResult{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		t := rx.Terms()
		terms = &t
	}

	var latest *ledgerapi.Notarization
	if req.RecordID != "" {
		versions, err := s.history(ctx, req.PatientID, req.RecordID)
		if err != nil {
			return PutResult{}, err
		}
		latest = &versions[len(versions)-1]
		if latest.Category != res.Category {
			return PutResult{}, fmt.Errorf("%w: record %s is %s; a new version cannot make it %s (store a new record instead)",
				ErrInvalid, req.RecordID, latest.Category, res.Category)
		}
	}
	interaction := interactionCreate
	if req.RecordID != "" {
		interaction = interactionUpdate
	}
	if _, err := s.authorize(ctx, p, pep.Access{Action: actionWrite, Purpose: req.Purpose, ResourceType: res.Type, Interaction: interaction,
		PatientID: req.PatientID, Category: res.Category, RecordID: req.RecordID}); err != nil {
		return PutResult{}, err
	}
	filer, err := s.filerFor(p)
	if err != nil {
		return PutResult{}, err
	}
	if latest != nil {
		// The ledger knows the record's category, not its type: the
		// stored version tells (it is read here, checked against its
		// notarization, and never returned).
		stored, err := s.read(ctx, *latest)
		if err != nil {
			return PutResult{}, err
		}
		if typ, _ := fhir.ResourceTypeOf(stored); typ != res.Type {
			return PutResult{}, fmt.Errorf("%w: record %s is of type %s; a new version cannot change it to %s (store a new record instead)",
				ErrInvalid, req.RecordID, typ, res.Type)
		}
	}

	key := req.IdempotencyKey
	if key == "" {
		key = newEventID("put") // no retry can name it: a put of its own
	}
	entryKey := recordstore.IdempotencyKey(req.PatientID, p.Subject, key)
	unlock, err := s.locks.Lock(ctx, entryKey)
	if err != nil {
		return PutResult{}, err
	}
	defer unlock()

	requestHash := hashRequest(req, sum)
	pl, found, err := s.loadPlan(ctx, entryKey)
	if err != nil {
		return PutResult{}, err
	}
	if s.hooks != nil && s.hooks.afterPlanLookup != nil {
		s.hooks.afterPlanLookup()
	}
	if found && pl.Request != requestHash {
		return PutResult{}, fmt.Errorf("%w: a retry must repeat the request exactly", ErrIdempotencyKey)
	}
	if found {
		if done, ok, err := s.notarized(ctx, pl); err != nil {
			return PutResult{}, err
		} else if ok {
			return PutResult{Record: done, Replayed: true}, nil
		}
	} else {
		pl = plan{Request: requestHash, RecordID: req.RecordID, PatientID: req.PatientID, Version: 1,
			SHA256: sum, Category: res.Category, Author: p.Subject, Created: s.now().UTC(), Entry: entryKey,
			Prescription: terms}
		if latest == nil && req.IdempotencyKey != "" {
			// The same for every attempt under this key, at whichever
			// instance: two attempts racing at two instances plan the same
			// record, and the ledger notarizes it once.
			pl.RecordID = recordIDFor(entryKey)
		} else if latest == nil {
			pl.RecordID = newRecordID()
		} else {
			if req.BaseVersion != 0 && req.BaseVersion != latest.Version {
				return PutResult{}, fmt.Errorf("%w: record %s is at version %d, the update was made from version %d",
					ErrStale, req.RecordID, latest.Version, req.BaseVersion)
			}
			pl.Version, pl.PreviousSHA256 = latest.Version+1, latest.SHA256
		}
	}
	// Sealed before anything is written: a patient the vault refuses
	// (erased) leaves nothing behind.
	sealed, err := s.vault.Seal(ctx, pl.PatientID, pl.objectKey(), req.Resource)
	if err != nil {
		return PutResult{}, err
	}
	if !found {
		if err := s.savePlan(ctx, entryKey, pl); err != nil {
			return PutResult{}, err
		}
	}
	n, err := s.store(ctx, filer, pl, sealed)
	if err != nil {
		return PutResult{}, err
	}
	if s.notary != nil {
		s.notary.Committed(n)
	}
	s.log.InfoContext(ctx, "record stored", "record", n.RecordID, "version", n.Version, "patient", n.PatientID,
		"category", n.Category, "author", n.Author, "tx", n.TxID)
	return PutResult{Record: n}, nil
}

// store writes the sealed object of a plan and notarizes it with filer.
func (s *Service) store(ctx context.Context, filer Filer, pl plan, sealed []byte) (ledgerapi.Notarization, error) {
	if s.hooks != nil && s.hooks.beforeObjectPut != nil {
		s.hooks.beforeObjectPut()
	}
	if err := s.objects.Put(ctx, pl.objectKey(), sealed); err != nil {
		return ledgerapi.Notarization{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if s.hooks != nil && s.hooks.beforeNotarize != nil {
		s.hooks.beforeNotarize()
	}
	n, err := filer.Notarize(ctx, pl.notarization())
	if err == nil {
		return n, nil
	}
	// A refusal may hide an earlier attempt that did land (this version,
	// this hash): then the put is done.
	if done, ok, herr := s.notarized(context.WithoutCancel(ctx), pl); herr == nil && ok {
		return done, nil
	}
	if errors.Is(err, ledger.ErrRejected) {
		// Definitely not notarized, and never will be under this plan:
		// remove the object and the plan, so nothing is left behind.
		s.abandon(context.WithoutCancel(ctx), pl)
		if errors.Is(err, ledgerapi.ErrConflict) {
			return ledgerapi.Notarization{}, fmt.Errorf("%w: %w", ErrStale, err)
		}
		return ledgerapi.Notarization{}, err
	}
	// Unknown outcome: the object stays (deleting a version that may be
	// notarized would lose it); it is neither listed nor served unless it is.
	return ledgerapi.Notarization{}, err
}

// notarized returns the ledger's notarization of a plan's version if the
// ledger has it with the plan's hash.
func (s *Service) notarized(ctx context.Context, pl plan) (ledgerapi.Notarization, bool, error) {
	versions, err := s.ledger.RecordHistory(ctx, pl.RecordID)
	if errors.Is(err, ledgerapi.ErrNotFound) {
		return ledgerapi.Notarization{}, false, nil
	}
	if err != nil {
		return ledgerapi.Notarization{}, false, err
	}
	for _, v := range versions {
		if v.Version == pl.Version && v.SHA256 == pl.SHA256 && v.PatientID == pl.PatientID {
			return v, true, nil
		}
	}
	return ledgerapi.Notarization{}, false, nil
}

// abandon removes what a put that will never be notarized wrote: its
// object, then its plan (so a failure in between leaves a plan the sweeper
// finds).
func (s *Service) abandon(ctx context.Context, pl plan) {
	for _, key := range []string{pl.objectKey(), pl.Entry} {
		if err := s.objects.Delete(ctx, key); err != nil {
			s.log.WarnContext(ctx, "abandoned put not cleaned up; the sweeper will retry", "object", key, "err", err)
			return
		}
	}
}

// hashRequest identifies a put request, to tell its retries from another
// request under the same idempotency key.
func hashRequest(req PutRequest, resourceSHA256 string) string {
	h := sha256.New()
	for _, f := range []string{req.PatientID, req.RecordID, strconv.Itoa(req.BaseVersion), req.Purpose, resourceSHA256} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// maxPlanSize bounds what loadPlan reads.
const maxPlanSize = 4 << 10

// loadPlan reads the plan under an idempotency entry.
func (s *Service) loadPlan(ctx context.Context, entryKey string) (plan, bool, error) {
	raw, err := s.objects.Get(ctx, entryKey, maxPlanSize)
	if errors.Is(err, objectstore.ErrNotFound) {
		return plan{}, false, nil
	}
	if err != nil {
		return plan{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var pl plan
	if err := json.Unmarshal(raw, &pl); err != nil {
		return plan{}, false, fmt.Errorf("idempotency entry %s: %w", entryKey, err)
	}
	return pl, true, nil
}

func (s *Service) savePlan(ctx context.Context, entryKey string, pl plan) error {
	raw, err := json.Marshal(pl)
	if err != nil {
		return err
	}
	if err := s.objects.Put(ctx, entryKey, raw); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}
