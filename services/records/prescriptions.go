package records

import (
	"context"
	"errors"
	"fmt"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/pep"
)

// Dispenser is the ledger client a pharmacy records its dispenses with.
type Dispenser interface {
	Dispense(ctx context.Context, recordID, sha256Hex, pharmacistID string, quantity int) (ledgerapi.Dispense, error)
}

// categoryPrescriptions is the category of prescriptions.
const categoryPrescriptions = "prescriptions"

// PrescriptionCheck is what VerifyPrescription found: the notary's answer,
// the prescriber, the prescription's own terms and the ledger's count of
// fills. Fillable is true only when Problems is empty.
type PrescriptionCheck struct {
	Notarized            bool
	Version, Latest      int
	SHA256               string
	PatientID            string
	PrescriberOrg        string
	PrescriberName       string
	PrescriberRegistered bool
	Status, Intent       string
	ValidUntil           string
	Fills, Dispensed     int
	Fillable             bool
	Problems             []string
}

// prescription returns the versions of a record that must be a
// prescription, and asks whether p may use it for dispensing (the decision
// is an access event in the patient's log).
func (s *Service) prescription(ctx context.Context, p auth.Principal, recordID string) ([]ledgerapi.Notarization, error) {
	versions, err := s.ledger.RecordHistory(ctx, recordID)
	if errors.Is(err, ledgerapi.ErrNotFound) || err == nil && len(versions) == 0 {
		return nil, fmt.Errorf("%w: record %s is not notarized", ErrNotFound, recordID)
	}
	if err != nil {
		return nil, err
	}
	latest := versions[len(versions)-1]
	if _, err := s.authorize(ctx, p, pep.Access{Action: actionRead, Purpose: ledgerapi.PurposeDispensing,
		PatientID: latest.PatientID, Category: latest.Category, RecordID: recordID}); err != nil {
		return nil, err
	}
	if latest.Category != categoryPrescriptions {
		return nil, fmt.Errorf("%w: record %s is not a prescription", ErrInvalid, recordID)
	}
	return versions, nil
}

// VerifyPrescription checks a prescription a pharmacist holds: its bytes
// against the notary, its prescriber, its status and validity, and the
// fills the ledger allows and has recorded. Bytes that match no version are
// not read at all: only a notarized version, validated when it was filed,
// is parsed.
func (s *Service) VerifyPrescription(ctx context.Context, p auth.Principal, recordID string, resource []byte) (PrescriptionCheck, error) {
	ctx, span := tracer.Start(ctx, "verify-prescription")
	defer span.End()
	var sizeErr error
	switch {
	case len(resource) == 0:
		sizeErr = errors.New("resource is required")
	case len(resource) > fhir.MaxResourceBytes:
		sizeErr = fmt.Errorf("resource is larger than %d bytes", fhir.MaxResourceBytes)
	}
	if err := errors.Join(ledgerapi.ValidateID("record_id", recordID), sizeErr); err != nil {
		return PrescriptionCheck{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	versions, err := s.prescription(ctx, p, recordID)
	if err != nil {
		return PrescriptionCheck{}, err
	}
	latest := versions[len(versions)-1]
	c := PrescriptionCheck{SHA256: fhir.Digest(resource), Latest: latest.Version, PatientID: latest.PatientID}
	var match *ledgerapi.Notarization
	for i := range versions {
		if versions[i].SHA256 == c.SHA256 {
			match = &versions[i]
		}
	}
	if match == nil {
		c.Problems = append(c.Problems, "the bytes match no notarized version of the prescription: they are not what the prescriber filed")
		return c, nil
	}
	c.Notarized, c.Version = true, match.Version
	c.PrescriberOrg = match.Org
	if o, ok := ledgerapi.OrganisationOf(match.Org); ok {
		c.PrescriberName, c.PrescriberRegistered = o.Name, o.Kind == ledgerapi.OrgHospital
	}
	if !c.PrescriberRegistered {
		c.Problems = append(c.Problems, fmt.Sprintf("filed by %s, which is not a hospital of the exchange", match.Org))
	}
	if match.Version != latest.Version {
		c.Problems = append(c.Problems, fmt.Sprintf("version %d is superseded by version %d", match.Version, latest.Version))
	}
	rx, err := fhir.PrescriptionOf(resource)
	if err != nil {
		c.Problems = append(c.Problems, "it is not a MedicationRequest a pharmacy can fill")
		return c, nil
	}
	c.Status, c.Intent = rx.Status, rx.Intent
	if !rx.ValidUntil.IsZero() {
		c.ValidUntil = ledgerapi.FormatTime(rx.ValidUntil.UTC())
	}
	if err := rx.Fillable(s.now()); err != nil {
		c.Problems = append(c.Problems, err.Error())
	}
	done, err := s.ledger.Dispenses(ctx, recordID)
	if err != nil {
		return PrescriptionCheck{}, err
	}
	c.Dispensed = len(done)
	switch t := latest.Prescription; {
	case t == nil:
		c.Problems = append(c.Problems, "it was notarized without fill terms: the ledger will not record a dispense")
	case t.Fills == 0:
		c.Problems = append(c.Problems, fmt.Sprintf("the ledger allows no fill of version %d", latest.Version))
	default:
		c.Fills = t.Fills
		if c.Dispensed >= t.Fills {
			c.Problems = append(c.Problems, fmt.Sprintf("all %d fill(s) are dispensed", t.Fills))
		}
	}
	c.Fillable = len(c.Problems) == 0
	return c, nil
}

// Dispense records one fill of the latest version of a prescription (the
// version whose hash is sha256), as the caller's pharmacy. The consent
// service decides first (and logs it); the chaincode then checks the
// consent, the terms and the fills again, and is the one that counts.
func (s *Service) Dispense(ctx context.Context, p auth.Principal, recordID, sha256Hex string, quantity int) (ledgerapi.Dispense, error) {
	ctx, span := tracer.Start(ctx, "dispense")
	defer span.End()
	var errs []error
	errs = append(errs, ledgerapi.ValidateID("record_id", recordID))
	if !hexHash.MatchString(sha256Hex) {
		errs = append(errs, errors.New("sha256 must be 64 lower-case hex digits"))
	}
	if quantity < 1 || quantity > ledgerapi.MaxDispenseQuantity {
		errs = append(errs, fmt.Errorf("quantity must be between 1 and %d", ledgerapi.MaxDispenseQuantity))
	}
	if err := errors.Join(errs...); err != nil {
		return ledgerapi.Dispense{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := s.prescription(ctx, p, recordID); err != nil {
		return ledgerapi.Dispense{}, err
	}
	d, ok := s.dispensers[p.Org]
	if !ok {
		return ledgerapi.Dispense{}, &DeniedError{Reasons: []string{fmt.Sprintf("this records service does not dispense for organisation %q", p.Org)}}
	}
	return d.Dispense(ctx, recordID, sha256Hex, p.Subject, quantity)
}
