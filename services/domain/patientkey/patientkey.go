// Package patientkey is the patient app's side of consent: the patient's
// Ed25519 key and the signed payloads it makes for the chaincode (register,
// grant, revoke, pair and unpair a device, erase, change or recover the
// key), each with the next nonce. A recovery key is a Key too, with a nonce
// of its own.
//
// The private key never leaves the patient's side: nothing here sends it
// anywhere, and a service relaying the payloads cannot forge one.
package patientkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/ledger"
)

// Key is one patient's signing key and the last nonce it signed with.
type Key struct {
	patientID string
	private   ed25519.PrivateKey

	mu    sync.Mutex
	nonce uint64
}

// Generate makes a new key for patientID.
func Generate(patientID string) (*Key, error) {
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, err
	}
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("patientkey: %w", err)
	}
	return &Key{patientID: patientID, private: private}, nil
}

// PatientID is the patient this key signs for.
func (k *Key) PatientID() string { return k.patientID }

// PublicKey is the base64 Ed25519 public key, as the ledger stores it.
func (k *Key) PublicKey() string {
	return base64.StdEncoding.EncodeToString(k.private.Public().(ed25519.PublicKey))
}

// SetNonce records the last nonce the ledger accepted from this patient (see
// ledgerapi.Patient.Nonce; for a recovery key, RecoveryNonce), so the next
// payload carries a greater one. Nonces only grow: a device that read the
// ledger's nonce signs above every other device's last change.
func (k *Key) SetNonce(n uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.nonce = max(k.nonce, n)
}

func (k *Key) next(op string) ledgerapi.Header {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.nonce++
	return ledgerapi.Header{Op: op, Nonce: k.nonce, PatientID: k.patientID}
}

func (k *Key) sign(payload any) (ledger.Signed, error) {
	body, sig, err := ledgerapi.Sign(k.private, payload)
	if err != nil {
		return ledger.Signed{}, fmt.Errorf("patientkey: %w", err)
	}
	return ledger.Signed{Payload: body, Signature: sig}, nil
}

// Nonce is the last nonce this key signed with.
func (k *Key) Nonce() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nonce
}

// Register signs the patient's registration (nonce 0, proof of possession).
func (k *Key) Register() (ledger.Signed, error) {
	return k.RegisterWithRecovery("", 0)
}

// RegisterWithRecovery signs a registration that names a recovery key
// (base64 Ed25519; "" for none) and its waiting period (0 for the default).
func (k *Key) RegisterWithRecovery(recoveryKey string, delay time.Duration) (ledger.Signed, error) {
	return k.sign(ledgerapi.PatientRegistration{Header: ledgerapi.Header{Op: ledgerapi.OpPatientRegister, PatientID: k.patientID},
		OwnKeys: k.ownKeys(recoveryKey, delay)})
}

// ownKeys are this key and a recovery key as the patient's own.
func (k *Key) ownKeys(recoveryKey string, delay time.Duration) ledgerapi.OwnKeys {
	return ledgerapi.OwnKeys{PublicKey: k.PublicKey(), RecoveryKey: recoveryKey, RecoveryDelaySeconds: int64(delay / time.Second)}
}

// RegisterMinor signs, as the guardian this key is, a hospital's
// registration of a child who has no key yet (nonce 0): the guardian's id
// and key are filled in here, and the delegation it creates is theirs.
func (k *Key) RegisterMinor(m ledgerapi.MinorRegistration) (ledger.Signed, error) {
	m.Header = ledgerapi.Header{Op: ledgerapi.OpMinorRegister, PatientID: m.PatientID}
	m.GuardianID, m.GuardianKey = k.patientID, k.PublicKey()
	return k.sign(m)
}

// ClaimKey signs the claim of this key, by the patient a hospital
// registered as a minor, of their entry (nonce 0, proof of possession);
// recoveryKey and delay as in RegisterWithRecovery.
func (k *Key) ClaimKey(recoveryKey string, delay time.Duration) (ledger.Signed, error) {
	return k.sign(ledgerapi.KeyClaim{Header: ledgerapi.Header{Op: ledgerapi.OpKeyClaim, PatientID: k.patientID}, OwnKeys: k.ownKeys(recoveryKey, delay)})
}

// SignRaw signs payload bytes exactly as given, as a key proving it holds a
// key the payload names (a new key in a rotation or a recovery).
func (k *Key) SignRaw(payload string) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(k.private, []byte(ledgerapi.SigningContext+payload)))
}

// RotateTo signs the replacement of this key by newKey: the payload signed
// by this key, and newKey's signature of it. newKey takes over this key's
// nonce, so its first change signs above it.
func (k *Key) RotateTo(newKey *Key) (ledger.KeyChange, error) {
	if newKey.patientID != k.patientID {
		return ledger.KeyChange{}, fmt.Errorf("patientkey: the new key is for patient %s, not %s", newKey.patientID, k.patientID)
	}
	s, err := k.sign(ledgerapi.KeyRotation{Header: k.next(ledgerapi.OpKeyRotate), NewPublicKey: newKey.PublicKey()})
	if err != nil {
		return ledger.KeyChange{}, err
	}
	newKey.SetNonce(k.Nonce())
	return ledger.KeyChange{Signed: s, NewKeySignature: newKey.SignRaw(s.Payload)}, nil
}

// RequestRecovery signs, with this recovery key, the replacement of its
// patient's lost key by newKey (with the recovery key's own next nonce),
// and newKey's signature of it.
func (k *Key) RequestRecovery(newKey *Key) (ledger.KeyChange, error) {
	if newKey.patientID != k.patientID {
		return ledger.KeyChange{}, fmt.Errorf("patientkey: the new key is for patient %s, not %s", newKey.patientID, k.patientID)
	}
	s, err := k.sign(ledgerapi.RecoveryRequest{Header: k.next(ledgerapi.OpRecoveryRequest), NewPublicKey: newKey.PublicKey()})
	if err != nil {
		return ledger.KeyChange{}, err
	}
	return ledger.KeyChange{Signed: s, NewKeySignature: newKey.SignRaw(s.Payload)}, nil
}

// CancelRecovery signs the cancellation of a pending recovery.
func (k *Key) CancelRecovery() (ledger.Signed, error) {
	return k.sign(ledgerapi.RecoveryCancel{Header: k.next(ledgerapi.OpRecoveryCancel)})
}

// Erase signs the request to erase all the patient's data held off the
// ledger, under erasureID.
func (k *Key) Erase(erasureID string) (ledger.Signed, error) {
	return k.sign(ledgerapi.PatientErasure{Header: k.next(ledgerapi.OpPatientErase), ErasureID: erasureID})
}

// Grant signs a consent; its header (op, nonce, patient) is filled in here.
func (k *Key) Grant(g ledgerapi.ConsentGrant) (ledger.Signed, error) {
	g.Header = k.next(ledgerapi.OpConsentGrant)
	return k.sign(g)
}

// Revoke signs the revocation of one of the patient's consents.
func (k *Key) Revoke(consentID string) (ledger.Signed, error) {
	return k.sign(ledgerapi.ConsentRevocation{Header: k.next(ledgerapi.OpConsentRevoke), ConsentID: consentID})
}

// RegisterDevice signs the pairing of a wearable's public key (base64 Ed25519).
func (k *Key) RegisterDevice(deviceID, publicKey string) (ledger.Signed, error) {
	return k.sign(ledgerapi.DeviceRegistration{
		Header: k.next(ledgerapi.OpDeviceRegister), DeviceID: deviceID, PublicKey: publicKey,
	})
}

// RevokeDevice signs the unpairing of a wearable.
func (k *Key) RevokeDevice(deviceID string) (ledger.Signed, error) {
	return k.sign(ledgerapi.DeviceRevocation{Header: k.next(ledgerapi.OpDeviceRevoke), DeviceID: deviceID})
}

// Delegate signs a delegation of the patient's: its header is filled in
// here.
func (k *Key) Delegate(d ledgerapi.DelegationGrant) (ledger.Signed, error) {
	d.Header = k.next(ledgerapi.OpDelegationGrant)
	return k.sign(d)
}

// EndDelegation signs the end of one of the patient's delegations.
func (k *Key) EndDelegation(delegationID string) (ledger.Signed, error) {
	return k.sign(ledgerapi.DelegationRevocation{Header: k.next(ledgerapi.OpDelegationEnd), DelegationID: delegationID})
}

// forPatient is the header of a change this key signs as a delegate, for
// patientID under delegationID: the key's next nonce, the patient's id.
func (k *Key) forPatient(op, patientID string) ledgerapi.Header {
	h := k.next(op)
	h.PatientID = patientID
	return h
}

// GrantFor signs, as a delegate, a consent of patientID under
// delegationID. The nonce is this key's own counter (SetNonce it to the
// delegation's last first).
func (k *Key) GrantFor(patientID, delegationID string, g ledgerapi.ConsentGrant) (ledger.Signed, error) {
	g.Header, g.DelegationID = k.forPatient(ledgerapi.OpConsentGrant, patientID), delegationID
	return k.sign(g)
}

// RevokeFor signs, as a delegate, the revocation of a consent of
// patientID under delegationID.
func (k *Key) RevokeFor(patientID, delegationID, consentID string) (ledger.Signed, error) {
	return k.sign(ledgerapi.ConsentRevocation{Header: k.forPatient(ledgerapi.OpConsentRevoke, patientID), ConsentID: consentID, DelegationID: delegationID})
}
