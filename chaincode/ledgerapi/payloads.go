package ledgerapi

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Operations a patient signs. Each payload names its operation in Op, so a
// signature made for one operation cannot be replayed as another.
const (
	OpPatientRegister = "patient.register"
	OpKeyRotate       = "patient.rotate-key"
	OpRecoveryRequest = "patient.recover"
	OpRecoveryCancel  = "patient.cancel-recovery"
	OpPatientErase    = "patient.erase"
	OpConsentGrant    = "consent.grant"
	OpConsentRevoke   = "consent.revoke"
	OpDeviceRegister  = "device.register"
	OpDeviceRevoke    = "device.revoke"
	OpDelegationGrant = "delegation.grant"
	OpDelegationEnd   = "delegation.revoke"
	OpMinorRegister   = "patient.register-minor"
	OpKeyClaim        = "patient.claim-key"
)

// Bounds of the waiting period before a recovery key's replacement of a
// lost key takes effect; DefaultRecoveryDelay applies when a registration
// names a recovery key without a delay.
const (
	MinRecoveryDelay     = time.Second
	MaxRecoveryDelay     = 30 * 24 * time.Hour
	DefaultRecoveryDelay = 72 * time.Hour
)

// MaxRecordIDs bounds the records a single consent may list.
const MaxRecordIDs = 1000

// Header is the part every patient-signed payload shares: the operation, the
// patient whose key signs, and a nonce that must grow with every change.
type Header struct {
	Op        string `json:"op"`
	Nonce     uint64 `json:"nonce"`
	PatientID string `json:"patientId"`
}

// Signer names the patient whose key must have signed the payload and the
// nonce the payload carries.
func (h Header) Signer() (patientID string, nonce uint64) {
	return h.PatientID, h.Nonce
}

func (h Header) validate(op string) error {
	var opErr error
	if h.Op != op {
		opErr = fmt.Errorf("%w: op must be %q for this operation", ErrInvalid, op)
	}
	return errors.Join(opErr, ValidateID("patientId", h.PatientID))
}

// validateFirst checks the header of a payload that must carry nonce 0 (a
// key's first signature, before the ledger counts any): what names the
// payload in the error.
func (h Header) validateFirst(op, what string) error {
	var nonceErr error
	if h.Nonce != 0 {
		nonceErr = fmt.Errorf("%w: nonce must be 0 in %s", ErrInvalid, what)
	}
	return errors.Join(h.validate(op), nonceErr)
}

// OwnKeys are the keys a patient takes as their own, by registering or by
// claiming the entry a hospital registered for them as a child: the key
// that signs as them and, if set, a recovery key (kept offline, or a
// guardian's) that can replace a lost key. A recovery takes effect after
// RecoveryDelaySeconds (0 means DefaultRecoveryDelay), unless the current
// key cancels it meanwhile.
type OwnKeys struct {
	PublicKey            string `json:"publicKey"`
	RecoveryKey          string `json:"recoveryKey,omitempty"`
	RecoveryDelaySeconds int64  `json:"recoveryDelaySeconds,omitempty"`
}

// check checks the key, and the recovery key and its delay when given.
func (k OwnKeys) check() error {
	var recoveryErr error
	switch {
	case k.RecoveryKey != "":
		recoveryErr = errors.Join(ValidatePublicKey("recoveryKey", k.RecoveryKey), validateRecoveryDelay(k.RecoveryDelaySeconds))
		if recoveryErr == nil && k.RecoveryKey == k.PublicKey {
			recoveryErr = fmt.Errorf("%w: recoveryKey must differ from publicKey", ErrInvalid)
		}
	case k.RecoveryDelaySeconds != 0:
		recoveryErr = fmt.Errorf("%w: recoveryDelaySeconds needs a recoveryKey", ErrInvalid)
	}
	return errors.Join(ValidatePublicKey("publicKey", k.PublicKey), recoveryErr)
}

// RecoveryDelay is the waiting period of a recovery.
func (k OwnKeys) RecoveryDelay() time.Duration {
	if k.RecoveryDelaySeconds == 0 {
		return DefaultRecoveryDelay
	}
	return time.Duration(k.RecoveryDelaySeconds) * time.Second
}

// SetOn makes the keys p's: its key, and its recovery key and waiting
// period when one is given.
func (k OwnKeys) SetOn(p *Patient) {
	p.PublicKey = k.PublicKey
	if k.RecoveryKey != "" {
		p.RecoveryKey, p.RecoveryDelaySeconds = k.RecoveryKey, int64(k.RecoveryDelay()/time.Second)
	}
}

// PatientRegistration registers a patient's own keys. It is signed by the
// key it registers (proof of possession) and carries nonce 0.
type PatientRegistration struct {
	Header
	OwnKeys
}

// Validate checks the registration.
func (p PatientRegistration) Validate() error {
	return errors.Join(p.Header.validateFirst(OpPatientRegister, "a registration"), p.OwnKeys.check())
}

// MinorRegistration registers a child who has no key of their own yet. A
// hospital submits it (the chaincode records which), and the guardian's key
// signs it (with nonce 0): the guardian is the delegate of the delegation it
// creates in the same transaction, which ends at MajorityAt. Until then the
// entry has no key, and only the guardian acts for the child; from then on
// the patient claims the entry with their own key (KeyClaim).
type MinorRegistration struct {
	Header
	MajorityAt   string   `json:"majorityAt"`
	DelegationID string   `json:"delegationId"`
	GuardianID   string   `json:"guardianId"`
	GuardianKey  string   `json:"guardianKey"`
	Relationship string   `json:"relationship"`
	Powers       []string `json:"powers"`
}

// GuardianRelationships are the relationships that may register a child:
// a carer acts for an adult, who signs their own delegation.
var GuardianRelationships = []string{"parent", "guardian"}

// Validate checks the registration on its own; the chaincode checks the
// majority date against the transaction time.
func (m MinorRegistration) Validate() error {
	_, majorityErr := ParseTime("majorityAt", m.MajorityAt)
	var selfErr error
	if m.GuardianID == m.PatientID {
		selfErr = fmt.Errorf("%w: guardianId must not be the patient", ErrInvalid)
	}
	return errors.Join(
		m.validateFirst(OpMinorRegister, "a registration"),
		majorityErr,
		ValidateID("delegationId", m.DelegationID),
		ValidateID("guardianId", m.GuardianID),
		ValidatePublicKey("guardianKey", m.GuardianKey),
		oneOf("relationship", m.Relationship, GuardianRelationships...),
		validatePowers(m.Powers),
		selfErr,
	)
}

// KeyClaim gives a patient registered as a minor their own key once they
// come of age. It is signed by the key it claims (proof of possession),
// with nonce 0, and submitted by the hospital that registered the child,
// which attests that the person claiming is the patient.
type KeyClaim struct {
	Header
	OwnKeys
}

// Validate checks the claim.
func (k KeyClaim) Validate() error {
	return errors.Join(k.Header.validateFirst(OpKeyClaim, "a key claim"), k.OwnKeys.check())
}

func validateRecoveryDelay(seconds int64) error {
	if seconds == 0 {
		return nil
	}
	if d := time.Duration(seconds) * time.Second; seconds < 0 || d < MinRecoveryDelay || d > MaxRecoveryDelay || seconds > int64(MaxRecoveryDelay/time.Second) {
		return fmt.Errorf("%w: recoveryDelaySeconds must be from %d to %d", ErrInvalid, int64(MinRecoveryDelay/time.Second), int64(MaxRecoveryDelay/time.Second))
	}
	return nil
}

// KeyRotation replaces the patient's key with NewPublicKey at once. It is
// signed by the current key, and the new key signs the same payload too
// (proof of possession). A pending recovery is cancelled by it.
type KeyRotation struct {
	Header
	NewPublicKey string `json:"newPublicKey"`
}

// Validate checks the rotation.
func (r KeyRotation) Validate() error {
	return errors.Join(r.validate(OpKeyRotate), ValidatePublicKey("newPublicKey", r.NewPublicKey))
}

// RecoveryRequest asks to replace a lost key with NewPublicKey. It is signed
// by the recovery key named at registration, with a nonce above the last
// one that key used, and the new key signs the same payload too. It takes
// effect after the registration's waiting period, unless cancelled.
type RecoveryRequest struct {
	Header
	NewPublicKey string `json:"newPublicKey"`
}

// Validate checks the request.
func (r RecoveryRequest) Validate() error {
	return errors.Join(r.validate(OpRecoveryRequest), ValidatePublicKey("newPublicKey", r.NewPublicKey))
}

// RecoveryCancel cancels a pending recovery; it is signed by the current key.
type RecoveryCancel struct {
	Header
}

// Validate checks the cancellation.
func (r RecoveryCancel) Validate() error { return r.validate(OpRecoveryCancel) }

// PatientErasure asks for the erasure of all the patient's data held off the
// ledger; it is signed by the patient's key. ErasureID names the erasure, so
// a retry of the same signed request is recognised.
type PatientErasure struct {
	Header
	ErasureID string `json:"erasureId"`
}

// Validate checks the request.
func (e PatientErasure) Validate() error {
	return errors.Join(e.validate(OpPatientErase), ValidateID("erasureId", e.ErasureID))
}

// ConsentGrant gives a grantee access to categories of records for purposes.
// A grant to a study must allow exactly the purpose research. RecordIDs empty means every record of the categories; NotBefore "" means
// from the grant; ExpiresAt "" means no expiry.
type ConsentGrant struct {
	Header
	ConsentID  string   `json:"consentId"`
	Grantee    Grantee  `json:"grantee"`
	Categories []string `json:"categories"`
	Purposes   []string `json:"purposes"`
	RecordIDs  []string `json:"recordIds"`
	NotBefore  string   `json:"notBefore"`
	ExpiresAt  string   `json:"expiresAt"`
	// DelegationID, if set, names the delegation under which a delegate's
	// key signed the grant for the patient (PatientID), instead of the
	// patient's own key.
	DelegationID string `json:"delegationId,omitempty"`
}

// Delegation is the delegation a delegate signed under, "" for the patient.
func (g ConsentGrant) Delegation() string { return g.DelegationID }

// Validate checks the grant on its own; the chaincode checks the rest against
// the ledger and the transaction time.
func (g ConsentGrant) Validate() error {
	notBefore, notBeforeErr := ParseOptionalTime("notBefore", g.NotBefore)
	expiresAt, expiresAtErr := ParseOptionalTime("expiresAt", g.ExpiresAt)
	err := errors.Join(
		g.validate(OpConsentGrant),
		ValidateID("consentId", g.ConsentID),
		g.Grantee.Validate("grantee"),
		checkList("categories", g.Categories, 1, len(Categories), ValidateCategory),
		checkList("purposes", g.Purposes, 1, len(Purposes), ValidatePurpose),
		checkList("recordIds", g.RecordIDs, 0, MaxRecordIDs, ValidateID),
		notBeforeErr,
		expiresAtErr,
		validateOptionalID("delegationId", g.DelegationID),
	)
	if err == nil && g.NotBefore != "" && g.ExpiresAt != "" && !expiresAt.After(notBefore) {
		err = fmt.Errorf("%w: expiresAt must be after notBefore", ErrInvalid)
	}
	if err == nil && g.Grantee.Kind == GranteeStudy && !slices.Equal(g.Purposes, []string{PurposeResearch}) {
		err = fmt.Errorf("%w: purposes must be exactly [%s] when grantee.kind is %s", ErrInvalid, PurposeResearch, GranteeStudy)
	}
	return err
}

// ConsentRevocation withdraws one of the patient's consents.
type ConsentRevocation struct {
	Header
	ConsentID string `json:"consentId"`
	// DelegationID: as in ConsentGrant.
	DelegationID string `json:"delegationId,omitempty"`
}

// Delegation is the delegation a delegate signed under, "" for the patient.
func (r ConsentRevocation) Delegation() string { return r.DelegationID }

// Validate checks the revocation.
func (r ConsentRevocation) Validate() error {
	return errors.Join(r.validate(OpConsentRevoke), ValidateID("consentId", r.ConsentID), validateOptionalID("delegationId", r.DelegationID))
}

func validateOptionalID(field, v string) error {
	if v == "" {
		return nil
	}
	return ValidateID(field, v)
}

// Powers a delegation may give: to grant consents and to revoke them, in
// the patient's name, each signed with the delegate's own key; to read the
// patient's records (decided by the consent service's policy, each read
// marked "delegation" in the patient's access log); and to answer the
// patient's access requests (the consent service's; an approval is a
// grant, so approve needs grant).
const (
	PowerGrant   = "grant"
	PowerRevoke  = "revoke"
	PowerRead    = "read"
	PowerApprove = "approve"
)

// DelegationPowers lists the powers.
var DelegationPowers = []string{PowerGrant, PowerRevoke, PowerRead, PowerApprove}

// Relationships of a delegate to the patient.
var Relationships = []string{"parent", "guardian", "carer"}

// MaxDelegation bounds how long a delegation lasts: it must end, and a
// child's ends at majority at the latest.
const MaxDelegation = 18 * 366 * 24 * time.Hour

// DelegationGrant lets a delegate (a parent, a guardian, a carer), known by
// their own id and key, act for the patient until ExpiresAt, with Powers.
// The patient's key signs it.
type DelegationGrant struct {
	Header
	DelegationID string   `json:"delegationId"`
	DelegateID   string   `json:"delegateId"`
	DelegateKey  string   `json:"delegateKey"`
	Relationship string   `json:"relationship"`
	Powers       []string `json:"powers"`
	ExpiresAt    string   `json:"expiresAt"`
}

// Validate checks the delegation on its own; the chaincode checks the
// rest against the ledger and the transaction time.
func (d DelegationGrant) Validate() error {
	_, expErr := ParseTime("expiresAt", d.ExpiresAt)
	var selfErr error
	if d.DelegateID == d.PatientID {
		selfErr = fmt.Errorf("%w: delegateId must not be the patient", ErrInvalid)
	}
	return errors.Join(
		d.validate(OpDelegationGrant),
		ValidateID("delegationId", d.DelegationID),
		ValidateID("delegateId", d.DelegateID),
		ValidatePublicKey("delegateKey", d.DelegateKey),
		oneOf("relationship", d.Relationship, Relationships...),
		validatePowers(d.Powers),
		expErr,
		selfErr,
	)
}

// validatePowers checks a delegation's powers: known, each once, at least
// one, and approve only with grant (an approval grants a consent).
func validatePowers(powers []string) error {
	var approveErr error
	if slices.Contains(powers, PowerApprove) && !slices.Contains(powers, PowerGrant) {
		approveErr = fmt.Errorf("%w: powers: approve needs grant (an approval grants a consent)", ErrInvalid)
	}
	return errors.Join(
		checkList("powers", powers, 1, len(DelegationPowers), func(field, v string) error { return oneOf(field, v, DelegationPowers...) }),
		approveErr,
	)
}

// DelegationRevocation ends a delegation; the patient's key signs it.
type DelegationRevocation struct {
	Header
	DelegationID string `json:"delegationId"`
}

// Validate checks the revocation.
func (r DelegationRevocation) Validate() error {
	return errors.Join(r.validate(OpDelegationEnd), ValidateID("delegationId", r.DelegationID))
}

// DeviceRegistration registers a wearable's public key to the patient.
type DeviceRegistration struct {
	Header
	DeviceID  string `json:"deviceId"`
	PublicKey string `json:"publicKey"`
}

// Validate checks the registration.
func (d DeviceRegistration) Validate() error {
	return errors.Join(
		d.validate(OpDeviceRegister),
		ValidateID("deviceId", d.DeviceID),
		ValidatePublicKey("publicKey", d.PublicKey),
	)
}

// DeviceRevocation withdraws one of the patient's devices.
type DeviceRevocation struct {
	Header
	DeviceID string `json:"deviceId"`
}

// Validate checks the revocation.
func (d DeviceRevocation) Validate() error {
	return errors.Join(d.validate(OpDeviceRevoke), ValidateID("deviceId", d.DeviceID))
}
