package ledgerapi

import (
	"errors"
	"fmt"
	"strings"
)

// The types below are stored on and returned by the ledger. Fields that may be
// empty are tagged `omitempty` and `metadata:",optional"`: the contract API
// checks every returned value against a schema derived from these tags.

// Patient is a registered patient: a pseudonymous id, the public key that
// signs the patient's changes (KeyVersion counts its replacements), and the
// last nonce accepted from the patient's keys. A patient may name a
// recovery key: RecoveryNonce is the last nonce it used, and Recovery is
// its pending request to replace the key, if any.
type Patient struct {
	PatientID            string           `json:"patientId"`
	PublicKey            string           `json:"publicKey"`
	Nonce                uint64           `json:"nonce"`
	RegisteredAt         string           `json:"registeredAt"`
	KeyVersion           int              `json:"keyVersion"`
	KeyChangedAt         string           `json:"keyChangedAt,omitempty" metadata:",optional"`
	RecoveryKey          string           `json:"recoveryKey,omitempty" metadata:",optional"`
	RecoveryDelaySeconds int64            `json:"recoveryDelaySeconds,omitempty" metadata:",optional"`
	RecoveryNonce        uint64           `json:"recoveryNonce"`
	Recovery             *PendingRecovery `json:"recovery,omitempty" metadata:",optional"`
	// RegisteredBy is the hospital (MSP id) that registered the patient as
	// a minor, and MajorityAt when the patient comes of age: until they
	// claim the entry with their own key (KeyClaim), PublicKey is empty and
	// only their guardian's delegation acts for them. Both are empty for a
	// patient who registered their own key.
	RegisteredBy string `json:"registeredBy,omitempty" metadata:",optional"`
	MajorityAt   string `json:"majorityAt,omitempty" metadata:",optional"`
}

// HasKey says whether the patient has a key of their own: a child
// registered by a hospital has none until they claim their entry.
func (p Patient) HasKey() bool { return p.PublicKey != "" }

// NoKeyYet is the refusal of a change signed as a patient who has no key
// of their own yet: a minor registered by a hospital, for whom their
// guardian acts under a delegation until they claim their entry.
func (p Patient) NoKeyYet() error {
	return fmt.Errorf("%w: patient %s has no key of their own yet (registered as a minor by %s; from %s they claim their entry with their own key); "+
		"until then their guardian acts for them under a delegation", ErrForbidden, p.PatientID, p.RegisteredBy, p.MajorityAt)
}

// MinorRegistered is the event of a hospital's registration of a minor: the
// patient's entry and the guardian's delegation, written in one
// transaction (a transaction carries one event).
type MinorRegistered struct {
	Patient    Patient    `json:"patient"`
	Delegation Delegation `json:"delegation"`
}

// PendingRecovery is a recovery key's request to replace a patient's key,
// in force from EffectiveAt unless the current key cancels it first.
type PendingRecovery struct {
	NewPublicKey string `json:"newPublicKey"`
	RequestedAt  string `json:"requestedAt"`
	EffectiveAt  string `json:"effectiveAt"`
	TxID         string `json:"txId"`
}

// PatientVersion is one entry of a patient's history on the ledger:
// registration, key rotations, recovery requests, cancellations and
// completions.
type PatientVersion struct {
	TxID      string  `json:"txId"`
	Timestamp string  `json:"timestamp"`
	Patient   Patient `json:"patient"`
}

// Grantee is who a consent is given to: a user at their organisation, every
// member of an org, or a research study. Kind is one of GranteeUser,
// GranteeOrg, GranteeStudy. A user's ID is "<MSP id>/<user id>" (see
// UserGrantee): the same user name at another organisation is someone else.
type Grantee struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// UserGrantee is the grantee that names one user of one organisation.
func UserGrantee(org, userID string) Grantee {
	return Grantee{Kind: GranteeUser, ID: org + "/" + userID}
}

// User splits a user grantee's id into the organisation and the user id;
// ok is false for other kinds or a malformed id.
func (g Grantee) User() (org, userID string, ok bool) {
	if g.Kind != GranteeUser {
		return "", "", false
	}
	org, userID, ok = strings.Cut(g.ID, "/")
	return org, userID, ok
}

// Validate checks the grantee: a known kind; for a user, a member
// organisation and a user id; otherwise an id (an org grantee's, a member
// organisation).
func (g Grantee) Validate(field string) error {
	if err := ValidateGranteeKind(field+".kind", g.Kind); err != nil {
		return err
	}
	switch g.Kind {
	case GranteeUser:
		org, user, ok := g.User()
		if !ok {
			return fmt.Errorf("%w: %s.id of a user must be <organisation MSP id>/<user id>, e.g. StMarysMSP/dr-alice", ErrInvalid, field)
		}
		if _, member := OrganisationOf(org); !member {
			return fmt.Errorf("%w: %s.id: %q is not an organisation of the exchange (%v)", ErrInvalid, field, org, MemberMSPs())
		}
		return ValidateID(field+".id user", user)
	case GranteeOrg:
		if _, member := OrganisationOf(g.ID); !member {
			return fmt.Errorf("%w: %s.id: %q is not an organisation of the exchange (%v)", ErrInvalid, field, g.ID, MemberMSPs())
		}
		return nil
	}
	return ValidateID(field+".id", g.ID)
}

// Consent is a patient's permission for a grantee to use some categories of
// records for some purposes, within a time window.
type Consent struct {
	ConsentID  string   `json:"consentId"`
	PatientID  string   `json:"patientId"`
	Grantee    Grantee  `json:"grantee"`
	Categories []string `json:"categories"`
	Purposes   []string `json:"purposes"`
	// RecordIDs limits the consent to these records; empty means every record
	// of the categories. Never nil on the ledger, so it encodes as [].
	RecordIDs []string `json:"recordIds"`
	// NotBefore "" means from GrantedAt; ExpiresAt "" means no expiry.
	NotBefore  string `json:"notBefore,omitempty" metadata:",optional"`
	ExpiresAt  string `json:"expiresAt,omitempty" metadata:",optional"`
	Status     string `json:"status"`
	GrantedAt  string `json:"grantedAt"`
	RevokedAt  string `json:"revokedAt,omitempty" metadata:",optional"`
	GrantTxID  string `json:"grantTxId"`
	RevokeTxID string `json:"revokeTxId,omitempty" metadata:",optional"`
	// GrantedBy and RevokedBy name the delegation a delegate acted under,
	// "" when the patient acted.
	GrantedBy string `json:"grantedBy,omitempty" metadata:",optional"`
	RevokedBy string `json:"revokedBy,omitempty" metadata:",optional"`
}

// Delegation lets a delegate act for a patient: who (their id and their
// own key), how they are related, what they may do, and until when. It ends
// when the patient revokes it, or by itself at ExpiresAt. Nonce is the last
// nonce accepted from the delegate under it.
type Delegation struct {
	DelegationID string   `json:"delegationId"`
	PatientID    string   `json:"patientId"`
	DelegateID   string   `json:"delegateId"`
	DelegateKey  string   `json:"delegateKey"`
	Relationship string   `json:"relationship"`
	Powers       []string `json:"powers"`
	ExpiresAt    string   `json:"expiresAt"`
	Status       string   `json:"status"`
	GrantedAt    string   `json:"grantedAt"`
	GrantTxID    string   `json:"grantTxId"`
	RevokedAt    string   `json:"revokedAt,omitempty" metadata:",optional"`
	RevokeTxID   string   `json:"revokeTxId,omitempty" metadata:",optional"`
	Nonce        uint64   `json:"nonce"`
	// RegisteredBy is the hospital (MSP id) that gave the delegation when it
	// registered the patient as a minor, with the guardian's signature; it
	// is empty for a delegation the patient signed.
	RegisteredBy string `json:"registeredBy,omitempty" metadata:",optional"`
}

// ConsentVersion is one entry of a consent's history. Consent is absent when
// the entry records a deletion.
type ConsentVersion struct {
	TxID      string   `json:"txId"`
	Timestamp string   `json:"timestamp"`
	Consent   *Consent `json:"consent,omitempty" metadata:",optional"`
	IsDelete  bool     `json:"isDelete"`
}

// ConsentPage is one page of a consent list; Bookmark is "" on the last page.
type ConsentPage struct {
	Items    []Consent `json:"items"`
	Bookmark string    `json:"bookmark,omitempty" metadata:",optional"`
	Count    int       `json:"count"`
}

// Decision answers whether a subject may use a record now. ConsentID names the
// consent that allowed it or, for a denial, the consent the reason is about.
type Decision struct {
	Allowed   bool   `json:"allowed"`
	ConsentID string `json:"consentId,omitempty" metadata:",optional"`
	Reason    string `json:"reason"`
}

// Device is a wearable whose key a patient registered to sign readings.
type Device struct {
	DeviceID     string `json:"deviceId"`
	PatientID    string `json:"patientId"`
	PublicKey    string `json:"publicKey"`
	Status       string `json:"status"`
	RegisteredAt string `json:"registeredAt"`
	RevokedAt    string `json:"revokedAt,omitempty" metadata:",optional"`
}

// Notarization is the hash of one version of a record held off the ledger.
// Versions of a record form a chain: each names its predecessor's hash.
//
// Org is the organisation that filed the version (the submitting client's
// MSP) and Author the client identity that submitted it (its certificate's
// subject): both are taken from the transaction, never from an argument.
type Notarization struct {
	RecordID       string `json:"recordId"`
	PatientID      string `json:"patientId"`
	SHA256         string `json:"sha256"`
	Category       string `json:"category"`
	Org            string `json:"org"`
	Author         string `json:"author"`
	Version        int    `json:"version"`
	PreviousSHA256 string `json:"previousSha256,omitempty" metadata:",optional"`
	TxID           string `json:"txId"`
	Timestamp      string `json:"timestamp"`
	// Prescription holds the fill terms of a prescription notarized with
	// notary:NotarizePrescription; nil for every other record.
	Prescription *FillTerms `json:"prescription,omitempty" metadata:",optional"`
}

// FillTerms are what a pharmacy may dispense on a version of a
// prescription: Fills is how many dispenses the prescription allows in all
// (the first fill and its repeats; 0 when the request is no longer active)
// and ValidUntil, if set, when it expires. They are counts and a date, no
// health data: the filing organisation states them from the request, and
// the chaincode enforces them at every dispense.
type FillTerms struct {
	Fills      int    `json:"fills"`
	ValidUntil string `json:"validUntil,omitempty" metadata:",optional"`
}

// MaxFills bounds the fills a prescription may allow.
const MaxFills = 100

// Validate checks the terms.
func (t FillTerms) Validate() error {
	if t.Fills < 0 || t.Fills > MaxFills {
		return fmt.Errorf("%w: fills must be between 0 and %d", ErrInvalid, MaxFills)
	}
	if t.ValidUntil != "" {
		if _, err := ParseTime("validUntil", t.ValidUntil); err != nil {
			return err
		}
	}
	return nil
}

// Dispense is one fill of a prescription by a pharmacy: which record and
// version, how much (a quantity, in the prescription's own unit), by whom
// (the pharmacy's MSP and the pharmacist's id) and which fill it was.
// Nothing else about the medicine is on the ledger.
type Dispense struct {
	RecordID   string `json:"recordId"`
	PatientID  string `json:"patientId"`
	Version    int    `json:"version"`
	SHA256     string `json:"sha256"`
	Fill       int    `json:"fill"`
	Fills      int    `json:"fills"`
	Quantity   int    `json:"quantity"`
	Org        string `json:"org"`
	Pharmacist string `json:"pharmacist"`
	ConsentID  string `json:"consentId"`
	TxID       string `json:"txId"`
	Timestamp  string `json:"timestamp"`
}

// MaxDispenseQuantity bounds one dispense's quantity.
const MaxDispenseQuantity = 100000

// VerifyResult says whether a hash matches a notarized version of a record.
// Notarization is the matching version, else the latest one.
type VerifyResult struct {
	Match        bool         `json:"match"`
	Notarization Notarization `json:"notarization"`
	Reason       string       `json:"reason"`
}

// NotarizationPage is one page of the latest versions of a patient's records;
// Bookmark is "" on the last page.
type NotarizationPage struct {
	Items    []Notarization `json:"items"`
	Bookmark string         `json:"bookmark,omitempty" metadata:",optional"`
	Count    int            `json:"count"`
}

// Anchor is the Merkle root of a batch of readings a device sent, covering
// readings taken from From to To.
type Anchor struct {
	BatchID   string `json:"batchId"`
	PatientID string `json:"patientId"`
	DeviceID  string `json:"deviceId"`
	Root      string `json:"root"`
	Count     int    `json:"count"`
	From      string `json:"from"`
	To        string `json:"to"`
	TxID      string `json:"txId"`
	Timestamp string `json:"timestamp"`
}

// RootAnchor is the Merkle root (RFC 9162) over the hashes of many batches of
// readings, of many devices and patients, that the ingest service anchors in
// one transaction per period. Size is the number of leaves (batches): an RFC
// 9162 root does not fix its size, so a proof is checked against both.
// Readings counts the readings of all the batches; From and To are the times
// of the earliest and the latest of them.
type RootAnchor struct {
	AnchorID  string `json:"anchorId"`
	Root      string `json:"root"`
	Size      int    `json:"size"`
	Readings  int    `json:"readings"`
	From      string `json:"from"`
	To        string `json:"to"`
	TxID      string `json:"txId"`
	Timestamp string `json:"timestamp"`
}

// AccessEventPage is one page of a patient's access log; Bookmark is "" on
// the last page.
type AccessEventPage struct {
	Items    []AccessEvent `json:"items"`
	Bookmark string        `json:"bookmark,omitempty" metadata:",optional"`
	Count    int           `json:"count"`
}

// AppendResult counts the events an append stored and those it skipped
// because the ledger already held them.
type AppendResult struct {
	Appended   int `json:"appended"`
	Duplicates int `json:"duplicates"`
}

// Erasure records that a patient asked for the erasure of their data held
// off the ledger (a request signed by their key) and, once done, what was
// removed: the data key destroyed (crypto-shredding) and the objects
// deleted. It records that the erasure happened, never the data.
// RequestedBy is the organisation that relayed the request; only it
// completes the erasure.
type Erasure struct {
	PatientID    string `json:"patientId"`
	ErasureID    string `json:"erasureId"`
	Status       string `json:"status"`
	RequestedBy  string `json:"requestedBy"`
	RequestedAt  string `json:"requestedAt"`
	RequestTxID  string `json:"requestTxId"`
	CompletedAt  string `json:"completedAt,omitempty" metadata:",optional"`
	CompleteTxID string `json:"completeTxId,omitempty" metadata:",optional"`
	// Counts are what the erasure removed, once completed.
	Counts *ErasureCounts `json:"counts,omitempty" metadata:",optional"`
}

// Erasure states.
const (
	ErasureRequested = "requested"
	ErasureCompleted = "completed"
)

// ErasureCounts are what an erasure removed: the record versions and the
// wearable objects (batches and their proofs) deleted, and the data key
// destroyed (KeyID, when the key store names one).
type ErasureCounts struct {
	RecordObjects   int    `json:"recordObjects"`
	WearableObjects int    `json:"wearableObjects"`
	KeyID           string `json:"keyId,omitempty" metadata:",optional"`
}

// Validate checks the counts.
func (c ErasureCounts) Validate() error {
	var err error
	if c.RecordObjects < 0 || c.WearableObjects < 0 {
		err = fmt.Errorf("%w: counts must not be negative", ErrInvalid)
	}
	return errors.Join(err, ValidateOptionalID("keyId", c.KeyID))
}
