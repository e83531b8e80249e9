package health

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Names of the chaincode events a consent change emits; the payload is the
// consent after the change.
const (
	EventConsentGranted = "ConsentGranted"
	EventConsentRevoked = "ConsentRevoked"
)

// Consents holds the consents patients give and withdraw, and decides
// whether a use of a record is allowed.
type Consents struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Consents) GetEvaluateTransactions() []string {
	return []string{"Get", "ListByPatient", "ListByGrantee", "History", "Check"}
}

// Grant stores a consent. The payload is a ConsentGrant signed by the
// patient, or by a delegate with the power to grant (the consent then names
// the delegation in GrantedBy).
func (*Consents) Grant(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Consent, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	g, delegation, err := acceptForPatient[ledgerapi.ConsentGrant](ctx, payload, signature, ledgerapi.PowerGrant)
	if err != nil {
		return nil, err
	}
	if err := ensureNotErased(ctx, g.PatientID); err != nil {
		return nil, err
	}
	if err := ensureNew(ctx, consentType, g.ConsentID); err != nil {
		return nil, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	notBefore, err := ledgerapi.CanonicalTime("notBefore", g.NotBefore)
	if err != nil {
		return nil, err
	}
	expiresAt, err := ledgerapi.CanonicalTime("expiresAt", g.ExpiresAt)
	if err != nil {
		return nil, err
	}
	recordIDs := g.RecordIDs
	if recordIDs == nil {
		recordIDs = []string{}
	}
	consent := &ledgerapi.Consent{
		ConsentID:  g.ConsentID,
		PatientID:  g.PatientID,
		Grantee:    g.Grantee,
		Categories: g.Categories,
		Purposes:   g.Purposes,
		RecordIDs:  recordIDs,
		NotBefore:  notBefore,
		ExpiresAt:  expiresAt,
		Status:     ledgerapi.StatusActive,
		GrantedAt:  ledgerapi.FormatTime(now),
		GrantTxID:  ctx.GetStub().GetTxID(),
		GrantedBy:  delegation,
	}
	start, end, err := window(consent)
	if err != nil {
		return nil, err
	}
	if end != nil && !end.After(start) {
		return nil, fmt.Errorf("%w: expiresAt must be after notBefore, or after the grant time when notBefore is empty", ledgerapi.ErrInvalid)
	}
	if err := putIndex(ctx, consentsByPatient, consent.PatientID, consent.ConsentID); err != nil {
		return nil, err
	}
	if err := putIndex(ctx, consentsByGrantee, consent.Grantee.Kind, consent.Grantee.ID, consent.ConsentID); err != nil {
		return nil, err
	}
	return storeConsent(ctx, EventConsentGranted, consent)
}

// Revoke withdraws a consent. The payload is a ConsentRevocation signed by the
// patient who gave the consent, or by a delegate with the power to revoke
// (RevokedBy names the delegation).
func (*Consents) Revoke(ctx contractapi.TransactionContextInterface, payload, signature string) (*ledgerapi.Consent, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	r, delegation, err := acceptForPatient[ledgerapi.ConsentRevocation](ctx, payload, signature, ledgerapi.PowerRevoke)
	if err != nil {
		return nil, err
	}
	consent, err := load[ledgerapi.Consent](ctx, consentType, r.ConsentID)
	if err != nil {
		return nil, err
	}
	if consent.PatientID != r.PatientID {
		return nil, fmt.Errorf("%w: consent %s does not belong to patient %s", ledgerapi.ErrForbidden, r.ConsentID, r.PatientID)
	}
	if consent.Status == ledgerapi.StatusRevoked {
		return nil, fmt.Errorf("%w: consent %s is already revoked", ledgerapi.ErrConflict, r.ConsentID)
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	consent.Status = ledgerapi.StatusRevoked
	consent.RevokedAt = ledgerapi.FormatTime(now)
	consent.RevokeTxID = ctx.GetStub().GetTxID()
	consent.RevokedBy = delegation
	return storeConsent(ctx, EventConsentRevoked, consent)
}

// storeConsent writes a consent and emits the event that announces the change.
func storeConsent(ctx contractapi.TransactionContextInterface, event string, c *ledgerapi.Consent) (*ledgerapi.Consent, error) {
	if err := emit(ctx, event, c); err != nil {
		return nil, err
	}
	return store(ctx, consentType, c.ConsentID, c)
}

// Get returns a consent.
func (*Consents) Get(ctx contractapi.TransactionContextInterface, consentID string) (*ledgerapi.Consent, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("consentId", consentID); err != nil {
		return nil, err
	}
	return load[ledgerapi.Consent](ctx, consentType, consentID)
}

// ListByPatient returns one page of a patient's consents, in consent-id order.
func (*Consents) ListByPatient(ctx contractapi.TransactionContextInterface, patientID string, pageSize int, bookmark string) (*ledgerapi.ConsentPage, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, err
	}
	return consentPage(ctx, []string{patientID}, consentsByPatient, pageSize, bookmark)
}

// ListByGrantee returns one page of the consents given to a grantee, in
// consent-id order.
func (*Consents) ListByGrantee(ctx contractapi.TransactionContextInterface, granteeKind, granteeID string, pageSize int, bookmark string) (*ledgerapi.ConsentPage, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	idErr := ledgerapi.ValidateID("granteeId", granteeID)
	if granteeKind == ledgerapi.GranteeUser {
		idErr = ledgerapi.Grantee{Kind: granteeKind, ID: granteeID}.Validate("grantee")
	}
	if err := errors.Join(ledgerapi.ValidateGranteeKind("granteeKind", granteeKind), idErr); err != nil {
		return nil, err
	}
	return consentPage(ctx, []string{granteeKind, granteeID}, consentsByGrantee, pageSize, bookmark)
}

func consentPage(ctx contractapi.TransactionContextInterface, attrs []string, index string, pageSize int, bookmark string) (*ledgerapi.ConsentPage, error) {
	items, next, err := page[ledgerapi.Consent](ctx, index, attrs, consentType, pageSize, bookmark)
	if err != nil {
		return nil, err
	}
	return &ledgerapi.ConsentPage{Items: items, Bookmark: next, Count: len(items)}, nil
}

// History returns every version of a consent, oldest first.
func (*Consents) History(ctx contractapi.TransactionContextInterface, consentID string) ([]ledgerapi.ConsentVersion, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("consentId", consentID); err != nil {
		return nil, err
	}
	return history(ctx, consentType, consentID, func(txID, ts string, isDelete bool, value []byte) (ledgerapi.ConsentVersion, error) {
		v := ledgerapi.ConsentVersion{TxID: txID, Timestamp: ts, IsDelete: isDelete}
		if isDelete {
			return v, nil
		}
		var err error
		v.Consent, err = decode[*ledgerapi.Consent](value)
		return v, err
	})
}

// Check decides whether a subject (a user, or any user of subjectOrg) may use
// a patient's record of a category for a purpose at a time ("" for now).
// Nothing is allowed once the patient's data has been erased.
func (*Consents) Check(ctx contractapi.TransactionContextInterface, patientID, subjectID, subjectOrg, category, purpose, recordID, at string) (*ledgerapi.Decision, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	when, err := ledgerapi.ParseOptionalTime("at", at)
	if err == nil && at == "" {
		when, err = txTime(ctx)
	}
	if err := errors.Join(
		ledgerapi.ValidateID("patientId", patientID),
		ledgerapi.ValidateID("subjectId", subjectID),
		ledgerapi.ValidateOptionalID("subjectOrg", subjectOrg),
		ledgerapi.ValidateCategory("category", category),
		ledgerapi.ValidatePurpose("purpose", purpose),
		ledgerapi.ValidateOptionalID("recordId", recordID),
		err,
	); err != nil {
		return nil, err
	}
	if _, err := load[ledgerapi.Patient](ctx, patientType, patientID); err != nil {
		return nil, err
	}
	// Whatever the consents and the time asked about, an erased patient's
	// data no longer exists.
	erasure, err := erasureOf(ctx, patientID)
	if err != nil {
		return nil, err
	}
	if erasure != nil {
		return &ledgerapi.Decision{Reason: erasedReason(patientID)}, nil
	}
	consents, err := scan(ctx, consentsByPatient, []string{patientID}, loader[ledgerapi.Consent](ctx, consentType))
	if err != nil {
		return nil, err
	}
	r := request{subjectID: subjectID, subjectOrg: subjectOrg, category: category, purpose: purpose, recordID: recordID, at: when}
	return r.decide(consents)
}
