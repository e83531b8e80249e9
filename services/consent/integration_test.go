//go:build integration

package consent_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/auth/devissuer"
	"healthexchange/services/platform/ledger"
)

func read(patientID, category, purpose string) *consentv1.AuthorizeRequest {
	return &consentv1.AuthorizeRequest{Action: "read", Purpose: purpose,
		Resource: &consentv1.Resource{PatientId: patientID, Category: category}}
}

func TestConsentDecisions(t *testing.T) {
	ctx := itest.Context(t)
	c := itest.NewConsentd(t, consentdBin)
	dc := c.Decisions(t)
	p := itest.NewPatient(t, c)
	clinician := itest.Unique("dr")
	drToken := itest.Token(t, clinician, auth.RoleClinician, ledgerapi.ProvidersMSP)
	consentID := c.Grant(t, p, "--to", "user:ProvidersMSP/"+clinician, "--categories", "labs,conditions", "--purposes", "treatment", "--for", "720h")

	decide := func(t *testing.T, req *consentv1.AuthorizeRequest) *consentv1.Decision {
		t.Helper()
		d, err := itest.Authorize(ctx, t, dc, drToken, req)
		if err != nil {
			t.Fatal(err)
		}
		if d.GetEventId() == "" {
			t.Fatal("a decision without an access event")
		}
		return d
	}

	t.Run("granted", func(t *testing.T) {
		d := decide(t, read(p.ID, "labs", "treatment"))
		if !d.GetAllow() || d.GetConsentId() != consentID {
			t.Fatalf("decision %v, want allowed by %s", d, consentID)
		}
	})
	other := itest.NewPatient(t, c)
	denied := map[string]*consentv1.AuthorizeRequest{
		"wrong category": read(p.ID, "imaging", "treatment"),
		"wrong purpose":  read(p.ID, "labs", "payment"),
		"other patient":  read(other.ID, "labs", "treatment"),
	}
	for name, req := range denied {
		t.Run(name, func(t *testing.T) {
			if d := decide(t, req); d.GetAllow() || len(d.GetReasons()) == 0 {
				t.Fatalf("decision %v, want denied with a reason", d)
			}
		})
	}
	t.Run("a patient the ledger does not know: denied, no access event", func(t *testing.T) {
		d, err := itest.Authorize(ctx, t, dc, drToken, read(itest.Unique("pat"), "labs", "treatment"))
		if err != nil {
			t.Fatal(err)
		}
		if d.GetAllow() || d.GetEventId() != "" || !strings.Contains(strings.Join(d.GetReasons(), " "), "not registered") {
			t.Fatalf("decision %v, want a deny without an access event", d)
		}
	})
	t.Run("expired consent", func(t *testing.T) {
		other := itest.Unique("dr")
		past := time.Now().Add(-2 * time.Hour).UTC()
		c.Grant(t, p, "--to", "user:ProvidersMSP/"+other, "--categories", "labs", "--purposes", "treatment",
			"--not-before", past.Format(time.RFC3339), "--expires", past.Add(time.Hour).Format(time.RFC3339))
		d, err := itest.Authorize(ctx, t, dc, itest.Token(t, other, auth.RoleClinician, ledgerapi.ProvidersMSP), read(p.ID, "labs", "treatment"))
		if err != nil {
			t.Fatal(err)
		}
		if d.GetAllow() || !strings.Contains(strings.Join(d.GetReasons(), " "), "expired") {
			t.Fatalf("decision %v, want denied as expired", d)
		}
	})
	t.Run("break-glass is allowed, marked and logged without its words", func(t *testing.T) {
		why := "patient unconscious in the emergency room"
		d := decide(t, &consentv1.AuthorizeRequest{Action: "read", Purpose: "emergency", BreakGlassReason: why,
			Resource: &consentv1.Resource{PatientId: p.ID, Category: "imaging"}})
		if !d.GetAllow() || !slices.Contains(d.GetObligations(), "notify-patient") || !slices.Contains(d.GetObligations(), "log-break-glass") {
			t.Fatalf("break-glass decision %v, want allowed with notify-patient and log-break-glass", d)
		}
		e := waitForEvent(t, c, p, d.GetEventId())
		sum := sha256.Sum256([]byte(why))
		raw, _ := protojson.Marshal(e)
		if !e.GetBreakGlass() || len(e.GetBreakGlassRef()) != 64 || e.GetBreakGlassRef() == hex.EncodeToString(sum[:]) ||
			bytes.Contains(raw, []byte("unconscious")) || !slices.Contains(e.GetReasonCodes(), "break-glass") ||
			e.GetActorRole() != "clinician" || e.GetActorOrg() != ledgerapi.ProvidersMSP || e.GetRecordedBy() != ledgerapi.ProvidersMSP {
			t.Fatalf("ledger event %s, want break-glass marked with a keyed hash of the reason (not its plain hash), not its words", raw)
		}
		if strings.Contains(c.Log(), "unconscious") {
			t.Fatal("the break-glass reason reached the service log")
		}
	})
	t.Run("break-glass without a reason is denied", func(t *testing.T) {
		d := decide(t, &consentv1.AuthorizeRequest{Action: "read", Purpose: "emergency",
			Resource: &consentv1.Resource{PatientId: p.ID, Category: "imaging"}})
		if d.GetAllow() {
			t.Fatalf("decision %v, want denied", d)
		}
	})

	// Revoke through the CLI; the service answers once its view has the
	// revocation, so the very next decision is a deny.
	if _, err := c.CLI(t, p.Token, p.Key, "revoke", consentID); err != nil {
		t.Fatal(err)
	}
	t.Run("revoked", func(t *testing.T) {
		d := decide(t, read(p.ID, "labs", "treatment"))
		if d.GetAllow() || !strings.Contains(strings.Join(d.GetReasons(), " "), "revoked") {
			t.Fatalf("decision after revoke %v, want denied as revoked", d)
		}
	})

	t.Run("the patient sees allowed and denied accesses", func(t *testing.T) {
		last := decide(t, read(p.ID, "labs", "treatment"))
		waitForEvent(t, c, p, last.GetEventId())
		events := accessLog(t, c, p)
		var allows, denies int
		for _, e := range events {
			if e.GetDecision() == "allow" {
				allows++
			} else {
				denies++
			}
		}
		if allows < 2 || denies < 4 {
			t.Fatalf("access log has %d allows and %d denies, want at least 2 and 4", allows, denies)
		}
	})
}

// accessLog reads the patient's access log through the CLI.
func accessLog(t testing.TB, c *itest.Consentd, p itest.Patient) []*consentv1.AccessEvent {
	t.Helper()
	out, err := c.CLI(t, p.Token, p.Key, "access-log", "--page-size", "100")
	if err != nil {
		t.Fatal(err)
	}
	var resp consentv1.GetAccessLogResponse
	if err := itest.ProtojsonUnmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.GetEvents()
}

// waitForEvent polls the patient's access log until the event is on the
// ledger (the service ships events in batches).
func waitForEvent(t testing.TB, c *itest.Consentd, p itest.Patient, eventID string) *consentv1.AccessEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range accessLog(t, c, p) {
			if e.GetEventId() == eventID {
				return e
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("access event %s not on the ledger within 30s", eventID)
	return nil
}

func TestTokensAreChecked(t *testing.T) {
	ctx := itest.Context(t)
	c := itest.NewConsentd(t, consentdBin)
	dc := c.Decisions(t)
	e := itest.Env(t)
	signer := func(org string) (*devissuer.Issuer, string) {
		idp, err := e.IdPFor(org)
		if err != nil {
			t.Fatal(err)
		}
		iss, err := devissuer.Load(idp.Issuer, idp.Key)
		if err != nil {
			t.Fatal(err)
		}
		return iss, idp.Issuer
	}
	good := itest.Token(t, "dr-a", auth.RoleClinician, ledgerapi.ProvidersMSP)
	now := time.Now()
	// claims signs a Providers clinician's claims, changed, with the
	// provider of signerOrg.
	claimsBy := func(signerOrg string, change func(map[string]any)) string {
		iss, name := signer(signerOrg)
		m := map[string]any{"iss": name, "sub": "dr-a", "aud": devenv.Audience("consent"), "role": "clinician",
			"org": ledgerapi.ProvidersMSP, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		change(m)
		tok, err := iss.Sign(m)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	claims := func(change func(map[string]any)) string { return claimsBy(ledgerapi.ProvidersMSP, change) }
	parts := strings.Split(good, ".")
	sig := []byte(parts[2])
	sig[5] ^= 1
	tests := map[string]string{
		"expired":                    claims(func(m map[string]any) { m["exp"] = now.Add(-time.Hour).Unix() }),
		"wrong audience":             claims(func(m map[string]any) { m["aud"] = "someone-else" }),
		"another service's audience": claims(func(m map[string]any) { m["aud"] = devenv.Audience("records") }),
		"wrong issuer":               claims(func(m map[string]any) { m["iss"] = "evil-idp" }),
		"St Mary's issuer minting a Providers clinician": claimsBy(ledgerapi.StMarysMSP, func(map[string]any) {}),
		"an organisation that is not a member":           claims(func(m map[string]any) { m["org"] = "EvilClinicMSP" }),
		"the patients' issuer minting a clinician":       claimsBy("", func(map[string]any) {}),
		"a hundred-year token":                           claims(func(m map[string]any) { m["exp"] = now.AddDate(100, 0, 0).Unix() }),
		"no iat":                                         claims(func(m map[string]any) { delete(m, "iat") }),
		"tampered claims":                                parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2],
		"tampered sig":                                   parts[0] + "." + parts[1] + "." + string(sig),
		"unsigned":                                       parts[0] + "." + parts[1] + ".",
		"no token":                                       "",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			var opts []grpc.CallOption
			if tok != "" {
				opts = append(opts, grpc.PerRPCCredentials(auth.Bearer(tok)))
			}
			_, err := dc.Authorize(ctx, read("pat-x", "labs", "treatment"), opts...)
			if status.Code(err) != codes.Unauthenticated {
				t.Fatalf("got %v, want Unauthenticated", err)
			}
		})
	}
	t.Run("a good token is accepted", func(t *testing.T) {
		if _, err := itest.Authorize(ctx, t, dc, good, read("pat-x", "labs", "treatment")); err != nil {
			t.Fatalf("good token: %v", err)
		}
	})
}

// TestUnreachableLedgerDenies points a service at a peer that is not there:
// its view never follows the ledger, so even the patient is denied.
func TestUnreachableLedgerDenies(t *testing.T) {
	ctx := itest.Context(t)
	raw, err := os.ReadFile(itest.Env(t).Path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(raw, &doc)
	for _, o := range doc["orgs"].([]any) {
		o.(map[string]any)["peerEndpoint"] = itest.FreeAddr(t) // nothing listens there
	}
	broken := filepath.Join(t.TempDir(), "network.json")
	raw, _ = json.Marshal(doc)
	os.WriteFile(broken, raw, 0o600)

	c := &itest.Consentd{GRPCAddr: itest.FreeAddr(t), HTTPAddr: itest.FreeAddr(t), StateDir: t.TempDir(), EnvPath: broken}
	c.Process = itest.StartProcess(t, consentdBin, c.Flags(), "consent service starting")
	c.WaitLog("not following the ledger", 30*time.Second)
	d, err := itest.Authorize(ctx, t, c.Decisions(t), itest.Token(t, "pat-1", auth.RolePatient, ""), read("pat-1", "labs", "treatment"))
	if err != nil {
		t.Fatal(err)
	}
	if d.GetAllow() || !strings.Contains(strings.Join(d.GetReasons(), " "), "not following the ledger") {
		t.Fatalf("decision with the ledger unreachable: %v, want denied for that reason", d)
	}
}

// TestKillAndRestart kills the service with access events still only in its
// journal; after a restart every one of them reaches the ledger, and the
// decision view resumes from its snapshot.
func TestKillAndRestart(t *testing.T) {
	ctx := itest.Context(t)
	c := itest.NewConsentd(t, consentdBin, "-flush-every", "1h") // nothing leaves the journal before the kill
	dc := c.Decisions(t)
	p := itest.NewPatient(t, c)
	clinician := itest.Unique("dr")
	drToken := itest.Token(t, clinician, auth.RoleClinician, ledgerapi.ProvidersMSP)
	c.Grant(t, p, "--to", "user:ProvidersMSP/"+clinician, "--categories", "labs", "--purposes", "treatment")

	var ids []string
	for range 25 {
		d, err := itest.Authorize(ctx, t, dc, drToken, read(p.ID, "labs", "treatment"))
		if err != nil || !d.GetAllow() {
			t.Fatalf("before the kill: %v %v", d, err)
		}
		ids = append(ids, d.GetEventId())
	}
	waitSnapshot(t, c)
	c.Kill()

	c.Args = c.Flags() // without -flush-every: ship at the normal rate again
	c.Start()
	resumed := c.LogLines("consent view: following the ledger")
	if from := resumed[len(resumed)-1]["from_block"].(float64); from == 0 {
		t.Fatalf("the restarted view replayed from block 0; want it to resume from its snapshot")
	}
	d, err := itest.Authorize(ctx, t, dc, drToken, read(p.ID, "labs", "treatment"))
	if err != nil || !d.GetAllow() {
		t.Fatalf("after the restart the consent is not in the view: %v %v", d, err)
	}
	for _, id := range ids {
		waitForEvent(t, c, p, id)
	}
	// Exactly once: no event twice on the ledger.
	seen := map[string]int{}
	for _, e := range accessLog(t, c, p) {
		seen[e.GetEventId()]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("event %s is on the ledger %d times", id, seen[id])
		}
	}
}

// waitSnapshot waits until the service has saved its view with a
// checkpoint past the genesis block.
func waitSnapshot(t testing.TB, c *itest.Consentd) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var snap struct {
			Checkpoint struct {
				Next uint64 `json:"next"`
			} `json:"checkpoint"`
		}
		raw, err := os.ReadFile(filepath.Join(c.StateDir, "view.json"))
		if err == nil && json.Unmarshal(raw, &snap) == nil && snap.Checkpoint.Next > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no view snapshot saved within 10s")
}

// TestDevicePairing: a patient pairs a wearable through the patient CLI and
// the ledger holds it as theirs; another patient cannot revoke it; the
// patient revokes it and the ledger holds it revoked.
func TestDevicePairing(t *testing.T) {
	ctx := itest.Context(t)
	c := itest.NewConsentd(t, consentdBin)
	alice, bob := itest.NewPatient(t, c), itest.NewPatient(t, c)
	lcfg, err := itest.Env(t).Ledger("research")
	if err != nil {
		t.Fatal(err)
	}
	lc, err := ledger.Dial(lcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lc.Close() })
	devicePublic, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	publicKey := base64.StdEncoding.EncodeToString(devicePublic)
	deviceID := itest.Unique("watch")

	// onLedger polls devices:Get (another organisation's peer may not have
	// the block yet) until the device has status, and returns it.
	onLedger := func(t *testing.T, status string) ledgerapi.Device {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			d, err := lc.Device(ctx, deviceID)
			if err == nil && d.Status == status {
				return d
			}
			if time.Now().After(deadline) {
				t.Fatalf("device %s on the ledger: %+v, %v; want it %s within 30s", deviceID, d, err, status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// device runs `patient device ARGS` as p and returns the device shown.
	device := func(t *testing.T, p itest.Patient, args ...string) (*consentv1.Device, error) {
		t.Helper()
		out, err := c.CLI(t, p.Token, p.Key, append([]string{"device"}, args...)...)
		if err != nil {
			return nil, err
		}
		var resp consentv1.PairDeviceResponse // the same shape as RevokeDeviceResponse
		if err := itest.ProtojsonUnmarshal(out, &resp); err != nil {
			t.Fatalf("device %v output %q: %v", args, out, err)
		}
		return resp.GetDevice(), nil
	}

	paired, err := device(t, alice, "pair", "--id", deviceID, "--public-key", publicKey)
	if err != nil {
		t.Fatal(err)
	}
	if paired.GetDeviceId() != deviceID || paired.GetPatientId() != alice.ID || paired.GetStatus() != ledgerapi.StatusActive {
		t.Fatalf("paired %v, want %s active for %s", paired, deviceID, alice.ID)
	}
	d := onLedger(t, ledgerapi.StatusActive)
	if d.PatientID != alice.ID || d.PublicKey != publicKey || d.RegisteredAt != paired.GetRegisteredAt() || d.RevokedAt != "" {
		t.Fatalf("device on the ledger %+v, want it active for %s with key %s", d, alice.ID, publicKey)
	}

	t.Run("another patient cannot revoke it", func(t *testing.T) {
		_, err := device(t, bob, "revoke", deviceID)
		if err == nil || !strings.Contains(err.Error(), "not registered to patient "+bob.ID) {
			t.Fatalf("bob's revocation: %v, want it refused as not his device", err)
		}
		if d, err := lc.Device(ctx, deviceID); err != nil || d.Status != ledgerapi.StatusActive {
			t.Fatalf("device after bob's attempt %+v, %v; want it still active", d, err)
		}
	})

	revokedDev, err := device(t, alice, "revoke", deviceID)
	if err != nil {
		t.Fatal(err)
	}
	if revokedDev.GetStatus() != ledgerapi.StatusRevoked || revokedDev.GetRevokedAt() == "" {
		t.Fatalf("revoked %v, want status revoked with a time", revokedDev)
	}
	d = onLedger(t, ledgerapi.StatusRevoked)
	if d.PatientID != alice.ID || d.RevokedAt != revokedDev.GetRevokedAt() {
		t.Fatalf("device on the ledger %+v, want it revoked at %s for %s", d, revokedDev.GetRevokedAt(), alice.ID)
	}

	t.Run("revoking it again is refused", func(t *testing.T) {
		if _, err := device(t, alice, "revoke", deviceID); err == nil || !strings.Contains(err.Error(), "already revoked") {
			t.Fatalf("second revocation: %v, want it refused as already revoked", err)
		}
	})
}
