package consent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
)

func newKey(t *testing.T, patientID string) *patientkey.Key {
	t.Helper()
	k, err := patientkey.Generate(patientID)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signedPayload(s ledger.Signed) *consentv1.SignedPayload {
	return &consentv1.SignedPayload{Payload: s.Payload, Signature: s.Signature}
}

func mustSign(t *testing.T, f func() (ledger.Signed, error)) ledger.Signed {
	t.Helper()
	s, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// patientLedger is a fake ledger on which key's patient is registered.
func patientLedger(key *patientkey.Key) *fakeLedger {
	return &fakeLedger{patient: func(id string) (ledgerapi.Patient, error) {
		if id != key.PatientID() {
			return ledgerapi.Patient{}, &ledger.Error{Function: "patients:Get", Kind: ledger.ErrRejected, Reason: ledgerapi.ErrNotFound, Message: "not found: patient " + id}
		}
		return ledgerapi.Patient{PatientID: id, PublicKey: key.PublicKey(), RegisteredAt: "2029-01-01T00:00:00Z"}, nil
	}}
}

func patientService(t *testing.T, l *fakeLedger, v *View) (*patientAPI, *service) {
	t.Helper()
	svc := newService(t, l, v, &fakeDecider{})
	return &patientAPI{service: svc}, svc
}

func patient(id string) *auth.Principal { return &auth.Principal{Subject: id, Role: auth.RolePatient} }

func staff(id string, role auth.Role, org string) *auth.Principal {
	return &auth.Principal{Subject: id, Role: role, Org: org}
}

// nobody is no verified caller.
var nobody *auth.Principal

func ctxFor(t *testing.T, p *auth.Principal) context.Context {
	if p == nil {
		return testContext(t)
	}
	return auth.NewContext(testContext(t), *p)
}

func asPatient(t *testing.T, id string) context.Context {
	return as(testContext(t), id, auth.RolePatient, "")
}

// labsGrant is a grant of labs for treatment to user dr-alice.
func labsGrant(consentID string) ledgerapi.ConsentGrant {
	return ledgerapi.ConsentGrant{ConsentID: consentID, Grantee: ledgerapi.Grantee{Kind: ledgerapi.GranteeUser, ID: "ProvidersMSP/dr-alice"},
		Categories: []string{"labs"}, Purposes: []string{"treatment"}, RecordIDs: []string{}}
}

// consentOf is the consent the ledger makes of a signed grant.
func consentOf(t *testing.T, s ledger.Signed, txID string) ledgerapi.Consent {
	t.Helper()
	g, err := ledgerapi.Parse[ledgerapi.ConsentGrant]([]byte(s.Payload))
	if err != nil {
		t.Fatal(err)
	}
	return ledgerapi.Consent{ConsentID: g.ConsentID, PatientID: g.PatientID, Grantee: g.Grantee, Categories: g.Categories,
		Purposes: g.Purposes, RecordIDs: g.RecordIDs, Status: ledgerapi.StatusActive, GrantedAt: "2030-01-02T03:04:06Z", GrantTxID: txID}
}

func TestRegisterPatient(t *testing.T) {
	key := newKey(t, "pat-1")
	good := mustSign(t, key.Register)

	// A registration of key's public key signed by another key.
	_, otherPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, err := ledgerapi.Sign(otherPriv, ledgerapi.PatientRegistration{
		Header: ledgerapi.Header{Op: ledgerapi.OpPatientRegister, PatientID: "pat-1"}, OwnKeys: ledgerapi.OwnKeys{PublicKey: key.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := ledger.Signed{Payload: payload, Signature: sig}
	tampered := ledger.Signed{Payload: strings.Replace(good.Payload, `"nonce":0`, `"nonce": 0`, 1), Signature: good.Signature}
	if tampered.Payload == good.Payload {
		t.Fatal("tampering did not change the payload")
	}
	grantPayload := mustSign(t, func() (ledger.Signed, error) { return key.Grant(labsGrant("c-1")) })

	tests := []struct {
		name     string
		who      *auth.Principal
		signed   *consentv1.SignedPayload
		ledgerOK bool // the ledger registers
		wantCode codes.Code
		wantMsg  string
	}{
		{"signed by the registered key", patient("pat-1"), signedPayload(good), true, codes.OK, ""},
		{"signed by another key", patient("pat-1"), signedPayload(wrongKey), true, codes.PermissionDenied, "signature"},
		{"payload changed after signing", patient("pat-1"), signedPayload(tampered), true, codes.PermissionDenied, "signature"},
		{"payload for another patient", patient("pat-2"), signedPayload(good), true, codes.PermissionDenied, "speaks for patient pat-1"},
		{"clinician role", staff("pat-1", auth.RoleClinician, "ProvidersMSP"), signedPayload(good), true, codes.PermissionDenied, "role clinician"},
		{"no caller", nobody, signedPayload(good), true, codes.PermissionDenied, "no verified caller"},
		{"no payload", patient("pat-1"), nil, true, codes.InvalidArgument, "signed payload"},
		{"no signature", patient("pat-1"), &consentv1.SignedPayload{Payload: good.Payload}, true, codes.InvalidArgument, "signed payload"},
		{"a grant sent as a registration", patient("pat-1"), signedPayload(grantPayload), true, codes.InvalidArgument, "invalid input"},
		{"already registered on the ledger", patient("pat-1"), signedPayload(good), false, codes.AlreadyExists, "already registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &fakeLedger{register: func(s ledger.Signed) (ledgerapi.Patient, error) {
				if !tt.ledgerOK {
					return ledgerapi.Patient{}, &ledger.Error{Function: "patients:Register", Kind: ledger.ErrRejected, Reason: ledgerapi.ErrExists, Message: "already registered: patient pat-1"}
				}
				return ledgerapi.Patient{PatientID: "pat-1", PublicKey: key.PublicKey(), RegisteredAt: "2030-01-02T03:04:06Z"}, nil
			}}
			v := NewView()
			api, _ := patientService(t, l, v)
			resp, err := api.RegisterPatient(ctxFor(t, tt.who), &consentv1.RegisterPatientRequest{Registration: tt.signed})
			if v.Registered("pat-1") != (tt.wantCode == codes.OK) {
				t.Errorf("registered in the view at once = %v, want %v", v.Registered("pat-1"), tt.wantCode == codes.OK)
			}
			if codeOf(err) != tt.wantCode {
				t.Fatalf("RegisterPatient = %v, want code %v", err, tt.wantCode)
			}
			if !strings.Contains(status.Convert(err).Message(), tt.wantMsg) {
				t.Errorf("message = %q, want it to mention %q", status.Convert(err).Message(), tt.wantMsg)
			}
			// The ledger is asked only once everything checks out here.
			wantCalls := 0
			if tt.wantCode == codes.OK || tt.wantCode == codes.AlreadyExists {
				wantCalls = 1
			}
			if n := l.called("RegisterPatient"); n != wantCalls {
				t.Fatalf("ledger RegisterPatient called %d times, want %d", n, wantCalls)
			}
			if wantCalls == 1 && l.signed[0] != (ledger.Signed{Payload: tt.signed.GetPayload(), Signature: tt.signed.GetSignature()}) {
				t.Errorf("ledger got %+v, want the payload and signature exactly as sent", l.signed[0])
			}
			if tt.wantCode != codes.OK {
				return
			}
			want := &consentv1.RegisterPatientResponse{PatientId: "pat-1", PublicKey: key.PublicKey(), RegisteredAt: "2030-01-02T03:04:06Z"}
			if resp.GetPatientId() != want.PatientId || resp.GetPublicKey() != want.PublicKey || resp.GetRegisteredAt() != want.RegisteredAt {
				t.Errorf("response = %v, want %v", resp, want)
			}
		})
	}
}

func TestGrantAndRevokeSignatures(t *testing.T) {
	key := newKey(t, "pat-1")
	impostor := newKey(t, "pat-1") // same patient id, not the registered key
	other := newKey(t, "pat-2")
	c1 := activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labsOnly, treatmentOnly)

	grant := func(k *patientkey.Key) *consentv1.SignedPayload {
		return signedPayload(mustSign(t, func() (ledger.Signed, error) { return k.Grant(labsGrant("c-1")) }))
	}
	revoke := func(k *patientkey.Key) *consentv1.SignedPayload {
		return signedPayload(mustSign(t, func() (ledger.Signed, error) { return k.Revoke("c-1") }))
	}
	doGrant := func(ctx context.Context, api *patientAPI, sp *consentv1.SignedPayload) error {
		_, err := api.GrantConsent(ctx, &consentv1.GrantConsentRequest{Grant: sp})
		return err
	}
	doRevoke := func(ctx context.Context, api *patientAPI, sp *consentv1.SignedPayload) error {
		_, err := api.RevokeConsent(ctx, &consentv1.RevokeConsentRequest{Revocation: sp})
		return err
	}
	tests := []struct {
		name       string
		call       func(context.Context, *patientAPI, *consentv1.SignedPayload) error
		ledgerCall string
		signed     *consentv1.SignedPayload
		subject    string
		role       auth.Role
		// ledgerErr is what the ledger's grant or revoke returns.
		ledgerErr error
		wantCode  codes.Code
		wantMsg   string
		// wantLedger: whether the grant or revoke reaches the ledger.
		wantLedger bool
	}{
		{name: "grant signed by the patient's key", call: doGrant, ledgerCall: "GrantConsent", signed: grant(key), subject: "pat-1", wantCode: codes.OK, wantLedger: true},
		{name: "grant signed by another key", call: doGrant, ledgerCall: "GrantConsent", signed: grant(impostor), subject: "pat-1", wantCode: codes.PermissionDenied, wantMsg: "signature"},
		{name: "grant for another patient", call: doGrant, ledgerCall: "GrantConsent", signed: grant(other), subject: "pat-1", wantCode: codes.PermissionDenied, wantMsg: "speaks for patient pat-2"},
		{name: "grant by a clinician", call: doGrant, ledgerCall: "GrantConsent", signed: grant(key), subject: "pat-1", role: auth.RoleClinician, wantCode: codes.PermissionDenied},
		{name: "grant by an unregistered patient", call: doGrant, ledgerCall: "GrantConsent", signed: grant(other), subject: "pat-2", wantCode: codes.NotFound},
		{name: "grant with a stale nonce", call: doGrant, ledgerCall: "GrantConsent", signed: grant(key), subject: "pat-1",
			ledgerErr: &ledger.Error{Function: "consents:Grant", Kind: ledger.ErrRejected, Reason: ledgerapi.ErrNonce, Message: "stale or replayed nonce: 1 <= 3"},
			wantCode:  codes.FailedPrecondition, wantMsg: "nonce", wantLedger: true},
		{name: "grant with the ledger unavailable", call: doGrant, ledgerCall: "GrantConsent", signed: grant(key), subject: "pat-1",
			ledgerErr: &ledger.Error{Function: "consents:Grant", Kind: ledger.ErrUnavailable, Message: "connection refused"},
			wantCode:  codes.Unavailable, wantMsg: "ledger unavailable", wantLedger: true},
		{name: "grant with an unknown ledger error", call: doGrant, ledgerCall: "GrantConsent", signed: grant(key), subject: "pat-1",
			ledgerErr: errors.New("x509: certificate signed by unknown authority (peer0 at 10.1.2.3)"),
			wantCode:  codes.Internal, wantMsg: "internal error", wantLedger: true},
		{name: "grant invalidated at commit", call: doGrant, ledgerCall: "GrantConsent", signed: grant(key), subject: "pat-1",
			ledgerErr: &ledger.Error{Function: "consents:Grant", Kind: ledger.ErrConflict, Message: "MVCC_READ_CONFLICT"},
			wantCode:  codes.Aborted, wantLedger: true},
		{name: "revoke signed by the patient's key", call: doRevoke, ledgerCall: "RevokeConsent", signed: revoke(key), subject: "pat-1", wantCode: codes.OK, wantLedger: true},
		{name: "revoke signed by another key", call: doRevoke, ledgerCall: "RevokeConsent", signed: revoke(impostor), subject: "pat-1", wantCode: codes.PermissionDenied, wantMsg: "signature"},
		{name: "revoke for another patient", call: doRevoke, ledgerCall: "RevokeConsent", signed: revoke(other), subject: "pat-1", wantCode: codes.PermissionDenied, wantMsg: "speaks for patient pat-2"},
		{name: "revoke sent as a grant", call: doGrant, ledgerCall: "GrantConsent", signed: revoke(key), subject: "pat-1", wantCode: codes.InvalidArgument},
		{name: "revoke of a revoked consent", call: doRevoke, ledgerCall: "RevokeConsent", signed: revoke(key), subject: "pat-1",
			ledgerErr: &ledger.Error{Function: "consents:Revoke", Kind: ledger.ErrRejected, Reason: ledgerapi.ErrConflict, Message: "conflicts with the ledger: consent c-1 is already revoked"},
			wantCode:  codes.FailedPrecondition, wantMsg: "already revoked", wantLedger: true},
		{name: "revoke with the ledger unavailable", call: doRevoke, ledgerCall: "RevokeConsent", signed: revoke(key), subject: "pat-1",
			ledgerErr: &ledger.Error{Function: "consents:Revoke", Kind: ledger.ErrUnavailable, Message: "deadline"},
			wantCode:  codes.Unavailable, wantLedger: true},
		{name: "revoke with an unknown ledger error", call: doRevoke, ledgerCall: "RevokeConsent", signed: revoke(key), subject: "pat-1",
			ledgerErr: errors.New("boom at 10.1.2.3"), wantCode: codes.Internal, wantMsg: "internal error", wantLedger: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := patientLedger(key)
			l.grant = func(s ledger.Signed) (ledgerapi.Consent, error) {
				if tt.ledgerErr != nil {
					return ledgerapi.Consent{}, tt.ledgerErr
				}
				return c1, nil
			}
			l.revoke = func(s ledger.Signed) (ledgerapi.Consent, error) {
				if tt.ledgerErr != nil {
					return ledgerapi.Consent{}, tt.ledgerErr
				}
				return revoked(c1), nil
			}
			// The view already has both changes, so no call waits for it.
			v := liveView(t, c1)
			if err := v.Apply(ledger.Block{Number: 1, Events: []ledger.Event{consentEvent(t, eventConsentRevoked, revoked(c1))}}); err != nil {
				t.Fatal(err)
			}
			api, _ := patientService(t, l, v)
			role := tt.role
			if role == "" {
				role = auth.RolePatient
			}
			err := tt.call(as(testContext(t), tt.subject, role, ""), api, tt.signed)
			if codeOf(err) != tt.wantCode {
				t.Fatalf("error = %v, want code %v", err, tt.wantCode)
			}
			msg := status.Convert(err).Message()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to mention %q", msg, tt.wantMsg)
			}
			if tt.wantCode == codes.Internal && msg != "internal error" {
				t.Errorf("internal message = %q, want exactly %q", msg, "internal error")
			}
			if n := l.called(tt.ledgerCall); (n == 1) != tt.wantLedger || n > 1 {
				t.Errorf("ledger %s called %d times, want it called: %v", tt.ledgerCall, n, tt.wantLedger)
			}
			if tt.wantLedger && l.signed[0] != (ledger.Signed{Payload: tt.signed.GetPayload(), Signature: tt.signed.GetSignature()}) {
				t.Errorf("ledger got %+v, want the payload and signature exactly as sent", l.signed[0])
			}
		})
	}
}

func TestGrantConsentResponse(t *testing.T) {
	key := newKey(t, "pat-1")
	s := mustSign(t, func() (ledger.Signed, error) { return key.Grant(labsGrant("c-1")) })
	c := consentOf(t, s, "tx-1")
	c.ExpiresAt = "2031-01-01T00:00:00Z"
	l := patientLedger(key)
	l.grant = func(ledger.Signed) (ledgerapi.Consent, error) { return c, nil }
	api, _ := patientService(t, l, liveView(t, c))
	resp, err := api.GrantConsent(asPatient(t, "pat-1"), &consentv1.GrantConsentRequest{Grant: signedPayload(s)})
	if err != nil {
		t.Fatalf("GrantConsent: %v", err)
	}
	got := resp.GetConsent()
	want := &consentv1.Consent{ConsentId: "c-1", PatientId: "pat-1", Grantee: &consentv1.Grantee{Kind: "user", Id: "ProvidersMSP/dr-alice"},
		Categories: []string{"labs"}, Purposes: []string{"treatment"}, RecordIds: []string{}, ExpiresAt: "2031-01-01T00:00:00Z",
		Status: "active", GrantedAt: "2030-01-02T03:04:06Z"}
	if got.GetConsentId() != want.ConsentId || got.GetPatientId() != want.PatientId || got.GetGrantee().GetId() != "ProvidersMSP/dr-alice" ||
		got.GetGrantee().GetKind() != "user" || !cmp.Equal(got.GetCategories(), want.Categories) || !cmp.Equal(got.GetPurposes(), want.Purposes) ||
		got.GetExpiresAt() != want.ExpiresAt || got.GetStatus() != want.Status || got.GetGrantedAt() != want.GrantedAt {
		t.Errorf("consent = %v, want %v", got, want)
	}
}

// A consent change is in force as soon as the ledger has committed it: the
// next decision sees it, before its block reaches the view; the block, and
// blocks older than it, change nothing after (a revocation is final).
func TestConsentChangeInForceOnCommit(t *testing.T) {
	key := newKey(t, "pat-1")
	for _, op := range []string{"grant", "revoke"} {
		t.Run(op, func(t *testing.T) {
			gs := mustSign(t, func() (ledger.Signed, error) { return key.Grant(labsGrant("c-1")) })
			granted := consentOf(t, gs, "tx-grant-c-1")
			l := patientLedger(key)
			l.grant = func(ledger.Signed) (ledgerapi.Consent, error) { return granted, nil }
			l.revoke = func(ledger.Signed) (ledgerapi.Consent, error) { return revoked(granted), nil }
			v := liveView(t) // the view has not seen the grant's block
			if op == "revoke" {
				v = liveView(t, granted)
			}
			api, svc := patientService(t, l, v)
			svc.awaitView = 20 * time.Second
			start := time.Now()
			var err error
			if op == "grant" {
				_, err = api.GrantConsent(asPatient(t, "pat-1"), &consentv1.GrantConsentRequest{Grant: signedPayload(gs)})
			} else {
				rs := mustSign(t, func() (ledger.Signed, error) { return key.Revoke("c-1") })
				_, err = api.RevokeConsent(asPatient(t, "pat-1"), &consentv1.RevokeConsentRequest{Revocation: signedPayload(rs)})
			}
			if err != nil {
				t.Fatalf("%s: %v", op, err)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("the answer waited for a block")
			}
			want := map[string]string{"grant": ledgerapi.StatusActive, "revoke": ledgerapi.StatusRevoked}[op]
			got := v.Matching("pat-1", "dr-alice", "ProvidersMSP")
			if len(got) != 1 || got[0].Status != want {
				t.Fatalf("view right after the answer = %+v, want c-1 %s", got, want)
			}
			if op == "revoke" {
				// A lagging view then reads the grant's block again (a
				// replica's view, a replay): the revocation stays.
				v.mu.Lock()
				v.put(granted)
				v.mu.Unlock()
				if got := v.Matching("pat-1", "dr-alice", "ProvidersMSP"); got[0].Status != ledgerapi.StatusRevoked {
					t.Fatalf("an older state brought the revoked consent back: %+v", got)
				}
			}
		})
	}
}

// requestFixture is a patient API with one pending request of dr-bob to
// pat-1 for labs and imaging, for treatment.
type requestFixture struct {
	api *patientAPI
	svc *service
	l   *fakeLedger
	key *patientkey.Key
	req accessRequest
}

func newRequestFixture(t *testing.T) *requestFixture {
	t.Helper()
	key := newKey(t, "pat-1")
	l := patientLedger(key)
	l.grant = func(s ledger.Signed) (ledgerapi.Consent, error) { return consentOf(t, s, "tx-approve"), nil }
	api, svc := patientService(t, l, registeredView(t))
	svc.awaitView = time.Millisecond // the view is not followed here
	created, err := api.CreateAccessRequest(as(testContext(t), "dr-bob", auth.RoleClinician, "ProvidersMSP"),
		&consentv1.CreateAccessRequestRequest{PatientId: "pat-1", Categories: []string{"labs", "imaging"}, Purposes: []string{"treatment"}, Reason: "second opinion"})
	if err != nil {
		t.Fatalf("CreateAccessRequest: %v", err)
	}
	r, err := svc.requests.pending(created.GetRequest().GetRequestId(), "pat-1")
	if err != nil {
		t.Fatal(err)
	}
	return &requestFixture{api: api, svc: svc, l: l, key: key, req: r}
}

func TestApproveAccessRequest(t *testing.T) {
	grantTo := func(kind, id string, categories, purposes []string) ledgerapi.ConsentGrant {
		return ledgerapi.ConsentGrant{ConsentID: "c-req", Grantee: ledgerapi.Grantee{Kind: kind, ID: id},
			Categories: categories, Purposes: purposes, RecordIDs: []string{}}
	}
	both, treatment := []string{"labs", "imaging"}, []string{"treatment"}
	tests := []struct {
		name string
		// grant is what the patient signs (with their key unless signer
		// says otherwise).
		grant     ledgerapi.ConsentGrant
		impostor  bool
		requestID func(f *requestFixture) string
		subject   string
		ledgerErr error
		wantCode  codes.Code
		wantMsg   string
	}{
		{name: "the grant asked for", grant: grantTo("user", "ProvidersMSP/dr-bob", both, treatment), wantCode: codes.OK},
		{name: "the grant asked for, listed in another order", grant: grantTo("user", "ProvidersMSP/dr-bob", []string{"imaging", "labs"}, treatment), wantCode: codes.OK},
		{name: "to the requester's organisation instead", grant: grantTo("org", "ProvidersMSP", both, treatment), wantCode: codes.InvalidArgument, wantMsg: "the grant must be to user ProvidersMSP/dr-bob"},
		{name: "to the same user name at another organisation", grant: grantTo("user", "StMarysMSP/dr-bob", both, treatment), wantCode: codes.InvalidArgument, wantMsg: "the grant must be to user ProvidersMSP/dr-bob"},
		{name: "to another user", grant: grantTo("user", "ProvidersMSP/dr-carol", both, treatment), wantCode: codes.InvalidArgument, wantMsg: "the grant must be to user ProvidersMSP/dr-bob"},
		{name: "fewer categories", grant: grantTo("user", "ProvidersMSP/dr-bob", []string{"labs"}, treatment), wantCode: codes.InvalidArgument},
		{name: "other categories, as many", grant: grantTo("user", "ProvidersMSP/dr-bob", []string{"labs", "notes"}, treatment), wantCode: codes.InvalidArgument},
		{name: "more categories", grant: grantTo("user", "ProvidersMSP/dr-bob", []string{"labs", "imaging", "notes"}, treatment), wantCode: codes.InvalidArgument},
		{name: "other purposes", grant: grantTo("user", "ProvidersMSP/dr-bob", both, []string{"treatment", "research"}), wantCode: codes.InvalidArgument},
		{name: "another purpose, as many", grant: grantTo("user", "ProvidersMSP/dr-bob", both, []string{"operations"}), wantCode: codes.InvalidArgument},
		{name: "signed by another key", grant: grantTo("user", "ProvidersMSP/dr-bob", both, treatment), impostor: true, wantCode: codes.PermissionDenied, wantMsg: "signature"},
		{name: "another patient's request", grant: grantTo("user", "ProvidersMSP/dr-bob", both, treatment), subject: "pat-2", wantCode: codes.NotFound},
		{name: "unknown request", grant: grantTo("user", "ProvidersMSP/dr-bob", both, treatment), requestID: func(*requestFixture) string { return "req-nope" }, wantCode: codes.NotFound},
		{name: "the ledger refuses the grant", grant: grantTo("user", "ProvidersMSP/dr-bob", both, treatment),
			ledgerErr: &ledger.Error{Function: "consents:Grant", Kind: ledger.ErrRejected, Reason: ledgerapi.ErrNonce, Message: "stale or replayed nonce: 1"},
			wantCode:  codes.FailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRequestFixture(t)
			if tt.ledgerErr != nil {
				f.l.grant = func(ledger.Signed) (ledgerapi.Consent, error) { return ledgerapi.Consent{}, tt.ledgerErr }
			}
			signer, subject := f.key, "pat-1"
			if tt.impostor {
				signer = newKey(t, "pat-1")
			}
			if tt.subject != "" {
				subject = tt.subject
				signer = newKey(t, subject)
				f.l.patient = patientLedger(signer).patient
			}
			id := f.req.RequestID
			if tt.requestID != nil {
				id = tt.requestID(f)
			}
			s := mustSign(t, func() (ledger.Signed, error) { return signer.Grant(tt.grant) })
			resp, err := f.api.ApproveAccessRequest(asPatient(t, subject), &consentv1.ApproveAccessRequestRequest{RequestId: id, Grant: signedPayload(s)})
			if codeOf(err) != tt.wantCode {
				t.Fatalf("ApproveAccessRequest = %v, want code %v", err, tt.wantCode)
			}
			if msg := status.Convert(err).Message(); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to mention %q", msg, tt.wantMsg)
			}
			stored := f.svc.requests.mustList("pat-1", "")
			if len(stored) != 1 {
				t.Fatalf("pat-1 has %d requests, want 1", len(stored))
			}
			if tt.wantCode != codes.OK {
				if stored[0].State != requestPending || stored[0].ConsentID != "" {
					t.Errorf("request after a refused approval = %+v, want it still pending", stored[0])
				}
				if tt.ledgerErr == nil && f.l.called("GrantConsent") != 0 {
					t.Errorf("the ledger got a grant that does not match the request")
				}
				return
			}
			if f.l.called("GrantConsent") != 1 {
				t.Errorf("ledger GrantConsent called %d times, want 1", f.l.called("GrantConsent"))
			}
			if stored[0].State != requestApproved || stored[0].ConsentID != "c-req" || stored[0].AnsweredAt != "2030-01-02T03:04:05Z" {
				t.Errorf("stored request = %+v, want approved with consent c-req", stored[0])
			}
			if r := resp.GetRequest(); r.GetState() != requestApproved || r.GetConsentId() != "c-req" || r.GetRequestId() != f.req.RequestID {
				t.Errorf("response request = %v, want %s approved with consent c-req", r, f.req.RequestID)
			}
			if resp.GetConsent().GetConsentId() != "c-req" {
				t.Errorf("response consent = %v, want c-req", resp.GetConsent())
			}
			// Only once.
			again := mustSign(t, func() (ledger.Signed, error) { return signer.Grant(tt.grant) })
			_, err = f.api.ApproveAccessRequest(asPatient(t, subject), &consentv1.ApproveAccessRequestRequest{RequestId: id, Grant: signedPayload(again)})
			if codeOf(err) != codes.FailedPrecondition {
				t.Errorf("second approval = %v, want FailedPrecondition", err)
			}
			if f.l.called("GrantConsent") != 1 {
				t.Errorf("a second approval reached the ledger")
			}
		})
	}
}

func TestDenyAccessRequest(t *testing.T) {
	tests := []struct {
		name      string
		who       *auth.Principal
		requestID func(f *requestFixture) string
		wantCode  codes.Code
	}{
		{"the patient denies", patient("pat-1"), nil, codes.OK},
		{"another patient", patient("pat-2"), nil, codes.NotFound},
		{"the requester", staff("dr-bob", auth.RoleClinician, "ProvidersMSP"), nil, codes.PermissionDenied},
		{"unknown request", patient("pat-1"), func(*requestFixture) string { return "req-nope" }, codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRequestFixture(t)
			id := f.req.RequestID
			if tt.requestID != nil {
				id = tt.requestID(f)
			}
			resp, err := f.api.DenyAccessRequest(ctxFor(t, tt.who), &consentv1.DenyAccessRequestRequest{RequestId: id})
			if codeOf(err) != tt.wantCode {
				t.Fatalf("DenyAccessRequest = %v, want code %v", err, tt.wantCode)
			}
			stored := f.svc.requests.mustList("pat-1", "")[0]
			if tt.wantCode != codes.OK {
				if stored.State != requestPending {
					t.Errorf("request = %+v, want it still pending", stored)
				}
				return
			}
			if stored.State != requestDenied || resp.GetRequest().GetState() != requestDenied || stored.ConsentID != "" {
				t.Errorf("stored %+v, response %v; want denied without consent", stored, resp.GetRequest())
			}
			_, err = f.api.DenyAccessRequest(ctxFor(t, tt.who), &consentv1.DenyAccessRequestRequest{RequestId: id})
			if codeOf(err) != codes.FailedPrecondition {
				t.Errorf("second denial = %v, want FailedPrecondition", err)
			}
			if f.l.called("GrantConsent") != 0 {
				t.Error("a denial reached the ledger")
			}
		})
	}
}

func TestCreateAndListAccessRequests(t *testing.T) {
	create := []struct {
		name     string
		who      *auth.Principal
		req      *consentv1.CreateAccessRequestRequest
		wantCode codes.Code
	}{
		{"clinician", staff("dr-bob", auth.RoleClinician, "ProvidersMSP"),
			&consentv1.CreateAccessRequestRequest{PatientId: "pat-1", Categories: []string{"labs"}, Purposes: []string{"treatment"}}, codes.OK},
		{"insurer", staff("ins-1", auth.RoleInsurer, "ProvidersMSP"),
			&consentv1.CreateAccessRequestRequest{PatientId: "pat-1", Categories: []string{"claims"}, Purposes: []string{"payment"}}, codes.OK},
		{"patient may not", patient("pat-2"),
			&consentv1.CreateAccessRequestRequest{PatientId: "pat-1", Categories: []string{"labs"}, Purposes: []string{"treatment"}}, codes.PermissionDenied},
		{"researcher may not", staff("res-1", auth.RoleResearcher, "ResearchMSP"),
			&consentv1.CreateAccessRequestRequest{PatientId: "pat-1", Categories: []string{"labs"}, Purposes: []string{"research"}}, codes.PermissionDenied},
		{"bad category", staff("dr-bob", auth.RoleClinician, "ProvidersMSP"),
			&consentv1.CreateAccessRequestRequest{PatientId: "pat-1", Categories: []string{"genome"}, Purposes: []string{"treatment"}}, codes.InvalidArgument},
	}
	for _, tt := range create {
		t.Run("create/"+tt.name, func(t *testing.T) {
			api, svc := patientService(t, &fakeLedger{}, registeredView(t))
			resp, err := api.CreateAccessRequest(ctxFor(t, tt.who), tt.req)
			if codeOf(err) != tt.wantCode {
				t.Fatalf("CreateAccessRequest = %v, want %v", err, tt.wantCode)
			}
			stored := svc.requests.mustList("pat-1", "")
			if tt.wantCode != codes.OK {
				if len(stored) != 0 {
					t.Errorf("a refused request was stored: %+v", stored)
				}
				return
			}
			p := *tt.who
			r := resp.GetRequest()
			if r.GetRequester() != p.Subject || r.GetRequesterOrg() != p.Org || r.GetRequesterRole() != string(p.Role) ||
				r.GetState() != requestPending || r.GetPatientId() != "pat-1" || r.GetCreatedAt() != "2030-01-02T03:04:05Z" {
				t.Errorf("request = %v, want it pending from %s (%s, %s)", r, p.Subject, p.Org, p.Role)
			}
			if len(stored) != 1 || stored[0].RequestID != r.GetRequestId() {
				t.Errorf("stored = %+v, want the created request", stored)
			}
		})
	}

	list := []struct {
		name     string
		who      *auth.Principal
		state    string
		wantCode codes.Code
		wantN    int
	}{
		{"every state", patient("pat-1"), "", codes.OK, 2},
		{"pending", patient("pat-1"), "pending", codes.OK, 1},
		{"denied", patient("pat-1"), "denied", codes.OK, 1},
		{"approved", patient("pat-1"), "approved", codes.OK, 0},
		{"another patient sees none", patient("pat-2"), "", codes.OK, 0},
		{"bad state", patient("pat-1"), "open", codes.InvalidArgument, 0},
		{"clinician may not list", staff("dr-bob", auth.RoleClinician, "ProvidersMSP"), "", codes.PermissionDenied, 0},
	}
	for _, tt := range list {
		t.Run("list/"+tt.name, func(t *testing.T) {
			f := newRequestFixture(t)
			second, err := f.svc.requests.create(labsRequest("pat-1", "dr-carol"), testNow.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.requests.answer(second.RequestID, "pat-1", requestDenied, "", testNow.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			resp, err := f.api.ListAccessRequests(ctxFor(t, tt.who), &consentv1.ListAccessRequestsRequest{State: tt.state})
			if codeOf(err) != tt.wantCode {
				t.Fatalf("ListAccessRequests = %v, want %v", err, tt.wantCode)
			}
			if got := len(resp.GetRequests()); got != tt.wantN {
				t.Errorf("%d requests, want %d", got, tt.wantN)
			}
			for _, r := range resp.GetRequests() {
				if (tt.state != "" && r.GetState() != tt.state) || r.GetPatientId() != "pat-1" {
					t.Errorf("listed %v for state %q", r, tt.state)
				}
			}
		})
	}
}

func TestListConsentsAndAccessLog(t *testing.T) {
	type asked struct {
		patient  string
		size     int
		bookmark string
	}
	tests := []struct {
		name     string
		pageSize int32
		token    string
		wantCode codes.Code
		want     asked
	}{
		{"default page size", 0, "", codes.OK, asked{"pat-1", 50, ""}},
		{"page size and token", 100, "bm-2", codes.OK, asked{"pat-1", 100, "bm-2"}},
		{"page size too large", 101, "", codes.InvalidArgument, asked{}},
		{"negative page size", -1, "", codes.InvalidArgument, asked{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotConsents, gotEvents asked
			l := &fakeLedger{
				consents: func(p string, n int, b string) (ledgerapi.ConsentPage, error) {
					gotConsents = asked{p, n, b}
					return ledgerapi.ConsentPage{Items: []ledgerapi.Consent{activeConsent("c-1", p, "user", "dr-alice", labsOnly, treatmentOnly)}, Bookmark: "next", Count: 1}, nil
				},
				events: func(p string, n int, b string) (ledgerapi.AccessEventPage, error) {
					gotEvents = asked{p, n, b}
					return ledgerapi.AccessEventPage{Items: accessEvents(2), Count: 2}, nil
				},
			}
			api, _ := patientService(t, l, registeredView(t))
			ctx := asPatient(t, "pat-1")
			cs, err := api.ListConsents(ctx, &consentv1.ListConsentsRequest{PageSize: tt.pageSize, PageToken: tt.token})
			if codeOf(err) != tt.wantCode {
				t.Fatalf("ListConsents = %v, want %v", err, tt.wantCode)
			}
			es, err := api.GetAccessLog(ctx, &consentv1.GetAccessLogRequest{PageSize: tt.pageSize, PageToken: tt.token})
			if codeOf(err) != tt.wantCode {
				t.Fatalf("GetAccessLog = %v, want %v", err, tt.wantCode)
			}
			if gotConsents != tt.want || gotEvents != tt.want {
				t.Errorf("ledger asked %+v and %+v, want %+v (the caller's own records)", gotConsents, gotEvents, tt.want)
			}
			if tt.wantCode != codes.OK {
				return
			}
			if len(cs.GetConsents()) != 1 || cs.GetNextPageToken() != "next" || len(es.GetEvents()) != 2 || es.GetEvents()[1].GetEventId() != "ev-001" {
				t.Errorf("responses = %v / %v, want the ledger's pages", cs, es)
			}
		})
	}
	t.Run("a patient's SMART app reads only within its scopes", func(t *testing.T) {
		l := &fakeLedger{
			consents: func(string, int, string) (ledgerapi.ConsentPage, error) { return ledgerapi.ConsentPage{}, nil },
			events:   func(string, int, string) (ledgerapi.AccessEventPage, error) { return ledgerapi.AccessEventPage{}, nil },
		}
		api, _ := patientService(t, l, registeredView(t))
		app := auth.NewContext(testContext(t), auth.Principal{Subject: "pat-1", Role: auth.RolePatient, Scoped: true,
			Scopes: "patient/AuditEvent.rs", LaunchPatient: "pat-1"})
		if _, err := api.GetAccessLog(app, &consentv1.GetAccessLogRequest{}); err != nil {
			t.Errorf("access log within patient/AuditEvent.rs: %v", err)
		}
		if _, err := api.ListConsents(app, &consentv1.ListConsentsRequest{}); codeOf(err) != codes.PermissionDenied || l.called("ConsentsByPatient") != 0 {
			t.Errorf("consents outside the scopes: %v (ledger asked %d times)", err, l.called("ConsentsByPatient"))
		}
	})
	t.Run("clinician may not read a patient's log", func(t *testing.T) {
		l := &fakeLedger{}
		api, _ := patientService(t, l, registeredView(t))
		_, err := api.GetAccessLog(as(testContext(t), "dr-bob", auth.RoleClinician, "ProvidersMSP"), &consentv1.GetAccessLogRequest{})
		if codeOf(err) != codes.PermissionDenied || l.called("AccessEvents") != 0 {
			t.Errorf("GetAccessLog by a clinician = %v (ledger asked %d times), want PermissionDenied", err, l.called("AccessEvents"))
		}
	})
}

func TestPairAndRevokeDevice(t *testing.T) {
	key := newKey(t, "pat-1")
	impostor := newKey(t, "pat-1") // same patient id, not the registered key
	other := newKey(t, "pat-2")
	_, devicePriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	devicePublic := base64.StdEncoding.EncodeToString(devicePriv.Public().(ed25519.PublicKey))
	paired := ledgerapi.Device{DeviceID: "watch-1", PatientID: "pat-1", PublicKey: devicePublic,
		Status: ledgerapi.StatusActive, RegisteredAt: "2030-01-02T03:04:06Z"}
	unpaired := paired
	unpaired.Status, unpaired.RevokedAt = ledgerapi.StatusRevoked, "2030-01-02T03:04:07Z"

	pair := func(k *patientkey.Key, publicKey string) *consentv1.SignedPayload {
		return signedPayload(mustSign(t, func() (ledger.Signed, error) { return k.RegisterDevice("watch-1", publicKey) }))
	}
	unpair := func(k *patientkey.Key) *consentv1.SignedPayload {
		return signedPayload(mustSign(t, func() (ledger.Signed, error) { return k.RevokeDevice("watch-1") }))
	}
	grant := signedPayload(mustSign(t, func() (ledger.Signed, error) { return key.Grant(labsGrant("c-1")) }))
	doPair := func(ctx context.Context, api *patientAPI, sp *consentv1.SignedPayload) (*consentv1.Device, error) {
		resp, err := api.PairDevice(ctx, &consentv1.PairDeviceRequest{Registration: sp})
		return resp.GetDevice(), err
	}
	doRevoke := func(ctx context.Context, api *patientAPI, sp *consentv1.SignedPayload) (*consentv1.Device, error) {
		resp, err := api.RevokeDevice(ctx, &consentv1.RevokeDeviceRequest{Revocation: sp})
		return resp.GetDevice(), err
	}
	rejected := func(fn string, reason error, msg string) error {
		return &ledger.Error{Function: fn, Kind: ledger.ErrRejected, Reason: reason, Message: msg}
	}
	tests := []struct {
		name       string
		call       func(context.Context, *patientAPI, *consentv1.SignedPayload) (*consentv1.Device, error)
		ledgerCall string
		signed     *consentv1.SignedPayload
		who        *auth.Principal
		// ledgerErr is what the ledger's register or revoke returns.
		ledgerErr error
		wantCode  codes.Code
		wantMsg   string
		// wantLedger: whether the change reaches the ledger.
		wantLedger bool
		want       ledgerapi.Device
	}{
		{name: "the patient pairs their device", call: doPair, ledgerCall: "RegisterDevice", signed: pair(key, devicePublic), who: patient("pat-1"),
			wantCode: codes.OK, wantLedger: true, want: paired},
		{name: "pairing signed by another key", call: doPair, ledgerCall: "RegisterDevice", signed: pair(impostor, devicePublic), who: patient("pat-1"),
			wantCode: codes.PermissionDenied, wantMsg: "signature"},
		{name: "another patient's pairing", call: doPair, ledgerCall: "RegisterDevice", signed: pair(other, devicePublic), who: patient("pat-1"),
			wantCode: codes.PermissionDenied, wantMsg: "speaks for patient pat-2"},
		{name: "pairing by a clinician", call: doPair, ledgerCall: "RegisterDevice", signed: pair(key, devicePublic), who: staff("pat-1", auth.RoleClinician, "ProvidersMSP"),
			wantCode: codes.PermissionDenied, wantMsg: "role clinician"},
		{name: "pairing without a verified caller", call: doPair, ledgerCall: "RegisterDevice", signed: pair(key, devicePublic), who: nobody,
			wantCode: codes.PermissionDenied, wantMsg: "no verified caller"},
		{name: "pairing by an unregistered patient", call: doPair, ledgerCall: "RegisterDevice", signed: pair(other, devicePublic), who: patient("pat-2"),
			wantCode: codes.NotFound, wantMsg: "pat-2"},
		{name: "no payload", call: doPair, ledgerCall: "RegisterDevice", signed: nil, who: patient("pat-1"),
			wantCode: codes.InvalidArgument, wantMsg: "signed payload"},
		{name: "payload that is not JSON", call: doPair, ledgerCall: "RegisterDevice", signed: &consentv1.SignedPayload{Payload: "watch-1", Signature: "c2ln"}, who: patient("pat-1"),
			wantCode: codes.InvalidArgument, wantMsg: "malformed JSON"},
		{name: "a device key that is not Ed25519", call: doPair, ledgerCall: "RegisterDevice", signed: pair(key, "bm90IGEga2V5"), who: patient("pat-1"),
			wantCode: codes.InvalidArgument, wantMsg: "publicKey"},
		{name: "a revocation sent as a pairing", call: doPair, ledgerCall: "RegisterDevice", signed: unpair(key), who: patient("pat-1"),
			wantCode: codes.InvalidArgument, wantMsg: `the payload is for op "device.revoke", this call takes op "device.register"`},
		{name: "a consent grant sent as a pairing", call: doPair, ledgerCall: "RegisterDevice", signed: grant, who: patient("pat-1"),
			wantCode: codes.InvalidArgument, wantMsg: `op "consent.grant"`},
		{name: "device id taken", call: doPair, ledgerCall: "RegisterDevice", signed: pair(key, devicePublic), who: patient("pat-1"),
			ledgerErr: rejected("devices:Register", ledgerapi.ErrExists, "already registered: device watch-1"),
			wantCode:  codes.AlreadyExists, wantMsg: "already registered", wantLedger: true},
		{name: "pairing with a stale nonce", call: doPair, ledgerCall: "RegisterDevice", signed: pair(key, devicePublic), who: patient("pat-1"),
			ledgerErr: rejected("devices:Register", ledgerapi.ErrNonce, "stale or replayed nonce: 1 <= 3"),
			wantCode:  codes.FailedPrecondition, wantMsg: "nonce", wantLedger: true},
		{name: "pairing with the ledger unavailable", call: doPair, ledgerCall: "RegisterDevice", signed: pair(key, devicePublic), who: patient("pat-1"),
			ledgerErr: &ledger.Error{Function: "devices:Register", Kind: ledger.ErrUnavailable, Message: "connection refused"},
			wantCode:  codes.Unavailable, wantMsg: "ledger unavailable", wantLedger: true},
		{name: "the patient revokes their device", call: doRevoke, ledgerCall: "RevokeDevice", signed: unpair(key), who: patient("pat-1"),
			wantCode: codes.OK, wantLedger: true, want: unpaired},
		{name: "revocation signed by another key", call: doRevoke, ledgerCall: "RevokeDevice", signed: unpair(impostor), who: patient("pat-1"),
			wantCode: codes.PermissionDenied, wantMsg: "signature"},
		{name: "another patient's revocation", call: doRevoke, ledgerCall: "RevokeDevice", signed: unpair(other), who: patient("pat-1"),
			wantCode: codes.PermissionDenied, wantMsg: "speaks for patient pat-2"},
		{name: "revocation by a clinician", call: doRevoke, ledgerCall: "RevokeDevice", signed: unpair(key), who: staff("dr-bob", auth.RoleClinician, "ProvidersMSP"),
			wantCode: codes.PermissionDenied, wantMsg: "role clinician"},
		{name: "revocation of another patient's device", call: doRevoke, ledgerCall: "RevokeDevice", signed: unpair(key), who: patient("pat-1"),
			ledgerErr: rejected("devices:Revoke", ledgerapi.ErrForbidden, "forbidden: device watch-1 is not registered to patient pat-1"),
			wantCode:  codes.PermissionDenied, wantMsg: "not registered to patient pat-1", wantLedger: true},
		{name: "revocation of a revoked device", call: doRevoke, ledgerCall: "RevokeDevice", signed: unpair(key), who: patient("pat-1"),
			ledgerErr: rejected("devices:Revoke", ledgerapi.ErrConflict, "conflicts with the ledger: device watch-1 is already revoked"),
			wantCode:  codes.FailedPrecondition, wantMsg: "already revoked", wantLedger: true},
		{name: "a pairing sent as a revocation", call: doRevoke, ledgerCall: "RevokeDevice", signed: pair(key, devicePublic), who: patient("pat-1"),
			wantCode: codes.InvalidArgument, wantMsg: `this call takes op "device.revoke"`},
		{name: "revocation with an unknown ledger error", call: doRevoke, ledgerCall: "RevokeDevice", signed: unpair(key), who: patient("pat-1"),
			ledgerErr: errors.New("boom at 10.1.2.3"), wantCode: codes.Internal, wantMsg: "internal error", wantLedger: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := patientLedger(key)
			answer := func(d ledgerapi.Device) func(ledger.Signed) (ledgerapi.Device, error) {
				return func(ledger.Signed) (ledgerapi.Device, error) {
					if tt.ledgerErr != nil {
						return ledgerapi.Device{}, tt.ledgerErr
					}
					return d, nil
				}
			}
			l.pair, l.unpair = answer(paired), answer(unpaired)
			api, _ := patientService(t, l, registeredView(t))
			got, err := tt.call(ctxFor(t, tt.who), api, tt.signed)
			if codeOf(err) != tt.wantCode {
				t.Fatalf("error = %v, want code %v", err, tt.wantCode)
			}
			msg := status.Convert(err).Message()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to mention %q", msg, tt.wantMsg)
			}
			if tt.wantCode == codes.Internal && msg != "internal error" {
				t.Errorf("internal message = %q, want exactly %q", msg, "internal error")
			}
			calls := l.called("RegisterDevice") + l.called("RevokeDevice")
			if n := l.called(tt.ledgerCall); (n == 1) != tt.wantLedger || calls != n {
				t.Fatalf("ledger %s called %d times (device calls: %d), want it called: %v", tt.ledgerCall, n, calls, tt.wantLedger)
			}
			if tt.wantLedger && l.signed[0] != (ledger.Signed{Payload: tt.signed.GetPayload(), Signature: tt.signed.GetSignature()}) {
				t.Errorf("ledger got %+v, want the payload and signature exactly as sent", l.signed[0])
			}
			if tt.wantCode != codes.OK {
				return
			}
			want := &consentv1.Device{DeviceId: tt.want.DeviceID, PatientId: tt.want.PatientID, PublicKey: tt.want.PublicKey,
				Status: tt.want.Status, RegisteredAt: tt.want.RegisteredAt, RevokedAt: tt.want.RevokedAt}
			if !proto.Equal(got, want) {
				t.Errorf("device = %v, want %v", got, want)
			}
		})
	}
}
