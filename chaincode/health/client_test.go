package health

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

type ctxT = contractapi.TransactionContextInterface

// testPatient is a patient's app: a key pair and the last nonce it used.
type testPatient struct {
	id    string
	key   ed25519.PrivateKey
	nonce uint64
}

// newPatient derives the patient's key from its id, so tests are repeatable.
func newPatient(id string) *testPatient {
	seed := sha256.Sum256([]byte(id))
	return &testPatient{id: id, key: ed25519.NewKeyFromSeed(seed[:])}
}

func (p *testPatient) publicKey() string {
	return base64.StdEncoding.EncodeToString(p.key.Public().(ed25519.PublicKey))
}

// next is the header of the patient's next change.
func (p *testPatient) next(op string) ledgerapi.Header {
	p.nonce++
	return ledgerapi.Header{Op: op, Nonce: p.nonce, PatientID: p.id}
}

// sign signs payload with key, failing the test on error.
func sign(t *testing.T, key ed25519.PrivateKey, payload any) (string, string) {
	t.Helper()
	data, sig, err := ledgerapi.Sign(key, payload)
	if err != nil {
		t.Fatal(err)
	}
	return data, sig
}

// signRaw signs payload bytes exactly as given, as a client that encodes its
// own JSON would.
func signRaw(p *testPatient, payload string) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(p.key, []byte(ledgerapi.SigningContext+payload)))
}

// registration is the payload registering p.
func (p *testPatient) registration() ledgerapi.PatientRegistration {
	return ledgerapi.PatientRegistration{
		Header:  ledgerapi.Header{Op: ledgerapi.OpPatientRegister, PatientID: p.id},
		OwnKeys: ledgerapi.OwnKeys{PublicKey: p.publicKey()},
	}
}

// register registers patients, failing the test on error.
func (f *fixture) register(t *testing.T, patients ...*testPatient) {
	t.Helper()
	for _, p := range patients {
		payload, sig := sign(t, p.key, p.registration())
		if _, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Patient, error) {
			return new(Patients).Register(ctx, payload, sig)
		}); err != nil {
			t.Fatalf("register %s: %v", p.id, err)
		}
	}
}

// grant has p sign g with its next nonce and submits it.
func (f *fixture) grant(t *testing.T, p *testPatient, g ledgerapi.ConsentGrant) (*ledgerapi.Consent, error) {
	t.Helper()
	g.Header = p.next(ledgerapi.OpConsentGrant)
	payload, sig := sign(t, p.key, g)
	return run(f, providers, func(ctx ctxT) (*ledgerapi.Consent, error) {
		return new(Consents).Grant(ctx, payload, sig)
	})
}

// mustGrant is grant failing the test on error.
func (f *fixture) mustGrant(t *testing.T, p *testPatient, g ledgerapi.ConsentGrant) *ledgerapi.Consent {
	t.Helper()
	c, err := f.grant(t, p, g)
	if err != nil {
		t.Fatalf("grant %s: %v", g.ConsentID, err)
	}
	return c
}

// revoke has p sign the revocation of a consent with its next nonce and submits it.
func (f *fixture) revoke(t *testing.T, p *testPatient, consentID string) (*ledgerapi.Consent, error) {
	t.Helper()
	payload, sig := sign(t, p.key, ledgerapi.ConsentRevocation{Header: p.next(ledgerapi.OpConsentRevoke), ConsentID: consentID})
	return run(f, providers, func(ctx ctxT) (*ledgerapi.Consent, error) {
		return new(Consents).Revoke(ctx, payload, sig)
	})
}

// grantTo is a grant to a grantee of categories for purposes, without limits.
func grantTo(consentID, kind, granteeID string, categories, purposes []string) ledgerapi.ConsentGrant {
	return ledgerapi.ConsentGrant{
		ConsentID:  consentID,
		Grantee:    ledgerapi.Grantee{Kind: kind, ID: granteeID},
		Categories: categories,
		Purposes:   purposes,
	}
}

// wantErr checks that err wraps want and its message starts with want's, as
// SPEC.md promises clients; or that err is nil when want is.
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) || want != nil && !strings.HasPrefix(err.Error(), want.Error()+": ") {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// lastEvent is the most recent committed chaincode event, decoded as a consent.
func (f *fixture) lastEvent(t *testing.T) (string, ledgerapi.Consent) {
	t.Helper()
	events := f.stub.events
	if len(events) == 0 {
		t.Fatal("no event emitted")
	}
	e := events[len(events)-1]
	var c ledgerapi.Consent
	if err := json.Unmarshal(e.Payload, &c); err != nil {
		t.Fatalf("event payload: %v", err)
	}
	return e.EventName, c
}
