package patientcli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/domain/patientkey"
)

// fakeGateway answers the routes the CLI uses and keeps what it was sent.
type fakeGateway struct {
	mu       sync.Mutex
	received map[string][]byte
	auth     []string
	// patient is the one patient's ledger entry the key routes keep: they
	// check signatures and nonces as the chaincode does.
	patient *consentv1.Patient
	// unknownOutcome makes the key routes answer 503 after taking the
	// change, as a ledger whose commit status is unknown would look.
	unknownOutcome bool
	// raceNonce makes the next read of the patient's entry be followed by
	// another device's change, which takes the nonce the reader will sign.
	raceNonce bool
}

// refuse answers a gRPC-status JSON error.
func refuse(w http.ResponseWriter, httpStatus, code int, msg string) {
	w.WriteHeader(httpStatus)
	b, _ := json.Marshal(map[string]any{"code": code, "message": msg})
	w.Write(b)
}

// keyChange checks a change signed by signerKey with a nonce above last,
// and the new key's proof of possession; it returns the payload's header
// and new key.
func keyChange(sp *consentv1.SignedPayload, newSig, signerKey string, last uint64) (nonce uint64, newKey string, err error) {
	if err := ledgerapi.VerifySignature(signerKey, []byte(sp.GetPayload()), sp.GetSignature()); err != nil {
		return 0, "", err
	}
	var h struct {
		Nonce        uint64 `json:"nonce"`
		NewPublicKey string `json:"newPublicKey"`
	}
	if err := json.Unmarshal([]byte(sp.GetPayload()), &h); err != nil {
		return 0, "", err
	}
	if h.Nonce <= last {
		return 0, "", errors.New("stale nonce")
	}
	if newSig != "" {
		if err := ledgerapi.VerifySignature(h.NewPublicKey, []byte(sp.GetPayload()), newSig); err != nil {
			return 0, "", err
		}
	}
	return h.Nonce, h.NewPublicKey, nil
}

func (f *fakeGateway) keyRoute(w http.ResponseWriter, path string, body []byte) bool {
	p := f.patient
	answer := func(m proto.Message) {
		if f.unknownOutcome {
			refuse(w, http.StatusServiceUnavailable, 14, "ledger commit status unknown")
			return
		}
		out, _ := protojson.Marshal(m)
		w.Write(out)
	}
	switch path {
	case "/v1/patients:register":
		var req consentv1.RegisterPatientRequest
		protojson.Unmarshal(body, &req)
		reg, err := ledgerapi.Parse[ledgerapi.PatientRegistration]([]byte(req.GetRegistration().GetPayload()))
		if err == nil {
			err = ledgerapi.VerifySignature(reg.PublicKey, []byte(req.GetRegistration().GetPayload()), req.GetRegistration().GetSignature())
		}
		if err != nil {
			refuse(w, http.StatusBadRequest, 3, err.Error())
			return true
		}
		f.patient = &consentv1.Patient{PatientId: reg.PatientID, PublicKey: reg.PublicKey, Nonce: reg.Nonce, KeyVersion: 1,
			RecoveryKey: reg.RecoveryKey, RecoveryDelaySeconds: reg.RecoveryDelaySeconds}
		answer(&consentv1.RegisterPatientResponse{PatientId: reg.PatientID, PublicKey: reg.PublicKey, RegisteredAt: "2026-01-02T03:04:05Z"})
	case "/v1/patients/me":
		out, _ := protojson.Marshal(&consentv1.GetPatientResponse{Patient: p})
		w.Write(out)
		if f.raceNonce && p != nil {
			f.raceNonce = false
			p.Nonce++
		}
	case "/v1/patients/me:rotate-key":
		var req consentv1.RotateKeyRequest
		protojson.Unmarshal(body, &req)
		nonce, newKey, err := keyChange(req.GetRotation(), req.GetNewKeySignature(), p.GetPublicKey(), p.GetNonce())
		if err != nil {
			refuse(w, http.StatusForbidden, 7, err.Error())
			return true
		}
		p.PublicKey, p.Nonce, p.KeyVersion, p.Recovery = newKey, nonce, p.KeyVersion+1, nil
		answer(&consentv1.RotateKeyResponse{Patient: p})
	case "/v1/patients/me:request-recovery":
		var req consentv1.RequestRecoveryRequest
		protojson.Unmarshal(body, &req)
		nonce, newKey, err := keyChange(req.GetRecovery(), req.GetNewKeySignature(), p.GetRecoveryKey(), p.GetRecoveryNonce())
		if err != nil {
			refuse(w, http.StatusForbidden, 7, err.Error())
			return true
		}
		p.RecoveryNonce, p.Recovery = nonce, &consentv1.PendingRecovery{NewPublicKey: newKey, EffectiveAt: "2026-01-05T03:04:05Z"}
		answer(&consentv1.RequestRecoveryResponse{Patient: p})
	case "/v1/patients/me:cancel-recovery":
		var req consentv1.CancelRecoveryRequest
		protojson.Unmarshal(body, &req)
		nonce, _, err := keyChange(req.GetCancellation(), "", p.GetPublicKey(), p.GetNonce())
		if err != nil || p.Recovery == nil {
			refuse(w, http.StatusForbidden, 7, fmt.Sprint("cannot cancel: ", err))
			return true
		}
		p.Nonce, p.Recovery = nonce, nil
		answer(&consentv1.CancelRecoveryResponse{Patient: p})
	case "/v1/patients/me:complete-recovery":
		if p.GetRecovery() == nil {
			refuse(w, http.StatusPreconditionFailed, 9, "no pending recovery")
			return true
		}
		p.PublicKey, p.KeyVersion, p.Recovery = p.Recovery.NewPublicKey, p.KeyVersion+1, nil
		answer(&consentv1.CompleteRecoveryResponse{Patient: p})
	default:
		return false
	}
	return true
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.received[r.URL.Path] = body
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	if f.keyRoute(w, r.URL.Path, body) {
		return
	}
	switch r.URL.Path {
	case "/v1/consents:grant":
		var req consentv1.GrantConsentRequest
		protojson.Unmarshal(body, &req)
		g, err := ledgerapi.Parse[ledgerapi.ConsentGrant]([]byte(req.GetGrant().GetPayload()))
		if err != nil {
			http.Error(w, `{"code":3,"message":"`+err.Error()+`"}`, http.StatusBadRequest)
			return
		}
		if p := f.patient; p != nil {
			if err := ledgerapi.VerifySignature(p.GetPublicKey(), []byte(req.GetGrant().GetPayload()), req.GetGrant().GetSignature()); err != nil {
				refuse(w, http.StatusForbidden, 7, err.Error())
				return
			}
			if g.Nonce <= p.Nonce {
				refuse(w, http.StatusBadRequest, 9, fmt.Sprintf("stale or replayed nonce: nonce %d must be greater than %d", g.Nonce, p.Nonce))
				return
			}
			p.Nonce = g.Nonce
		}
		out, _ := protojson.Marshal(&consentv1.GrantConsentResponse{Consent: &consentv1.Consent{
			ConsentId: g.ConsentID, PatientId: g.PatientID, Status: "active", Categories: g.Categories, Purposes: g.Purposes,
			Grantee: &consentv1.Grantee{Kind: g.Grantee.Kind, Id: g.Grantee.ID}}})
		w.Write(out)
	case "/v1/consents:revoke":
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"code":9,"message":"stale or replayed nonce: nonce 3 must be greater than 5","details":[]}`))
	case "/v1/devices:pair":
		var req consentv1.PairDeviceRequest
		protojson.Unmarshal(body, &req)
		d, err := ledgerapi.Parse[ledgerapi.DeviceRegistration]([]byte(req.GetRegistration().GetPayload()))
		if err != nil {
			http.Error(w, `{"code":3,"message":"`+err.Error()+`"}`, http.StatusBadRequest)
			return
		}
		out, _ := protojson.Marshal(&consentv1.PairDeviceResponse{Device: &consentv1.Device{
			DeviceId: d.DeviceID, PatientId: d.PatientID, PublicKey: d.PublicKey, Status: "active", RegisteredAt: "2026-01-02T03:04:05Z"}})
		w.Write(out)
	case "/v1/devices:revoke":
		var req consentv1.RevokeDeviceRequest
		protojson.Unmarshal(body, &req)
		d, err := ledgerapi.Parse[ledgerapi.DeviceRevocation]([]byte(req.GetRevocation().GetPayload()))
		if err != nil {
			http.Error(w, `{"code":3,"message":"`+err.Error()+`"}`, http.StatusBadRequest)
			return
		}
		if d.DeviceID != "watch-1" {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"code":7,"message":"forbidden: device ` + d.DeviceID + ` is not registered to patient ` + d.PatientID + `","details":[]}`))
			return
		}
		out, _ := protojson.Marshal(&consentv1.RevokeDeviceResponse{Device: &consentv1.Device{
			DeviceId: d.DeviceID, PatientId: d.PatientID, PublicKey: "cHVi", Status: "revoked",
			RegisteredAt: "2026-01-02T03:04:05Z", RevokedAt: "2026-01-03T03:04:05Z"}})
		w.Write(out)
	case "/v1/access-requests":
		out, _ := protojson.Marshal(&consentv1.ListAccessRequestsResponse{Requests: []*consentv1.AccessRequest{{
			RequestId: "req-1", PatientId: "pat-1", Requester: "dr-bob", RequesterOrg: "ProvidersMSP", Categories: []string{"imaging"},
			Purposes: []string{"treatment"}, State: "pending"}}})
		w.Write(out)
	case "/v1/access-requests/req-1:approve":
		out, _ := protojson.Marshal(&consentv1.ApproveAccessRequestResponse{
			Request: &consentv1.AccessRequest{RequestId: "req-1", State: "approved"}, Consent: &consentv1.Consent{ConsentId: "c-x"}})
		w.Write(out)
	case "/v1/notifications":
		out, _ := protojson.Marshal(&consentv1.ListNotificationsResponse{Notifications: []*consentv1.Notification{
			{Seq: 1, Kind: "access", Actor: "dr-bob", ActorRole: "clinician", ActorOrg: "StMarysMSP", Action: "read", Resource: "category/labs", Decision: "deny", ReasonCodes: []string{"no-consent"}},
			{Seq: 2, Kind: "break-glass", Actor: "dr-er", ActorRole: "clinician", ActorOrg: "ProvidersMSP", Resource: "category/imaging", BreakGlassReason: "unresponsive", GrantUntil: "T+4h"},
		}})
		w.Write(out)
	case "/v1/notifications/events":
		if r.Header.Get("Authorization") == "" || r.URL.Query().Get("after") != "1" {
			http.Error(w, `{"code":16,"message":"bad"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		n, _ := protojson.Marshal(&consentv1.Notification{Seq: 2, Kind: "consent-expiring", ConsentId: "c-9", Grantee: "org:PharmacyMSP", ExpiresAt: "2030"})
		fmt.Fprintf(w, ": alive\n\nid: 2\nevent: notification\ndata: %s\n\n", n)
	case "/v1/patients/pat-1/records:erase":
		var req recordsv1.ErasePatientRecordsRequest
		protojson.Unmarshal(body, &req)
		e, err := ledgerapi.Parse[ledgerapi.PatientErasure]([]byte(req.GetErasure().GetPayload()))
		if err == nil {
			err = ledgerapi.VerifySignature(f.patient.GetPublicKey(), []byte(req.GetErasure().GetPayload()), req.GetErasure().GetSignature())
		}
		if err != nil || e.PatientID != req.GetPatientId() {
			refuse(w, http.StatusForbidden, 7, fmt.Sprint("erasure not signed by the patient: ", err))
			return
		}
		out, _ := protojson.Marshal(&recordsv1.ErasePatientRecordsResponse{
			PatientId: req.GetPatientId(), ErasureId: e.ErasureID, ObjectsDeleted: 3, KeyId: "k-1", ErasedAt: "2026-01-02T03:04:05Z", TxId: "tx-9"})
		w.Write(out)
	default:
		http.NotFound(w, r)
	}
}

// requests is how many calls the fake gateway answered.
func (f *fakeGateway) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.auth)
}

type fixture struct {
	gw     *fakeGateway
	server *httptest.Server
	ca     string
	key    string
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{gw: &fakeGateway{received: map[string][]byte{}}}
	f.server = httptest.NewUnstartedServer(f.gw)
	f.server.EnableHTTP2 = true
	f.server.StartTLS()
	t.Cleanup(f.server.Close)
	dir := t.TempDir()
	f.ca = filepath.Join(dir, "ca.pem")
	os.WriteFile(f.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.server.Certificate().Raw}), 0o600)
	f.key = filepath.Join(dir, "key.json")
	return f
}

// run runs the CLI with the fixture's server, CA, key and a token.
func (f *fixture) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	full := append([]string{args[0], "--server", f.server.URL, "--ca", f.ca, "--key", f.key, "--token", "tok-123"}, args[1:]...)
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Run(ctx, full, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	t.Setenv("HX_TOKEN", "secret-token-value")
	tests := map[string]struct {
		args []string
		code int
	}{
		"no command":                         {nil, 2},
		"help":                               {[]string{"--help"}, 0},
		"unknown command":                    {[]string{"frobnicate"}, 2},
		"command help":                       {[]string{"grant", "--help"}, 0},
		"unknown flag":                       {[]string{"consents", "--nope"}, 2},
		"missing arg":                        {[]string{"revoke"}, 2},
		"extra arg":                          {[]string{"consents", "x"}, 2},
		"bad grantee":                        {[]string{"grant", "--to", "dr-a", "--categories", "labs", "--purposes", "treatment"}, 2},
		"bad time":                           {[]string{"grant", "--to", "user:ProvidersMSP/dr-a", "--categories", "labs", "--purposes", "treatment", "--expires", "tomorrow"}, 2},
		"device without a subcommand":        {[]string{"device"}, 2},
		"device help":                        {[]string{"device", "--help"}, 0},
		"device pair help":                   {[]string{"device", "pair", "--help"}, 0},
		"unknown device subcommand":          {[]string{"device", "unpair", "watch-1"}, 2},
		"pair without a key":                 {[]string{"device", "pair", "--id", "watch-1"}, 2},
		"pair without an id":                 {[]string{"device", "pair", "--public-key", devicePublicKey}, 2},
		"pair with a key that is not base64": {[]string{"device", "pair", "--id", "watch-1", "--public-key", "not base64!"}, 2},
		"pair with a key of the wrong size":  {[]string{"device", "pair", "--id", "watch-1", "--public-key", "AAAA"}, 2},
		"pair with a bad id":                 {[]string{"device", "pair", "--id", "watch 1", "--public-key", devicePublicKey}, 2},
		"pair with an argument":              {[]string{"device", "pair", "watch-1", "--id", "watch-1", "--public-key", devicePublicKey}, 2},
		"revoke without a device":            {[]string{"device", "revoke"}, 2},
		"revoke with a pairing flag":         {[]string{"device", "revoke", "watch-1", "--public-key", devicePublicKey}, 2},
		"both ends":                          {[]string{"grant", "--to", "user:ProvidersMSP/dr-a", "--categories", "labs", "--purposes", "treatment", "--expires", "2030-01-01T00:00:00Z", "--for", "1h"}, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			code := Run(ctx, tc.args, &out, &errOut)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errOut.String())
			}
			if strings.Contains(out.String()+errOut.String(), "secret-token-value") {
				t.Fatal("the bearer token was printed")
			}
		})
	}
}

func TestKeygen(t *testing.T) {
	f := newFixture(t)
	if code, _, errOut := f.run(t, "keygen", "--id", "pat-1"); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errOut)
	}
	fi, err := os.Stat(f.key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if code, _, errOut := f.run(t, "keygen", "--id", "pat-1"); code != 1 || !strings.Contains(errOut, "refusing to overwrite") {
		t.Fatalf("second keygen: exit %d: %s", code, errOut)
	}
}

func TestGrantIsSignedWithTheKey(t *testing.T) {
	f := newFixture(t)
	f.run(t, "keygen", "--id", "pat-1")
	code, out, errOut := f.run(t, "grant", "--to", "user:ProvidersMSP/dr-a", "--categories", "labs, vitals", "--purposes", "treatment", "--for", "24h", "--json")
	if code != 0 {
		t.Fatalf("grant: exit %d: %s", code, errOut)
	}
	var req consentv1.GrantConsentRequest
	if err := protojson.Unmarshal(f.gw.received["/v1/consents:grant"], &req); err != nil {
		t.Fatal(err)
	}
	k, err := patientkey.Load(f.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledgerapi.VerifySignature(k.PublicKey(), []byte(req.GetGrant().GetPayload()), req.GetGrant().GetSignature()); err != nil {
		t.Fatalf("the grant's signature does not verify with the patient's key: %v", err)
	}
	g, err := ledgerapi.Parse[ledgerapi.ConsentGrant]([]byte(req.GetGrant().GetPayload()))
	if err != nil {
		t.Fatal(err)
	}
	if g.PatientID != "pat-1" || g.Grantee.ID != "ProvidersMSP/dr-a" || strings.Join(g.Categories, ",") != "labs,vitals" || g.ExpiresAt == "" {
		t.Fatalf("grant payload %+v", g)
	}
	if f.gw.auth[0] != "Bearer tok-123" {
		t.Fatalf("Authorization header %q", f.gw.auth[0])
	}
	var resp map[string]any
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}

	t.Run("the next payload carries a greater nonce, saved before sending", func(t *testing.T) {
		f.run(t, "grant", "--to", "org:ResearchMSP", "--categories", "labs", "--purposes", "research")
		var again consentv1.GrantConsentRequest
		protojson.Unmarshal(f.gw.received["/v1/consents:grant"], &again)
		g2, _ := ledgerapi.Parse[ledgerapi.ConsentGrant]([]byte(again.GetGrant().GetPayload()))
		if g2.Nonce <= g.Nonce {
			t.Fatalf("nonce %d after %d", g2.Nonce, g.Nonce)
		}
	})

	t.Run("a consent to one study", func(t *testing.T) {
		if code, _, errOut := f.run(t, "grant", "--to", "study:study-1", "--categories", "labs", "--purposes", "research"); code != 0 {
			t.Fatalf("grant: exit %d: %s", code, errOut)
		}
		var req consentv1.GrantConsentRequest
		protojson.Unmarshal(f.gw.received["/v1/consents:grant"], &req)
		g, err := ledgerapi.Parse[ledgerapi.ConsentGrant]([]byte(req.GetGrant().GetPayload()))
		if err != nil || g.Grantee != (ledgerapi.Grantee{Kind: ledgerapi.GranteeStudy, ID: "study-1"}) {
			t.Fatalf("grant payload %+v, %v", g, err)
		}
	})
}

func TestServerErrorIsShown(t *testing.T) {
	f := newFixture(t)
	f.run(t, "keygen", "--id", "pat-1")
	code, _, errOut := f.run(t, "revoke", "c-1", "--json") // a flag after the argument
	if code != 1 || !strings.Contains(errOut, "stale or replayed nonce") {
		t.Fatalf("exit %d, stderr %q; want 1 and the service's message", code, errOut)
	}
}

func TestApproveGrantsWhatWasAsked(t *testing.T) {
	f := newFixture(t)
	f.run(t, "keygen", "--id", "pat-1")
	if code, _, errOut := f.run(t, "approve", "req-1", "--for", "168h"); code != 0 {
		t.Fatalf("approve: exit %d: %s", code, errOut)
	}
	var req consentv1.ApproveAccessRequestRequest
	protojson.Unmarshal(f.gw.received["/v1/access-requests/req-1:approve"], &req)
	g, err := ledgerapi.Parse[ledgerapi.ConsentGrant]([]byte(req.GetGrant().GetPayload()))
	if err != nil {
		t.Fatal(err)
	}
	if req.GetRequestId() != "req-1" || g.Grantee.ID != "ProvidersMSP/dr-bob" || strings.Join(g.Categories, ",") != "imaging" || g.ExpiresAt == "" {
		t.Fatalf("approval %v with grant %+v", req.GetRequestId(), g)
	}
	if code, _, errOut := f.run(t, "approve", "req-404"); code != 1 || !strings.Contains(errOut, "no pending access request") {
		t.Fatalf("approving an unknown request: exit %d: %s", code, errOut)
	}
}

func TestErase(t *testing.T) {
	f := newFixture(t)
	f.run(t, "keygen", "--id", "pat-1")
	f.run(t, "register")
	tests := map[string]struct {
		args     []string
		code     int
		wantSent bool
		want     string // in stdout (exit 0) or stderr
	}{
		"without --confirm it refuses and sends nothing": {
			args: []string{"erase", "--records-server", f.server.URL}, code: 2, want: "cannot be undone",
		},
		"with --confirm it sends the key's signed request": {
			args: []string{"erase", "--confirm", "--records-server", f.server.URL}, code: 0, wantSent: true, want: "record versions deleted   3",
		},
		"the erasure id can be chosen, to resume": {
			args: []string{"erase", "--confirm", "--records-server", f.server.URL, "--id", "erase-again"}, code: 0, wantSent: true, want: "erase-again",
		},
		"a bad erasure id is refused before anything is signed": {
			args: []string{"erase", "--confirm", "--records-server", f.server.URL, "--id", "no spaces"}, code: 2, want: "--id",
		},
		"no key: nothing to sign with": {
			args: []string{"erase", "--confirm", "--records-server", f.server.URL, "--key", filepath.Join(t.TempDir(), "none.json")},
			code: 1, want: "patient keygen",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f.gw.mu.Lock()
			delete(f.gw.received, "/v1/patients/pat-1/records:erase")
			f.gw.mu.Unlock()
			before := f.gw.requests()
			code, out, errOut := f.run(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errOut)
			}
			got := out
			if code != 0 {
				got = errOut
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("output %q lacks %q", got, tc.want)
			}
			if !tc.wantSent {
				if n := f.gw.requests() - before; n != 0 {
					t.Fatalf("%d requests sent", n)
				}
				return
			}
			var req recordsv1.ErasePatientRecordsRequest
			if err := protojson.Unmarshal(f.gw.received["/v1/patients/pat-1/records:erase"], &req); err != nil || req.GetPatientId() != "pat-1" {
				t.Fatalf("erase request %v (%v)", &req, err)
			}
		})
	}
}

func TestNoncesAreACounterNotTheClock(t *testing.T) {
	f := newFixture(t)
	f.run(t, "keygen", "--id", "pat-1")
	if code, _, errOut := f.run(t, "register"); code != 0 {
		t.Fatal(errOut)
	}
	phone := f.key
	laptop := filepath.Join(t.TempDir(), "laptop.json") // the same key on a second device
	raw, _ := os.ReadFile(phone)
	os.WriteFile(laptop, raw, 0o600)
	grant := func(key string) {
		t.Helper()
		if code, _, errOut := f.run(t, "grant", "--key", key, "--to", "user:ProvidersMSP/dr-a", "--categories", "labs", "--purposes", "treatment"); code != 0 {
			t.Fatalf("grant from %s: %s", filepath.Base(key), errOut)
		}
	}
	for range 3 {
		grant(phone)
	}
	if n := f.gw.patient.GetNonce(); n != 3 {
		t.Fatalf("nonce after three grants %d, want 3 (a counter, not the clock)", n)
	}
	grant(laptop) // behind by three: it reads the ledger's nonce first
	grant(phone)
	if n := f.gw.patient.GetNonce(); n != 5 {
		t.Fatalf("nonce %d, want 5", n)
	}
	t.Run("a device far ahead locks nobody out", func(t *testing.T) {
		f.gw.patient.Nonce = 1 << 40 // whatever another device signed
		grant(laptop)
		grant(phone)
	})
	t.Run("another device taking the nonce meanwhile costs one retry", func(t *testing.T) {
		f.gw.raceNonce = true
		before := f.gw.patient.GetNonce()
		grant(phone)
		if n := f.gw.patient.GetNonce(); n != before+2 {
			t.Fatalf("nonce %d, want %d", n, before+2)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	f.run(t, "keygen", "--id", "pat-1")
	if code, _, errOut := f.run(t, "register"); code != 0 {
		t.Fatal(errOut)
	}
	old, err := patientkey.Load(f.key)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := f.run(t, "key", "rotate")
	if code != 0 {
		t.Fatalf("rotate: exit %d: %s", code, errOut)
	}
	now, err := patientkey.Load(f.key)
	if err != nil {
		t.Fatal(err)
	}
	if now.PublicKey() == old.PublicKey() || f.gw.patient.GetPublicKey() != now.PublicKey() || f.gw.patient.GetKeyVersion() != 2 {
		t.Fatalf("after rotate: file key %s, ledger key %s (version %d), old %s", now.PublicKey(), f.gw.patient.GetPublicKey(), f.gw.patient.GetKeyVersion(), old.PublicKey())
	}
	if !strings.Contains(out, "version 2") {
		t.Errorf("output %q", out)
	}
	if _, err := os.Stat(f.key + ".next"); !os.IsNotExist(err) {
		t.Errorf("the staged key is left behind: %v", err)
	}
	// The new key signs the next change, with a nonce above the rotation's.
	if code, _, errOut := f.run(t, "erase", "--confirm", "--records-server", f.server.URL); code != 0 {
		t.Fatalf("erase with the new key: %s", errOut)
	}

	t.Run("a refused rotation keeps the old key", func(t *testing.T) {
		f.gw.patient.PublicKey = old.PublicKey() // the ledger no longer knows this file's key
		before, _ := os.ReadFile(f.key)
		code, _, errOut := f.run(t, "key", "rotate")
		if code != 1 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		after, _ := os.ReadFile(f.key)
		var a, b struct{ Seed string }
		json.Unmarshal(before, &a)
		json.Unmarshal(after, &b)
		if a.Seed != b.Seed {
			t.Fatal("the key file changed after a refused rotation")
		}
		if _, err := os.Stat(f.key + ".next"); !os.IsNotExist(err) {
			t.Fatalf("a refused rotation left its staged key: %v", err)
		}
		f.gw.patient.PublicKey = now.PublicKey()
	})
	t.Run("an unknown outcome keeps the staged key and says so", func(t *testing.T) {
		f.gw.unknownOutcome = true
		defer func() { f.gw.unknownOutcome = false }()
		code, _, errOut := f.run(t, "key", "rotate")
		if code != 1 || !strings.Contains(errOut, ".next") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		staged, err := patientkey.Load(f.key + ".next")
		if err != nil || staged.PublicKey() != f.gw.patient.GetPublicKey() {
			t.Fatalf("the staged key is not the one the ledger took: %v", err)
		}
		// A second rotation refuses to overwrite it.
		code, _, errOut = f.run(t, "key", "rotate")
		if code != 1 || !strings.Contains(errOut, "exists") {
			t.Fatalf("second rotate: exit %d: %s", code, errOut)
		}
	})
}

func TestRecovery(t *testing.T) {
	f := newFixture(t)
	f.run(t, "keygen", "--id", "pat-1")
	recoveryFile := filepath.Join(t.TempDir(), "recovery.json")
	if code, _, errOut := f.run(t, "recovery", "keygen", "--recovery-key", recoveryFile); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := f.run(t, "register", "--recovery-key", recoveryFile, "--recovery-delay", "1h"); code != 0 {
		t.Fatal(errOut)
	}
	rk, _ := patientkey.Load(recoveryFile)
	if f.gw.patient.GetRecoveryKey() != rk.PublicKey() || f.gw.patient.GetRecoveryDelaySeconds() != 3600 {
		t.Fatalf("registered %v", f.gw.patient)
	}

	t.Run("request refuses to overwrite an existing key", func(t *testing.T) {
		code, _, errOut := f.run(t, "recovery", "request", "--recovery-key", recoveryFile)
		if code != 1 || !strings.Contains(errOut, "exists") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
	t.Run("cancel with the current key", func(t *testing.T) {
		lostKey := filepath.Join(t.TempDir(), "lost.json")
		full := func(args ...string) (int, string, string) {
			return f.run(t, append(args, "--key", lostKey)...)
		}
		if code, _, errOut := full("recovery", "request", "--recovery-key", recoveryFile); code != 0 {
			t.Fatal(errOut)
		}
		if f.gw.patient.GetRecovery() == nil {
			t.Fatal("no pending recovery")
		}
		if code, out, errOut := f.run(t, "key", "show"); code != 0 || !strings.Contains(out, "PENDING RECOVERY") {
			t.Fatalf("show: %s %s", out, errOut)
		}
		if code, _, errOut := f.run(t, "recovery", "cancel"); code != 0 {
			t.Fatal(errOut)
		}
		if f.gw.patient.GetRecovery() != nil {
			t.Fatal("recovery still pending")
		}
	})
	t.Run("lost key recovered", func(t *testing.T) {
		dir := t.TempDir()
		newKey := filepath.Join(dir, "new.json")
		if code, out, errOut := f.run(t, "recovery", "request", "--recovery-key", recoveryFile, "--key", newKey); code != 0 || !strings.Contains(out, "recovery complete") {
			t.Fatalf("request: %s %s", out, errOut)
		}
		if code, _, errOut := f.run(t, "recovery", "complete", "--key", newKey); code != 0 {
			t.Fatal(errOut)
		}
		k, err := patientkey.Load(newKey)
		if err != nil || k.PublicKey() != f.gw.patient.GetPublicKey() || f.gw.patient.GetKeyVersion() != 2 {
			t.Fatalf("recovered key %v, ledger %v", err, f.gw.patient)
		}
		// The recovered key signs; the old one does not.
		if code, _, errOut := f.run(t, "recovery", "cancel", "--key", newKey); code != 1 || !strings.Contains(errOut, "cannot cancel") {
			t.Fatalf("cancel with nothing pending: exit %d: %s", code, errOut)
		}
		if code, _, errOut := f.run(t, "erase", "--confirm", "--records-server", f.server.URL); code != 1 || !strings.Contains(errOut, "not signed by the patient") {
			t.Fatalf("erase with the old key: exit %d: %s", code, errOut)
		}
	})
	t.Run("complete without a staged key says what to do", func(t *testing.T) {
		code, _, errOut := f.run(t, "recovery", "complete", "--key", filepath.Join(t.TempDir(), "k.json"))
		if code != 1 || !strings.Contains(errOut, "recovery request") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
	t.Run("the recovery key must not be the key", func(t *testing.T) {
		g := newFixture(t)
		g.run(t, "keygen", "--id", "pat-2")
		code, _, errOut := g.run(t, "register", "--recovery-key", g.key)
		if code != 1 || !strings.Contains(errOut, "must not be your key") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
}

func TestCutGrantee(t *testing.T) {
	type grantee struct {
		kind, id string
		ok       bool
	}
	for name, tc := range map[string]struct {
		in   string
		want grantee
	}{
		"user":                   {"user:ProvidersMSP/dr-a", grantee{"user", "ProvidersMSP/dr-a", true}},
		"org":                    {"org:ResearchMSP", grantee{"org", "ResearchMSP", true}},
		"study":                  {"study:study-1", grantee{"study", "study-1", true}},
		"study without id":       {"study:", grantee{}},
		"unknown kind":           {"team:a", grantee{}},
		"no kind":                {"study-1", grantee{}},
		"kind is case-sensitive": {"Study:study-1", grantee{}},
	} {
		t.Run(name, func(t *testing.T) {
			kind, id, ok := cutGrantee(tc.in)
			if got := (grantee{kind, id, ok}); got != tc.want {
				t.Fatalf("cutGrantee(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzCutGrantee: the grantee flag parser never panics and only accepts
// user:/org:/study: with a non-empty id.
func FuzzCutGrantee(f *testing.F) {
	for _, s := range []string{"user:ProvidersMSP/dr-a", "org:ResearchMSP", "study:study-1", "user:", "study:", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, id, ok := cutGrantee(s)
		if ok && (id == "" || kind+":"+id != s) {
			t.Fatalf("cutGrantee(%q) = %q, %q", s, kind, id)
		}
	})
}

// devicePublicKey is a wearable's Ed25519 public key, standard base64.
var devicePublicKey = base64.StdEncoding.EncodeToString(make([]byte, ed25519.PublicKeySize))

func TestDevicePairAndRevoke(t *testing.T) {
	f := newFixture(t)
	f.run(t, "keygen", "--id", "pat-1")
	k, err := patientkey.Load(f.key)
	if err != nil {
		t.Fatal(err)
	}
	// received decodes the request the gateway received on path into req.
	received := func(t *testing.T, path string, req proto.Message) {
		t.Helper()
		if err := protojson.Unmarshal(f.gw.received[path], req); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	// signedByPatient checks a signed payload against the patient's key.
	signedByPatient := func(t *testing.T, sp *consentv1.SignedPayload) []byte {
		t.Helper()
		if err := ledgerapi.VerifySignature(k.PublicKey(), []byte(sp.GetPayload()), sp.GetSignature()); err != nil {
			t.Fatalf("the signature does not verify with the patient's key: %v", err)
		}
		return []byte(sp.GetPayload())
	}

	code, out, errOut := f.run(t, "device", "pair", "--id", "watch-1", "--public-key", devicePublicKey)
	if code != 0 {
		t.Fatalf("device pair: exit %d: %s", code, errOut)
	}
	var pairReq consentv1.PairDeviceRequest
	received(t, "/v1/devices:pair", &pairReq)
	reg, err := ledgerapi.Parse[ledgerapi.DeviceRegistration](signedByPatient(t, pairReq.GetRegistration()))
	if err != nil {
		t.Fatal(err)
	}
	if reg.Op != ledgerapi.OpDeviceRegister || reg.PatientID != "pat-1" || reg.DeviceID != "watch-1" || reg.PublicKey != devicePublicKey || reg.Nonce == 0 {
		t.Fatalf("pairing payload %+v", reg)
	}
	for _, want := range []string{"paired:", "device      watch-1", "active (since 2026-01-02T03:04:05Z)", "patient     pat-1", devicePublicKey} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = f.run(t, "device", "revoke", "watch-1", "--json")
	if code != 0 {
		t.Fatalf("device revoke: exit %d: %s", code, errOut)
	}
	var revokeReq consentv1.RevokeDeviceRequest
	received(t, "/v1/devices:revoke", &revokeReq)
	rev, err := ledgerapi.Parse[ledgerapi.DeviceRevocation](signedByPatient(t, revokeReq.GetRevocation()))
	if err != nil {
		t.Fatal(err)
	}
	if rev.Op != ledgerapi.OpDeviceRevoke || rev.PatientID != "pat-1" || rev.DeviceID != "watch-1" || rev.Nonce <= reg.Nonce {
		t.Fatalf("revocation payload %+v after a pairing with nonce %d", rev, reg.Nonce)
	}
	var resp consentv1.RevokeDeviceResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("--json output is not a RevokeDeviceResponse: %v\n%s", err, out)
	}
	if d := resp.GetDevice(); d.GetDeviceId() != "watch-1" || d.GetStatus() != "revoked" || d.GetRevokedAt() == "" {
		t.Fatalf("--json device %v", d)
	}

	t.Run("the service's refusal is shown", func(t *testing.T) {
		code, _, errOut := f.run(t, "device", "revoke", "ring-9")
		if code != 1 || !strings.Contains(errOut, "device ring-9 is not registered to patient pat-1") {
			t.Fatalf("exit %d, stderr %q; want 1 and the service's message", code, errOut)
		}
	})
}

// Errors a person can act on: a bad value is refused before any file or
// service is touched, a missing key says how to make one, and a service that
// does not answer is named with how to start it.
func TestErrorsSayWhatToDo(t *testing.T) {
	dir := t.TempDir()
	missingKey := filepath.Join(dir, "no-key.json")
	// Nothing listens here: a port taken and released.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadServer := "https://" + l.Addr().String()
	l.Close()
	// Any certificate will do as the CA: no TLS handshake happens.
	ca := newFixture(t).ca
	common := []string{"--key", missingKey, "--token", "tok-123", "--ca", ca}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
		dontWant []string
	}{
		{"an unknown category, before the key file is read", []string{"grant", "--to", "user:ProvidersMSP/dr-a", "--categories", "lab", "--purposes", "treatment", "--server", deadServer},
			2, []string{`unknown category "lab"`, "labs, imaging"}, []string{missingKey, "does not answer"}},
		{"an unknown purpose", []string{"grant", "--to", "user:ProvidersMSP/dr-a", "--categories", "labs", "--purposes", "curiosity", "--server", deadServer},
			2, []string{`unknown purpose "curiosity"`, "purposes: treatment"}, []string{missingKey}},
		{"a malformed consent id to revoke", []string{"revoke", "c 1", "--server", deadServer}, 2, []string{"CONSENT_ID"}, []string{missingKey}},
		{"no key", []string{"grant", "--to", "user:ProvidersMSP/dr-a", "--categories", "labs", "--purposes", "treatment", "--server", deadServer},
			1, []string{"no key at " + missingKey, "patient keygen --id"}, nil},
		{"no server", []string{"consents", "--server", ""}, 1, []string{"no address of the consent service: pass --server", "make up"}, nil},
		{"a service that does not answer", []string{"consents", "--server", deadServer},
			1, []string{"the consent service at " + deadServer + " does not answer", "make up"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			code := Run(ctx, append(tt.args, common...), &out, &errOut)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, &errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, &errOut)
				}
			}
			for _, w := range tt.dontWant {
				if strings.Contains(errOut.String(), w) {
					t.Errorf("stderr mentions %q:\n%s", w, &errOut)
				}
			}
		})
	}
}

func TestKeyChangeOf(t *testing.T) {
	v1 := &consentv1.Patient{PublicKey: "k1", KeyVersion: 1, Nonce: 1}
	moved := &consentv1.Patient{PublicKey: "k1", KeyVersion: 1, Nonce: 2}
	pending := &consentv1.Patient{PublicKey: "k1", KeyVersion: 1, Nonce: 2, Recovery: &consentv1.PendingRecovery{NewPublicKey: "k2", EffectiveAt: "T"}}
	recovered := &consentv1.Patient{PublicKey: "k2", KeyVersion: 2, Nonce: 2}
	rotated := &consentv1.Patient{PublicKey: "k3", KeyVersion: 2, Nonce: 3}
	for name, tc := range map[string]struct {
		before, after *consentv1.Patient
		want          string
	}{
		"registration":        {nil, v1, "registered"},
		"a nonce moved":       {v1, moved, ""},
		"recovery requested":  {moved, pending, "RECOVERY REQUESTED, in force from T"},
		"recovery cancelled":  {pending, moved, "recovery cancelled"},
		"recovery completed":  {pending, recovered, "recovered (the recovery key's request took effect)"},
		"rotation":            {moved, rotated, "key rotated"},
		"rotation cancels it": {pending, rotated, "key rotated"},
	} {
		if got := keyChangeOf(tc.before, tc.after); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}

func TestNotifications(t *testing.T) {
	f := newFixture(t)
	code, out, errOut := f.run(t, "notifications")
	if code != 0 || !strings.Contains(out, "DENY: dr-bob (clinician, StMarysMSP) read category/labs") ||
		!strings.Contains(out, `BREAK-GLASS: dr-er (clinician, ProvidersMSP) read category/imaging without your consent (emergency); reason given: "unresponsive"`) {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	code, out, errOut = f.run(t, "notifications", "--follow", "--after", "1")
	if code != 0 || !strings.Contains(out, "EXPIRING: consent c-9 to org:PharmacyMSP ends at 2030") {
		t.Fatalf("follow: exit %d: %s %s", code, out, errOut)
	}
}
