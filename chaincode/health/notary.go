package health

import (
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Notary holds the hashes of the versions of records kept off the ledger, so
// anyone can prove a record was not altered.
type Notary struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Notary) GetEvaluateTransactions() []string {
	return []string{"Verify", "History", "ListByPatient", "FindByHash"}
}

// Notarize records the hash of a version of a record, filed by the
// submitting organisation (its MSP and client identity are recorded; there
// is no author argument to lie with). Version 1 starts the chain with an
// empty previousSha256; version n>1 must directly follow the latest version
// of the same patient's record, of the same category, and name its hash.
//
// Records belong to the organisation that filed them: the patient must be
// registered and not erased; version 1 needs a consent of the patient, in
// force now, that lets the submitting organisation write the category (see
// writeConsent); a later version comes from the organisation that filed
// version 1, or from another that holds such a consent. The version also
// replaces the previous one as the record's latest in ListByPatient.
func (*Notary) Notarize(ctx contractapi.TransactionContextInterface, recordID, patientID, sha256, category string, version int, previousSHA256 string) (*ledgerapi.Notarization, error) {
	return notarize(ctx, recordID, patientID, sha256, category, version, previousSHA256, nil)
}

// NotarizePrescription is Notarize for a version of a prescription (category
// prescriptions) with the fill terms the filing organisation read from it:
// how many dispenses it allows in all (0 when it is no longer active) and
// until when. Only a prescription notarized this way can be dispensed, and
// a dispense must name its latest version, so a new version (a change, a
// cancellation) replaces the terms of the one before.
func (*Notary) NotarizePrescription(ctx contractapi.TransactionContextInterface, recordID, patientID, sha256 string, version int, previousSHA256 string, fills int, validUntil string) (*ledgerapi.Notarization, error) {
	terms := &ledgerapi.FillTerms{Fills: fills, ValidUntil: validUntil}
	if err := terms.Validate(); err != nil {
		return nil, err
	}
	if validUntil != "" {
		t, _ := ledgerapi.ParseTime("validUntil", validUntil)
		terms.ValidUntil = ledgerapi.FormatTime(t)
	}
	return notarize(ctx, recordID, patientID, sha256, CategoryPrescriptions, version, previousSHA256, terms)
}

// CategoryPrescriptions is the category of prescriptions, the records a
// pharmacy dispenses.
const CategoryPrescriptions = "prescriptions"

func notarize(ctx contractapi.TransactionContextInterface, recordID, patientID, sha256, category string, version int, previousSHA256 string, terms *ledgerapi.FillTerms) (*ledgerapi.Notarization, error) {
	mspID, err := authorize(ctx, members)
	if err != nil {
		return nil, err
	}
	author, err := callerName(ctx)
	if err != nil {
		return nil, err
	}
	var versionErr, previousErr error
	if version < 1 {
		versionErr = fmt.Errorf("%w: version must be at least 1", ledgerapi.ErrInvalid)
	}
	if previousSHA256 != "" {
		previousErr = ledgerapi.ValidateHash("previousSha256", previousSHA256)
	}
	if err := errors.Join(
		ledgerapi.ValidateID("recordId", recordID),
		ledgerapi.ValidateID("patientId", patientID),
		ledgerapi.ValidateHash("sha256", sha256),
		ledgerapi.ValidateCategory("category", category),
		versionErr,
		previousErr,
	); err != nil {
		return nil, err
	}
	if _, err := load[ledgerapi.Patient](ctx, patientType, patientID); err != nil {
		return nil, err
	}
	if err := ensureNotErased(ctx, patientID); err != nil {
		return nil, err
	}
	versions, err := notarizations(ctx, recordID)
	if err != nil {
		return nil, err
	}
	n := &ledgerapi.Notarization{
		RecordID:       recordID,
		PatientID:      patientID,
		SHA256:         sha256,
		Category:       category,
		Org:            mspID,
		Author:         author,
		Version:        version,
		PreviousSHA256: previousSHA256,
		TxID:           ctx.GetStub().GetTxID(),
		Prescription:   terms,
	}
	if err := follows(n, versions); err != nil {
		return nil, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 || versions[0].Org != mspID {
		if err := writeConsent(ctx, patientID, mspID, category, recordID, now); err != nil {
			return nil, err
		}
	}
	n.Timestamp = ledgerapi.FormatTime(now)
	k, err := key(ctx, notarizationType, recordID, versionAttr(version))
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, k, n); err != nil {
		return nil, err
	}
	latest, err := key(ctx, latestNotarizationType, patientID, recordID)
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, latest, n); err != nil {
		return nil, err
	}
	byHash, err := key(ctx, notarizationsByHash, sha256, recordID, versionAttr(version))
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, byHash, n); err != nil {
		return nil, err
	}
	if err := emit(ctx, EventRecordNotarized, n); err != nil {
		return nil, err
	}
	return n, nil
}

// EventRecordNotarized announces a notarized version; its payload is the
// Notarization. The records service keeps its view of the notary from these.
const EventRecordNotarized = "RecordNotarized"

// follows checks that n is the next link of a record's chain of versions.
func follows(n *ledgerapi.Notarization, versions []ledgerapi.Notarization) error {
	if len(versions) == 0 {
		if n.Version != 1 || n.PreviousSHA256 != "" {
			return fmt.Errorf("%w: record %s has no version yet: the first must be version 1 with an empty previousSha256", ledgerapi.ErrConflict, n.RecordID)
		}
		return nil
	}
	latest := versions[len(versions)-1]
	switch {
	case n.Version != latest.Version+1:
		return fmt.Errorf("%w: record %s is at version %d: the next must be version %d", ledgerapi.ErrConflict, n.RecordID, latest.Version, latest.Version+1)
	case n.PreviousSHA256 != latest.SHA256:
		return fmt.Errorf("%w: previousSha256 must be the hash of version %d of record %s", ledgerapi.ErrConflict, latest.Version, n.RecordID)
	case n.PatientID != latest.PatientID:
		return fmt.Errorf("%w: record %s belongs to another patient", ledgerapi.ErrConflict, n.RecordID)
	case n.Category != latest.Category:
		return fmt.Errorf("%w: record %s is of category %s; a version cannot change it", ledgerapi.ErrConflict, n.RecordID, latest.Category)
	}
	return nil
}

// WritePurpose is the purpose a consent must allow for its grantee
// organisation to file records: care.
const WritePurpose = "treatment"

// writeConsent checks that the patient lets the organisation file records of
// the category (the record recordID among them) at t: an active consent to
// org:<mspID>, in force at t, covering the category and the purpose
// treatment, for every record or naming this one. A consent to a user, or
// to a study, never lets anyone file records.
func writeConsent(ctx contractapi.TransactionContextInterface, patientID, mspID, category, recordID string, t time.Time) error {
	consents, err := scan(ctx, consentsByPatient, []string{patientID}, loader[ledgerapi.Consent](ctx, consentType))
	if err != nil {
		return err
	}
	r := request{subjectOrg: mspID, category: category, purpose: WritePurpose, recordID: recordID, at: t}
	closest := fmt.Sprintf("no consent of patient %s is given to organisation %s", patientID, mspID)
	best := -1
	for i := range consents {
		c := &consents[i]
		if c.Grantee.Kind != ledgerapi.GranteeOrg || c.Grantee.ID != mspID {
			continue
		}
		reason, covers, err := r.denial(c)
		if err != nil {
			return err
		}
		if reason == "" {
			return nil
		}
		if covers > best {
			closest, best = reason, covers
		}
	}
	return fmt.Errorf("%w: organisation %s may not file %s records of patient %s: %s",
		ledgerapi.ErrForbidden, mspID, category, patientID, closest)
}

// Verify reports whether a hash matches a notarized version of a record.
func (*Notary) Verify(ctx contractapi.TransactionContextInterface, recordID, sha256 string) (*ledgerapi.VerifyResult, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := errors.Join(
		ledgerapi.ValidateID("recordId", recordID),
		ledgerapi.ValidateHash("sha256", sha256),
	); err != nil {
		return nil, err
	}
	versions, err := notarizedVersions(ctx, recordID)
	if err != nil {
		return nil, err
	}
	latest := versions[len(versions)-1]
	for i := len(versions) - 1; i >= 0; i-- {
		if v := versions[i]; v.SHA256 == sha256 {
			reason := fmt.Sprintf("matches version %d, the latest", v.Version)
			if v.Version != latest.Version {
				reason = fmt.Sprintf("matches version %d; the latest is version %d", v.Version, latest.Version)
			}
			return &ledgerapi.VerifyResult{Match: true, Notarization: v, Reason: reason}, nil
		}
	}
	return &ledgerapi.VerifyResult{
		Notarization: latest,
		Reason:       fmt.Sprintf("matches no notarized version of record %s; the latest is version %d", recordID, latest.Version),
	}, nil
}

// History returns every notarized version of a record, oldest first.
func (*Notary) History(ctx contractapi.TransactionContextInterface, recordID string) ([]ledgerapi.Notarization, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("recordId", recordID); err != nil {
		return nil, err
	}
	return notarizedVersions(ctx, recordID)
}

// ListByPatient returns one page of the latest notarized version of each of a
// patient's records, in recordId order. A patient without notarized records,
// registered or not, has an empty list.
func (*Notary) ListByPatient(ctx contractapi.TransactionContextInterface, patientID string, pageSize int, bookmark string) (*ledgerapi.NotarizationPage, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, err
	}
	items, next, err := pageOf(ctx, latestNotarizationType, []string{patientID}, pageSize, bookmark, decode[ledgerapi.Notarization])
	if err != nil {
		return nil, err
	}
	return &ledgerapi.NotarizationPage{Items: items, Bookmark: next, Count: len(items)}, nil
}

// FindByHash returns the notarized versions whose hash is sha256, of any
// record, in recordId then version order: the first maxPageSize of them (the
// same content notarized as more records than that is not a real case). None
// is an empty list, not an error: "this hash was never notarized" is the
// answer.
func (*Notary) FindByHash(ctx contractapi.TransactionContextInterface, sha256 string) ([]ledgerapi.Notarization, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateHash("sha256", sha256); err != nil {
		return nil, err
	}
	items, _, err := pageOf(ctx, notarizationsByHash, []string{sha256}, maxPageSize, "", decode[ledgerapi.Notarization])
	return items, err
}

// notarizations returns the versions of a record, oldest first.
func notarizations(ctx contractapi.TransactionContextInterface, recordID string) ([]ledgerapi.Notarization, error) {
	return scan(ctx, notarizationType, []string{recordID}, decode[ledgerapi.Notarization])
}

// notarizedVersions is notarizations of a record that must have at least one.
func notarizedVersions(ctx contractapi.TransactionContextInterface, recordID string) ([]ledgerapi.Notarization, error) {
	versions, err := notarizations(ctx, recordID)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: record %s is not notarized", ledgerapi.ErrNotFound, recordID)
	}
	return versions, nil
}
