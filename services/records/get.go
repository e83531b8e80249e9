package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/pep"
	"healthexchange/services/store/recordstore"
)

// defaultPurpose is the purpose of use when a request names none.
const defaultPurpose = "treatment"

// GetRequest names a record version to read (see recordsv1.GetRecordRequest).
type GetRequest struct {
	PatientID, RecordID string
	Version             int
	Purpose, BreakGlass string
}

// GetResult is a verified record.
type GetResult struct {
	Record       ledgerapi.Notarization
	Resource     []byte // exactly as filed; its SHA-256 is Record.SHA256
	ResourceType string
	Obligations  []string
}

func (r *GetRequest) validate() error {
	var errs []error
	errs = append(errs, ledgerapi.ValidateID("patient_id", r.PatientID), ledgerapi.ValidateID("record_id", r.RecordID))
	if r.Version < 0 {
		errs = append(errs, errors.New("version must not be negative (0 is the latest)"))
	}
	if r.Purpose == "" {
		r.Purpose = defaultPurpose
	}
	errs = append(errs, ledgerapi.ValidatePurpose("purpose", r.Purpose))
	if len(r.BreakGlass) > 500 {
		errs = append(errs, errors.New("break_glass_reason is longer than 500 bytes"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Get returns a version of a record if the consent service allows the
// caller to read it, after checking that what storage returned decrypts,
// under this patient and this object key, to exactly the notarized hash.
// Anything else is ErrTampered, with an alarm (see tamperAlarm); a record
// of an erased patient is ErrErased.
func (s *Service) Get(ctx context.Context, p auth.Principal, req GetRequest) (GetResult, error) {
	ctx, span := tracer.Start(ctx, "get")
	defer span.End()
	if err := req.validate(); err != nil {
		return GetResult{}, err
	}
	versions, err := s.viewedHistory(ctx, req.PatientID, req.RecordID)
	if err != nil {
		return GetResult{}, err
	}
	v := versions[len(versions)-1]
	if req.Version != 0 {
		if req.Version > v.Version {
			return GetResult{}, fmt.Errorf("%w: record %s has no version %d (the latest is %d)", ErrNotFound, req.RecordID, req.Version, v.Version)
		}
		v = versions[req.Version-1]
	}
	obligations, err := s.authorize(ctx, p, pep.Access{Action: actionRead, Purpose: req.Purpose, BreakGlass: req.BreakGlass,
		ResourceType: fhirType(ctx), Interaction: interactionRead,
		PatientID: req.PatientID, Category: v.Category, RecordID: req.RecordID})
	if err != nil {
		return GetResult{}, err
	}
	if s.hooks != nil && s.hooks.afterAuthorize != nil {
		if err := s.hooks.afterAuthorize(); err != nil {
			return GetResult{}, err
		}
	}
	plaintext, err := s.read(ctx, v)
	if errors.Is(err, ErrTampered) {
		return GetResult{}, s.tamperAlarm(ctx, p, req.Purpose, v, err)
	}
	if err != nil {
		return GetResult{}, err
	}
	// Validated in full when filed; it hashed right, so it was stored like
	// this, and an error now is not tampering.
	res, err := fhir.Inspect(plaintext, req.PatientID)
	if err != nil {
		return GetResult{}, fmt.Errorf("record %s version %d: stored resource no longer validates: %w", v.RecordID, v.Version, err)
	}
	s.log.InfoContext(ctx, "record served", "record", v.RecordID, "version", v.Version, "patient", v.PatientID,
		"subject", p.Subject, "purpose", req.Purpose)
	return GetResult{Record: v, Resource: plaintext, ResourceType: res.Type, Obligations: obligations}, nil
}

// read fetches, opens and checks one version (see Archive.Read).
func (s *Service) read(ctx context.Context, v ledgerapi.Notarization) ([]byte, error) {
	return recordstore.NewArchive(s.objects, s.vault).Read(ctx, v)
}

// history returns a record's versions if it is the patient's; a record of
// another patient is not found, as an unknown one is.
// viewedHistory is history from the notary view when it is live and knows
// the record, else from the ledger.
func (s *Service) viewedHistory(ctx context.Context, patientID, recordID string) ([]ledgerapi.Notarization, error) {
	if s.notary != nil {
		if versions, ok := s.notary.History(recordID); ok {
			if versions[0].PatientID != patientID {
				return nil, fmt.Errorf("%w: patient %s has no record %s", ErrNotFound, patientID, recordID)
			}
			return versions, nil
		}
	}
	return s.history(ctx, patientID, recordID)
}

func (s *Service) history(ctx context.Context, patientID, recordID string) ([]ledgerapi.Notarization, error) {
	versions, err := s.ledger.RecordHistory(ctx, recordID)
	if errors.Is(err, ledgerapi.ErrNotFound) || (err == nil && (len(versions) == 0 || versions[0].PatientID != patientID)) {
		return nil, fmt.Errorf("%w: patient %s has no record %s", ErrNotFound, patientID, recordID)
	}
	if err != nil {
		return nil, err
	}
	return versions, nil
}

// serviceActor is how the records service names itself in the access log,
// for what it does on its own (an integrity check that failed).
const serviceActor = "records-service"

// tamperAlarm raises the alarm for a record that failed its integrity
// check: an error-level log entry, and an access event on the ledger (the
// records service's own: a verify denied, code tamper-detected, written by
// the service's organisation), so the patient sees it in their access log.
// It returns the error the caller gets.
func (s *Service) tamperAlarm(ctx context.Context, p auth.Principal, purpose string, v ledgerapi.Notarization, cause error) error {
	s.log.ErrorContext(ctx, "TAMPER ALARM: stored record does not match its notarization; not served",
		"record", v.RecordID, "version", v.Version, "patient", v.PatientID, "notarized_sha256", v.SHA256,
		"subject", p.Subject, "err", cause)
	event := ledgerapi.AccessEvent{
		EventID: newEventID("tamper"), Actor: serviceActor, ActorRole: ledgerapi.RoleService, ActorOrg: s.ledger.MSPID(),
		PatientID: v.PatientID, Action: ledgerapi.ActionVerify, Resource: "record/" + v.RecordID, Purpose: purpose,
		Decision: ledgerapi.DecisionDeny, ReasonCodes: []string{"tamper-detected"}, Time: ledgerapi.FormatTime(s.now()),
	}
	ctx = context.WithoutCancel(ctx)
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if _, err = s.ledger.AppendAccessEvents(ctx, []ledgerapi.AccessEvent{event}); err == nil {
			break
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "TAMPER ALARM: the alarm's access event could not be recorded", "event", event.EventID, "err", err)
	}
	return fmt.Errorf("record %s version %d: %w", v.RecordID, v.Version, cause)
}
