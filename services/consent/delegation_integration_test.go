//go:build integration

package consent_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/auth"
)

// A parent acts for a child on the real network: the child's key delegates
// to the parent's; the parent grants and revokes with their own key, within
// the powers and the dates; the child ends it at any time.
func TestDelegationIntegration(t *testing.T) {
	c := itest.NewConsentd(t, consentdBin)
	ctx := itest.Context(t)
	child := itest.NewPatient(t, c)
	mum := itest.Patient{ID: itest.Unique("mum"), Key: filepath.Join(t.TempDir(), "mum.json")}
	mum.Token = itest.Token(t, mum.ID, auth.RolePatient, "")
	out, err := c.CLI(t, mum.Token, mum.Key, "keygen", "--id", mum.ID) // not registered: a key is all a delegate needs
	if err != nil {
		t.Fatal(err)
	}
	var kg struct {
		PublicKey string `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(out), &kg); err != nil || kg.PublicKey == "" {
		t.Fatalf("keygen output %q: %v", out, err)
	}
	delegate := func(t *testing.T, id, powers, lasting string) {
		t.Helper()
		if _, err := c.CLI(t, child.Token, child.Key, "delegate", "--to", mum.ID, "--delegate-key", kg.PublicKey, "--relationship", "parent",
			"--powers", powers, "--for", lasting, "--id", id); err != nil {
			t.Fatal(err)
		}
	}
	asMum := func(args ...string) (string, error) { return c.CLI(t, mum.Token, mum.Key, args...) }
	dr := itest.Unique("dr")
	grantArgs := func(d string) []string {
		return []string{"grant", "--for-patient", child.ID, "--delegation", d, "--to", "user:ProvidersMSP/" + dr, "--categories", "labs", "--purposes", "treatment", "--for", "24h"}
	}
	d1, dGrantOnly, dShort := itest.Unique("d"), itest.Unique("d"), itest.Unique("d")
	delegate(t, d1, "grant,revoke,read,approve", "8760h")
	delegate(t, dGrantOnly, "grant", "8760h")

	var consentID string
	t.Run("the parent grants in the child's name, with their own key; the consent says so", func(t *testing.T) {
		out, err := asMum(grantArgs(d1)...)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			Consent struct {
				ConsentID, PatientID, GrantedBy, Status string
			} `json:"consent"`
		}
		if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Consent.PatientID != child.ID || resp.Consent.GrantedBy != d1 || resp.Consent.Status != "active" {
			t.Fatalf("%s: %v", out, err)
		}
		consentID = resp.Consent.ConsentID
		d, err := itest.Authorize(ctx, t, c.Decisions(t), itest.Token(t, dr, auth.RoleClinician, "ProvidersMSP"), read(child.ID, "labs", "treatment"))
		if err != nil || !d.GetAllow() {
			t.Fatalf("the doctor's read under the parent's consent: %v, %v", d, err)
		}
		list, err := c.CLI(t, child.Token, child.Key, "consents")
		if err != nil || !strings.Contains(list, d1) {
			t.Fatalf("the child's consents do not show the delegate: %s %v", list, err)
		}
	})
	t.Run("someone else cannot use the parent's delegation", func(t *testing.T) {
		other := itest.NewPatient(t, c)
		if _, err := c.CLI(t, other.Token, other.Key, grantArgs(d1)...); err == nil {
			t.Fatal("a stranger granted under the parent's delegation")
		}
	})
	t.Run("beyond the powers", func(t *testing.T) {
		_, err := asMum("revoke", "--for-patient", child.ID, "--delegation", dGrantOnly, consentID)
		if err == nil || !strings.Contains(err.Error(), "power to revoke") {
			t.Fatalf("a grant-only delegate revoked: %v", err)
		}
	})
	t.Run("the parent revokes, within the powers", func(t *testing.T) {
		out, err := asMum("revoke", "--for-patient", child.ID, "--delegation", d1, consentID)
		var resp struct {
			Consent struct{ Status, RevokedBy string } `json:"consent"`
		}
		if err != nil || json.Unmarshal([]byte(out), &resp) != nil || resp.Consent.Status != "revoked" || resp.Consent.RevokedBy != d1 {
			t.Fatalf("%s: %v", out, err)
		}
	})
	t.Run("the parent reads the child's records; the access log marks it as delegated", func(t *testing.T) {
		d, err := itest.Authorize(ctx, t, c.Decisions(t), mum.Token, read(child.ID, "immunizations", "treatment"))
		if err != nil || !d.GetAllow() || !strings.Contains(strings.Join(d.GetReasons(), ";"), "a delegate of the patient may read") {
			t.Fatalf("the parent's read: %v, %v", d, err)
		}
		stranger := itest.Token(t, itest.Unique("pat"), auth.RolePatient, "")
		if d, err := itest.Authorize(ctx, t, c.Decisions(t), stranger, read(child.ID, "immunizations", "treatment")); err != nil || d.GetAllow() {
			t.Fatalf("a stranger's read: %v, %v", d, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			log, err := c.CLI(t, child.Token, child.Key, "access-log")
			if err == nil && strings.Contains(log, mum.ID) && strings.Contains(log, `"delegation"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the child's access log has no delegated read: %s %v", log, err)
			}
			time.Sleep(300 * time.Millisecond)
		}
	})
	t.Run("the parent answers the child's access requests", func(t *testing.T) {
		asker := itest.Unique("dr")
		drTok := itest.Token(t, asker, auth.RoleClinician, "StMarysMSP")
		clinicians := consentv1.NewConsentServiceClient(itest.Dial(t, c.GRPCAddr, "app-clinician"))
		created, err := clinicians.CreateAccessRequest(ctx, &consentv1.CreateAccessRequestRequest{PatientId: child.ID,
			Categories: []string{"imaging"}, Purposes: []string{"treatment"}, Reason: "follow-up"}, grpc.PerRPCCredentials(auth.Bearer(drTok)))
		if err != nil {
			t.Fatal(err)
		}
		id := created.GetRequest().GetRequestId()
		if _, err := asMum("approve", id, "--for-patient", child.ID, "--delegation", dGrantOnly, "--for", "24h"); err == nil {
			t.Fatal("a delegate without approve approved a request")
		}
		out, err := asMum("approve", id, "--for-patient", child.ID, "--delegation", d1, "--for", "24h")
		if err != nil || !strings.Contains(out, `"approved"`) {
			t.Fatalf("%s: %v", out, err)
		}
		d, err := itest.Authorize(ctx, t, c.Decisions(t), drTok, read(child.ID, "imaging", "treatment"))
		if err != nil || !d.GetAllow() {
			t.Fatalf("the asker's read after the parent's approval: %v, %v", d, err)
		}
	})
	t.Run("the child ends the delegation; the parent's next grant and read are refused", func(t *testing.T) {
		if _, err := c.CLI(t, child.Token, child.Key, "undelegate", d1); err != nil {
			t.Fatal(err)
		}
		if _, err := asMum(grantArgs(d1)...); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("a grant after the end: %v", err)
		}
		if d, err := itest.Authorize(ctx, t, c.Decisions(t), mum.Token, read(child.ID, "immunizations", "treatment")); err != nil || d.GetAllow() {
			t.Fatalf("a read after the end: %v, %v", d, err)
		}
	})
	t.Run("a delegation ends by itself at its end date", func(t *testing.T) {
		delegate(t, dShort, "grant", "3s")
		time.Sleep(4 * time.Second) // the end is a date on the ledger; nothing to poll
		if _, err := asMum(grantArgs(dShort)...); err == nil || !strings.Contains(err.Error(), "ended") {
			t.Fatalf("a grant after the end date: %v", err)
		}
	})
	t.Run("only the patient delegates", func(t *testing.T) {
		if _, err := c.CLI(t, mum.Token, mum.Key, "delegate", "--to", itest.Unique("x"), "--delegate-key", kg.PublicKey, "--relationship", "carer",
			"--powers", "grant", "--for", "1h"); err == nil {
			t.Fatal("an unregistered delegate delegated")
		}
		list, err := asMum("delegations")
		if err != nil || !strings.Contains(list, dGrantOnly) {
			t.Fatalf("the parent's delegations: %s %v", list, err)
		}
	})
}
