package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"healthexchange/chaincode/ledgerapi"
)

// Signed is a patient-signed payload as the chaincode takes it: the exact JSON
// bytes that were signed and the base64 Ed25519 signature over them.
type Signed struct {
	Payload   string
	Signature string
}

// RegisterPatient records a patient's public key (the payload is signed by
// that same key).
func (c *Client) RegisterPatient(ctx context.Context, s Signed) (ledgerapi.Patient, error) {
	return submit[ledgerapi.Patient](ctx, c, "patients:Register", s.Payload, s.Signature)
}

// RegisterMinor registers a child without a key of their own, as this
// client's organisation (a hospital), with the guardian's delegation; the
// payload is signed by the guardian's key.
func (c *Client) RegisterMinor(ctx context.Context, s Signed) (ledgerapi.MinorRegistered, error) {
	return submit[ledgerapi.MinorRegistered](ctx, c, "patients:RegisterMinor", s.Payload, s.Signature)
}

// ClaimKey gives a patient registered as a minor the key they claim at
// majority, attested by this client's organisation (the registrar); the
// payload is signed by the claimed key.
func (c *Client) ClaimKey(ctx context.Context, s Signed) (ledgerapi.Patient, error) {
	return submit[ledgerapi.Patient](ctx, c, "patients:ClaimKey", s.Payload, s.Signature)
}

// Patient returns a registered patient.
func (c *Client) Patient(ctx context.Context, patientID string) (ledgerapi.Patient, error) {
	return evaluate[ledgerapi.Patient](ctx, c, "patients:Get", patientID)
}

// PatientHistory returns every version of a patient's entry, oldest first:
// the registration and each change of key or recovery.
func (c *Client) PatientHistory(ctx context.Context, patientID string) ([]ledgerapi.PatientVersion, error) {
	return evaluate[[]ledgerapi.PatientVersion](ctx, c, "patients:History", patientID)
}

// KeyChange is a signed change of a patient's key: the payload signed by
// the key that authorises it, and by the new key.
type KeyChange struct {
	Signed
	NewKeySignature string
}

// RotateKey replaces a patient's key (signed by the current key and the new
// one).
func (c *Client) RotateKey(ctx context.Context, k KeyChange) (ledgerapi.Patient, error) {
	return submit[ledgerapi.Patient](ctx, c, "patients:RotateKey", k.Payload, k.Signature, k.NewKeySignature)
}

// RequestRecovery asks to replace a lost key (signed by the recovery key and
// the new one); it takes effect after the patient's waiting period.
func (c *Client) RequestRecovery(ctx context.Context, k KeyChange) (ledgerapi.Patient, error) {
	return submit[ledgerapi.Patient](ctx, c, "patients:RequestRecovery", k.Payload, k.Signature, k.NewKeySignature)
}

// CancelRecovery cancels a pending recovery (signed by the current key).
func (c *Client) CancelRecovery(ctx context.Context, s Signed) (ledgerapi.Patient, error) {
	return submit[ledgerapi.Patient](ctx, c, "patients:CancelRecovery", s.Payload, s.Signature)
}

// CompleteRecovery puts a pending recovery's key in force once its waiting
// period is over.
func (c *Client) CompleteRecovery(ctx context.Context, patientID string) (ledgerapi.Patient, error) {
	return submit[ledgerapi.Patient](ctx, c, "patients:CompleteRecovery", patientID)
}

// GrantConsent stores a patient-signed consent.
func (c *Client) GrantConsent(ctx context.Context, s Signed) (ledgerapi.Consent, error) {
	return submit[ledgerapi.Consent](ctx, c, "consents:Grant", s.Payload, s.Signature)
}

// RevokeConsent applies a patient-signed revocation.
func (c *Client) RevokeConsent(ctx context.Context, s Signed) (ledgerapi.Consent, error) {
	return submit[ledgerapi.Consent](ctx, c, "consents:Revoke", s.Payload, s.Signature)
}

// GrantDelegation stores a patient-signed delegation.
func (c *Client) GrantDelegation(ctx context.Context, s Signed) (ledgerapi.Delegation, error) {
	return submit[ledgerapi.Delegation](ctx, c, "delegations:Grant", s.Payload, s.Signature)
}

// RevokeDelegation ends a delegation, signed by its patient.
func (c *Client) RevokeDelegation(ctx context.Context, s Signed) (ledgerapi.Delegation, error) {
	return submit[ledgerapi.Delegation](ctx, c, "delegations:Revoke", s.Payload, s.Signature)
}

// Delegation returns one delegation in its current state.
func (c *Client) Delegation(ctx context.Context, delegationID string) (ledgerapi.Delegation, error) {
	return evaluate[ledgerapi.Delegation](ctx, c, "delegations:Get", delegationID)
}

// DelegationsByPatient lists the delegations a patient gave.
func (c *Client) DelegationsByPatient(ctx context.Context, patientID string) ([]ledgerapi.Delegation, error) {
	return evaluate[[]ledgerapi.Delegation](ctx, c, "delegations:ListByPatient", patientID)
}

// DelegationsByDelegate lists the delegations given to a delegate.
func (c *Client) DelegationsByDelegate(ctx context.Context, delegateID string) ([]ledgerapi.Delegation, error) {
	return evaluate[[]ledgerapi.Delegation](ctx, c, "delegations:ListByDelegate", delegateID)
}

// Consent returns one consent in its current state.
func (c *Client) Consent(ctx context.Context, consentID string) (ledgerapi.Consent, error) {
	return evaluate[ledgerapi.Consent](ctx, c, "consents:Get", consentID)
}

// ConsentsByPatient lists a patient's consents, a page at a time.
func (c *Client) ConsentsByPatient(ctx context.Context, patientID string, pageSize int, bookmark string) (ledgerapi.ConsentPage, error) {
	return evaluate[ledgerapi.ConsentPage](ctx, c, "consents:ListByPatient", patientID, strconv.Itoa(pageSize), bookmark)
}

// ConsentsByGrantee lists the consents naming a grantee ("user", "org" or "study").
func (c *Client) ConsentsByGrantee(ctx context.Context, kind, id string, pageSize int, bookmark string) (ledgerapi.ConsentPage, error) {
	return evaluate[ledgerapi.ConsentPage](ctx, c, "consents:ListByGrantee", kind, id, strconv.Itoa(pageSize), bookmark)
}

// ConsentHistory returns every committed version of a consent, oldest first.
func (c *Client) ConsentHistory(ctx context.Context, consentID string) ([]ledgerapi.ConsentVersion, error) {
	return evaluate[[]ledgerapi.ConsentVersion](ctx, c, "consents:History", consentID)
}

// CheckQuery is one question to the ledger's consent check.
type CheckQuery struct {
	PatientID, SubjectID, SubjectOrg, Category, Purpose, RecordID string
	// At is an RFC 3339 time; empty means the time of the query transaction.
	At string
}

// Check asks whether a consent on the ledger covers the query.
func (c *Client) Check(ctx context.Context, q CheckQuery) (ledgerapi.Decision, error) {
	return evaluate[ledgerapi.Decision](ctx, c, "consents:Check",
		q.PatientID, q.SubjectID, q.SubjectOrg, q.Category, q.Purpose, q.RecordID, q.At)
}

// RegisterDevice pairs a wearable with its patient (patient-signed).
func (c *Client) RegisterDevice(ctx context.Context, s Signed) (ledgerapi.Device, error) {
	return submit[ledgerapi.Device](ctx, c, "devices:Register", s.Payload, s.Signature)
}

// RevokeDevice unpairs a wearable (patient-signed).
func (c *Client) RevokeDevice(ctx context.Context, s Signed) (ledgerapi.Device, error) {
	return submit[ledgerapi.Device](ctx, c, "devices:Revoke", s.Payload, s.Signature)
}

// DevicesByPatient lists the devices paired with a patient, active or
// revoked (at most 100).
func (c *Client) DevicesByPatient(ctx context.Context, patientID string) ([]ledgerapi.Device, error) {
	return evaluate[[]ledgerapi.Device](ctx, c, "devices:ListByPatient", patientID)
}

// Device returns a registered device.
func (c *Client) Device(ctx context.Context, deviceID string) (ledgerapi.Device, error) {
	return evaluate[ledgerapi.Device](ctx, c, "devices:Get", deviceID)
}

// Notarize records the hash of a record version, filed by this client's
// organisation (the chaincode records it and this client's identity as the
// author; n.Org and n.Author are not sent).
// A prescription with fill terms (n.Prescription) is notarized with them,
// in the same transaction.
func (c *Client) Notarize(ctx context.Context, n ledgerapi.Notarization) (ledgerapi.Notarization, error) {
	if t := n.Prescription; t != nil {
		return submit[ledgerapi.Notarization](ctx, c, "notary:NotarizePrescription",
			n.RecordID, n.PatientID, n.SHA256, strconv.Itoa(n.Version), n.PreviousSHA256, strconv.Itoa(t.Fills), t.ValidUntil)
	}
	return submit[ledgerapi.Notarization](ctx, c, "notary:Notarize",
		n.RecordID, n.PatientID, n.SHA256, n.Category, strconv.Itoa(n.Version), n.PreviousSHA256)
}

// Dispense records a fill of a prescription by the client's pharmacy, for
// its pharmacist pharmacistID.
func (c *Client) Dispense(ctx context.Context, recordID, sha256Hex, pharmacistID string, quantity int) (ledgerapi.Dispense, error) {
	return submit[ledgerapi.Dispense](ctx, c, "dispensing:Dispense", recordID, sha256Hex, pharmacistID, strconv.Itoa(quantity))
}

// Dispenses returns the fills of a prescription, first fill first.
func (c *Client) Dispenses(ctx context.Context, recordID string) ([]ledgerapi.Dispense, error) {
	return evaluate[[]ledgerapi.Dispense](ctx, c, "dispensing:Dispenses", recordID)
}

// RegisterCardIssuer adds an issuer URL and a signing key to the client's
// organisation's health card issuer registration.
func (c *Client) RegisterCardIssuer(ctx context.Context, issuer string, k ledgerapi.CardKey) (ledgerapi.CardIssuer, error) {
	data, err := json.Marshal(k)
	if err != nil {
		return ledgerapi.CardIssuer{}, err
	}
	return submit[ledgerapi.CardIssuer](ctx, c, "cardissuers:Register", issuer, string(data))
}

// CardIssuers lists the registered health card issuers.
func (c *Client) CardIssuers(ctx context.Context) ([]ledgerapi.CardIssuer, error) {
	return evaluate[[]ledgerapi.CardIssuer](ctx, c, "cardissuers:List")
}

// Verify compares a hash with a record's notarized versions.
func (c *Client) Verify(ctx context.Context, recordID, sha256Hex string) (ledgerapi.VerifyResult, error) {
	return evaluate[ledgerapi.VerifyResult](ctx, c, "notary:Verify", recordID, sha256Hex)
}

// RecordHistory returns every notarized version of a record, oldest first.
func (c *Client) RecordHistory(ctx context.Context, recordID string) ([]ledgerapi.Notarization, error) {
	return evaluate[[]ledgerapi.Notarization](ctx, c, "notary:History", recordID)
}

// RecordsByPatient lists the latest notarized version of each of a patient's
// records, in recordId order, one page at a time.
func (c *Client) RecordsByPatient(ctx context.Context, patientID string, pageSize int32, bookmark string) (ledgerapi.NotarizationPage, error) {
	return evaluate[ledgerapi.NotarizationPage](ctx, c, "notary:ListByPatient", patientID, strconv.FormatInt(int64(pageSize), 10), bookmark)
}

// RecordsByHash returns the notarized versions, of any record, whose hash is
// sha256Hex (at most 100, in record then version order; none is an empty
// list).
func (c *Client) RecordsByHash(ctx context.Context, sha256Hex string) ([]ledgerapi.Notarization, error) {
	return evaluate[[]ledgerapi.Notarization](ctx, c, "notary:FindByHash", sha256Hex)
}

// Anchor stores the Merkle root of a batch of wearable data.
func (c *Client) Anchor(ctx context.Context, a ledgerapi.Anchor) (ledgerapi.Anchor, error) {
	return submit[ledgerapi.Anchor](ctx, c, "anchors:Anchor",
		a.BatchID, a.PatientID, a.DeviceID, a.Root, strconv.Itoa(a.Count), a.From, a.To)
}

// AnchorOf returns the anchor of a batch.
func (c *Client) AnchorOf(ctx context.Context, batchID string) (ledgerapi.Anchor, error) {
	return evaluate[ledgerapi.Anchor](ctx, c, "anchors:Get", batchID)
}

// AnchorRoot stores the Merkle root over many batches of wearable data of an
// anchoring period. Anchoring the same root under the same id again returns
// the anchor already recorded, so a retry after an unknown outcome is safe.
func (c *Client) AnchorRoot(ctx context.Context, a ledgerapi.RootAnchor) (ledgerapi.RootAnchor, error) {
	return submit[ledgerapi.RootAnchor](ctx, c, "anchors:AnchorRoot",
		a.AnchorID, a.Root, strconv.Itoa(a.Size), strconv.Itoa(a.Readings), a.From, a.To)
}

// RootAnchorOf returns a root anchor.
func (c *Client) RootAnchorOf(ctx context.Context, anchorID string) (ledgerapi.RootAnchor, error) {
	return evaluate[ledgerapi.RootAnchor](ctx, c, "anchors:GetRoot", anchorID)
}

// AppendAccessEvents writes a batch of access events in one transaction.
// Events already on the ledger with the same content count as duplicates, so
// a retried batch is safe.
func (c *Client) AppendAccessEvents(ctx context.Context, events []ledgerapi.AccessEvent) (ledgerapi.AppendResult, error) {
	raw, err := json.Marshal(events)
	if err != nil {
		return ledgerapi.AppendResult{}, fmt.Errorf("ledger: encode access events: %w", err)
	}
	return submit[ledgerapi.AppendResult](ctx, c, "accesslog:Append", string(raw))
}

// AccessEvents lists a patient's access events in time order.
func (c *Client) AccessEvents(ctx context.Context, patientID string, pageSize int, bookmark string) (ledgerapi.AccessEventPage, error) {
	return evaluate[ledgerapi.AccessEventPage](ctx, c, "accesslog:ListByPatient", patientID, strconv.Itoa(pageSize), bookmark)
}

// RecordDatasetRelease records a research dataset release.
func (c *Client) RecordDatasetRelease(ctx context.Context, r ledgerapi.DatasetReleaseRequest) (ledgerapi.DatasetRelease, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return ledgerapi.DatasetRelease{}, fmt.Errorf("ledger: encode dataset release: %w", err)
	}
	return submit[ledgerapi.DatasetRelease](ctx, c, "datasets:Record", string(raw))
}

// DatasetRelease returns a recorded release.
func (c *Client) DatasetRelease(ctx context.Context, datasetID string) (ledgerapi.DatasetRelease, error) {
	return evaluate[ledgerapi.DatasetRelease](ctx, c, "datasets:Get", datasetID)
}

// RequestErasure relays a patient-signed erasure request. Relaying the same
// signed request again returns the erasure already recorded, so a retry
// after an unknown outcome is safe.
func (c *Client) RequestErasure(ctx context.Context, s Signed) (ledgerapi.Erasure, error) {
	return submit[ledgerapi.Erasure](ctx, c, "erasures:Request", s.Payload, s.Signature)
}

// CompleteErasure records what an erasure this organisation relayed
// removed. Completing again with the same counts returns the erasure.
func (c *Client) CompleteErasure(ctx context.Context, patientID, erasureID string, counts ledgerapi.ErasureCounts) (ledgerapi.Erasure, error) {
	raw, err := json.Marshal(counts)
	if err != nil {
		return ledgerapi.Erasure{}, fmt.Errorf("ledger: encode erasure counts: %w", err)
	}
	return submit[ledgerapi.Erasure](ctx, c, "erasures:Complete", patientID, erasureID, string(raw))
}

// Erasure returns the erasure recorded for a patient.
func (c *Client) Erasure(ctx context.Context, patientID string) (ledgerapi.Erasure, error) {
	return evaluate[ledgerapi.Erasure](ctx, c, "erasures:Get", patientID)
}
