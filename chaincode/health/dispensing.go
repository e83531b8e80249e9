package health

import (
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Dispensing records the fills of prescriptions, so that a prescription is
// filled no more often than it allows, by whichever pharmacy of the
// exchange. A dispense holds the record id, the fill number and a quantity,
// never what was dispensed.
type Dispensing struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Dispensing) GetEvaluateTransactions() []string { return []string{"Dispenses"} }

// pharmacies are the organisations of kind pharmacy: only they dispense.
var pharmacies = orgsOfKind(ledgerapi.OrgPharmacy)

func orgsOfKind(kind string) []string {
	var out []string
	for _, o := range ledgerapi.Organisations {
		if o.Kind == kind {
			out = append(out, o.MSPID)
		}
	}
	return out
}

// Dispense records one fill of a prescription by the submitting pharmacy's
// pharmacist pharmacistID. It is refused unless:
//   - the caller is a pharmacy of the exchange;
//   - sha256 is the hash of the prescription's latest version (a superseded
//     version cannot be filled), notarized with fill terms
//     (notary:NotarizePrescription) that allow a fill and have not expired;
//   - the patient is registered, not erased, and has a consent in force that
//     lets the pharmacist (or the whole pharmacy) use the record's category
//     for the purpose dispensing;
//   - fewer dispenses of the record are on the ledger, from any pharmacy,
//     than its terms allow.
//
// Two pharmacies filling the last fill at once write the same key: Fabric
// keeps one and invalidates the other.
func (*Dispensing) Dispense(ctx contractapi.TransactionContextInterface, recordID, sha256, pharmacistID string, quantity int) (*ledgerapi.Dispense, error) {
	mspID, err := authorize(ctx, pharmacies)
	if err != nil {
		return nil, err
	}
	var quantityErr error
	if quantity < 1 || quantity > ledgerapi.MaxDispenseQuantity {
		quantityErr = fmt.Errorf("%w: quantity must be between 1 and %d", ledgerapi.ErrInvalid, ledgerapi.MaxDispenseQuantity)
	}
	if err := errors.Join(
		ledgerapi.ValidateID("recordId", recordID),
		ledgerapi.ValidateHash("sha256", sha256),
		ledgerapi.ValidateID("pharmacistId", pharmacistID),
		quantityErr,
	); err != nil {
		return nil, err
	}
	versions, err := notarizedVersions(ctx, recordID)
	if err != nil {
		return nil, err
	}
	latest := versions[len(versions)-1]
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	terms, err := fillable(latest, versions, sha256, now)
	if err != nil {
		return nil, err
	}
	if err := ensureNotErased(ctx, latest.PatientID); err != nil {
		return nil, err
	}
	consents, err := scan(ctx, consentsByPatient, []string{latest.PatientID}, loader[ledgerapi.Consent](ctx, consentType))
	if err != nil {
		return nil, err
	}
	r := request{subjectID: pharmacistID, subjectOrg: mspID, category: latest.Category,
		purpose: ledgerapi.PurposeDispensing, recordID: recordID, at: now}
	decision, err := r.decide(consents)
	if err != nil {
		return nil, err
	}
	if !decision.Allowed {
		return nil, fmt.Errorf("%w: patient %s does not let %s of %s dispense record %s: %s",
			ledgerapi.ErrForbidden, latest.PatientID, pharmacistID, mspID, recordID, decision.Reason)
	}
	done, err := dispenses(ctx, recordID)
	if err != nil {
		return nil, err
	}
	if len(done) >= terms.Fills {
		return nil, fmt.Errorf("%w: prescription %s allows %d fill(s) and %d are dispensed (the last by %s on %s)",
			ledgerapi.ErrConflict, recordID, terms.Fills, len(done), done[len(done)-1].Org, done[len(done)-1].Timestamp)
	}
	d := &ledgerapi.Dispense{
		RecordID:   recordID,
		PatientID:  latest.PatientID,
		Version:    latest.Version,
		SHA256:     sha256,
		Fill:       len(done) + 1,
		Fills:      terms.Fills,
		Quantity:   quantity,
		Org:        mspID,
		Pharmacist: pharmacistID,
		ConsentID:  decision.ConsentID,
		TxID:       ctx.GetStub().GetTxID(),
		Timestamp:  ledgerapi.FormatTime(now),
	}
	k, err := key(ctx, dispenseType, recordID, versionAttr(d.Fill))
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, k, d); err != nil {
		return nil, err
	}
	if err := emit(ctx, EventPrescriptionDispensed, d); err != nil {
		return nil, err
	}
	return d, nil
}

// EventPrescriptionDispensed announces a dispense; its payload is the
// Dispense.
const EventPrescriptionDispensed = "PrescriptionDispensed"

// fillable returns the terms of the latest version of a prescription when
// sha256 names that version and its terms allow a fill at now.
func fillable(latest ledgerapi.Notarization, versions []ledgerapi.Notarization, sha256 string, now time.Time) (*ledgerapi.FillTerms, error) {
	if latest.Category != CategoryPrescriptions {
		return nil, fmt.Errorf("%w: record %s is not a prescription (category %s)", ledgerapi.ErrInvalid, latest.RecordID, latest.Category)
	}
	if latest.SHA256 != sha256 {
		for _, v := range versions {
			if v.SHA256 == sha256 {
				return nil, fmt.Errorf("%w: version %d of prescription %s is superseded by version %d", ledgerapi.ErrConflict, v.Version, latest.RecordID, latest.Version)
			}
		}
		return nil, fmt.Errorf("%w: the hash matches no version of prescription %s", ledgerapi.ErrConflict, latest.RecordID)
	}
	terms := latest.Prescription
	switch {
	case terms == nil:
		return nil, fmt.Errorf("%w: prescription %s was notarized without fill terms: it cannot be dispensed", ledgerapi.ErrConflict, latest.RecordID)
	case terms.Fills == 0:
		return nil, fmt.Errorf("%w: prescription %s is not active (version %d allows no fill)", ledgerapi.ErrConflict, latest.RecordID, latest.Version)
	}
	if terms.ValidUntil != "" {
		end, err := ledgerapi.ParseTime("validUntil", terms.ValidUntil)
		if err != nil {
			return nil, err
		}
		if !now.Before(end) {
			return nil, fmt.Errorf("%w: prescription %s expired at %s", ledgerapi.ErrConflict, latest.RecordID, terms.ValidUntil)
		}
	}
	return terms, nil
}

// Dispenses returns the dispenses of a prescription, first fill first.
func (*Dispensing) Dispenses(ctx contractapi.TransactionContextInterface, recordID string) ([]ledgerapi.Dispense, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("recordId", recordID); err != nil {
		return nil, err
	}
	return dispenses(ctx, recordID)
}

func dispenses(ctx contractapi.TransactionContextInterface, recordID string) ([]ledgerapi.Dispense, error) {
	return scan(ctx, dispenseType, []string{recordID}, decode[ledgerapi.Dispense])
}
