//go:build integration

package consent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthexchange/services/apps/cliniciancli"
	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/auth"
)

// A hospital registers a newborn on the real network with the father's
// signature: the child has no key, so nothing signed as the child counts,
// and the father acts for them under the delegation made with the entry.
// At majority (here 30 s after the registration) the hospital that
// registered the child, and no other, attests the child's claim of the
// entry with their own key; the father's delegation no longer counts.
func TestMinorRegistrationIntegration(t *testing.T) {
	c := itest.NewConsentd(t, consentdBin)
	ctx := itest.Context(t)
	dir := t.TempDir()
	child := itest.Patient{ID: itest.Unique("baby"), Key: filepath.Join(dir, "baby.json")}
	child.Token = itest.Token(t, child.ID, auth.RolePatient, "")
	dad := itest.Patient{ID: itest.Unique("dad"), Key: filepath.Join(dir, "dad.json")}
	dad.Token = itest.Token(t, dad.ID, auth.RolePatient, "")
	if _, err := c.CLI(t, dad.Token, dad.Key, "keygen", "--id", dad.ID); err != nil {
		t.Fatal(err)
	}
	stMarys := itest.Token(t, itest.Unique("dr"), auth.RoleClinician, "StMarysMSP")
	providers := itest.Token(t, itest.Unique("dr"), auth.RoleClinician, "ProvidersMSP")
	clinician := func(tok string, args ...string) (string, error) {
		full := append([]string{args[0], "--consent-server", "https://" + c.HTTPAddr, "--ca", itest.Env(t).ServicesTLS.CA, "--token", tok, "--json"}, args[1:]...)
		var out, errOut bytes.Buffer
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if code := cliniciancli.Run(cctx, full, &out, &errOut); code != 0 {
			return out.String(), fmt.Errorf("clinician %s: exit %d: %s", args[0], code, strings.TrimSpace(errOut.String()))
		}
		return out.String(), nil
	}

	majority := time.Now().Add(30 * time.Second).UTC().Truncate(time.Second)
	delegation := itest.Unique("d")
	registration := filepath.Join(dir, "registration.json")
	if _, err := c.CLI(t, dad.Token, dad.Key, "register-child", "--child", child.ID, "--majority", majority.Format(time.RFC3339),
		"--delegation", delegation, "--out", registration); err != nil {
		t.Fatal(err)
	}

	t.Run("only a hospital's clinician registers a child", func(t *testing.T) {
		for who, tok := range map[string]string{
			"the father":   dad.Token,
			"a pharmacist": itest.Token(t, itest.Unique("ph"), auth.RolePharmacist, "PharmacyMSP"),
			"an insurer":   itest.Token(t, itest.Unique("ins"), auth.RoleInsurer, "InsurerMSP"),
		} {
			if out, err := clinician(tok, "register-minor", registration); err == nil {
				t.Fatalf("%s registered the child: %s", who, out)
			}
		}
	})
	t.Run("St Mary's registers the child; the father's delegation ends at majority", func(t *testing.T) {
		out, err := clinician(stMarys, "register-minor", registration)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			Patient struct {
				PatientID, PublicKey, RegisteredBy, MajorityAt string
			} `json:"patient"`
			Delegation struct {
				DelegationID, DelegateID, ExpiresAt, RegisteredBy string
			} `json:"delegation"`
		}
		if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Patient.PatientID != child.ID || resp.Patient.PublicKey != "" ||
			resp.Patient.RegisteredBy != "StMarysMSP" || resp.Delegation.DelegateID != dad.ID || resp.Delegation.DelegationID != delegation ||
			resp.Delegation.ExpiresAt != majority.Format(time.RFC3339) || resp.Delegation.RegisteredBy != "StMarysMSP" {
			t.Fatalf("%s: %v", out, err)
		}
		if _, err := clinician(providers, "register-minor", registration); err == nil || !strings.Contains(err.Error(), "already registered") {
			t.Fatalf("the same registration again, by another hospital: %v", err)
		}
	})

	dr := itest.Unique("dr")
	t.Run("the father grants for the child with his own key; the doctor reads", func(t *testing.T) {
		out, err := c.CLI(t, dad.Token, dad.Key, "grant", "--for-patient", child.ID, "--delegation", delegation,
			"--to", "user:ProvidersMSP/"+dr, "--categories", "labs", "--purposes", "treatment", "--for", "24h")
		var granted struct {
			Consent struct{ GrantedBy string } `json:"consent"`
		}
		if err != nil || json.Unmarshal([]byte(out), &granted) != nil || granted.Consent.GrantedBy != delegation {
			t.Fatalf("%s: %v", out, err)
		}
		d, err := itest.Authorize(ctx, t, c.Decisions(t), itest.Token(t, dr, auth.RoleClinician, "ProvidersMSP"), read(child.ID, "labs", "treatment"))
		if err != nil || !d.GetAllow() {
			t.Fatalf("the doctor's read: %v, %v", d, err)
		}
	})
	if _, err := c.CLI(t, child.Token, child.Key, "keygen", "--id", child.ID); err != nil {
		t.Fatal(err)
	}
	t.Run("nothing signed as the child counts while the entry has no key", func(t *testing.T) {
		_, err := c.CLI(t, child.Token, child.Key, "grant", "--to", "user:ProvidersMSP/"+itest.Unique("dr"), "--categories", "labs",
			"--purposes", "treatment", "--for", "24h")
		if err == nil || !strings.Contains(err.Error(), "no key of their own") {
			t.Fatalf("a grant signed as the child: %v", err)
		}
		if _, err := c.CLI(t, child.Token, child.Key, "register"); err == nil {
			t.Fatal("a key was registered over the child's entry")
		}
	})
	claim := filepath.Join(dir, "claim.json")
	if _, err := c.CLI(t, child.Token, child.Key, "claim", "--out", claim); err != nil {
		t.Fatal(err)
	}
	t.Run("no claim before majority", func(t *testing.T) {
		if _, err := clinician(stMarys, "claim-key", claim); err == nil || !strings.Contains(err.Error(), "comes of age") {
			t.Fatalf("a claim before majority: %v", err)
		}
	})

	time.Sleep(time.Until(majority.Add(2 * time.Second)))
	t.Run("at majority the father no longer acts", func(t *testing.T) {
		_, err := c.CLI(t, dad.Token, dad.Key, "grant", "--for-patient", child.ID, "--delegation", delegation,
			"--to", "user:ProvidersMSP/"+itest.Unique("dr"), "--categories", "labs", "--purposes", "treatment", "--for", "24h")
		if err == nil || !strings.Contains(err.Error(), "ended") {
			t.Fatalf("the father's grant after majority: %v", err)
		}
		if d, err := itest.Authorize(ctx, t, c.Decisions(t), dad.Token, read(child.ID, "labs", "treatment")); err != nil || d.GetAllow() {
			t.Fatalf("the father's read after majority: %v, %v", d, err)
		}
	})
	t.Run("only the registering hospital attests the claim", func(t *testing.T) {
		if _, err := clinician(providers, "claim-key", claim); err == nil || !strings.Contains(err.Error(), "StMarysMSP") {
			t.Fatalf("another hospital attested the claim: %v", err)
		}
		out, err := clinician(stMarys, "claim-key", claim)
		var claimed struct {
			Patient struct {
				PublicKey  string
				KeyVersion int
			} `json:"patient"`
		}
		if err != nil || json.Unmarshal([]byte(out), &claimed) != nil || claimed.Patient.KeyVersion != 1 || claimed.Patient.PublicKey == "" {
			t.Fatalf("%s: %v", out, err)
		}
		if _, err := clinician(stMarys, "claim-key", claim); err == nil {
			t.Fatal("the claim was taken twice")
		}
	})
	t.Run("the patient acts with their own key", func(t *testing.T) {
		if _, err := c.CLI(t, child.Token, child.Key, "revoke", grantedBy(t, c, child)); err != nil {
			t.Fatal(err)
		}
		history, err := c.CLI(t, child.Token, child.Key, "key", "history")
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Versions []struct {
				Patient struct {
					PublicKey, RegisteredBy string
				} `json:"patient"`
			} `json:"versions"`
		}
		if err := json.Unmarshal([]byte(history), &h); err != nil || len(h.Versions) < 2 || h.Versions[0].Patient.PublicKey != "" ||
			h.Versions[0].Patient.RegisteredBy != "StMarysMSP" || h.Versions[len(h.Versions)-1].Patient.PublicKey == "" {
			t.Fatalf("the entry's history: %s %v", history, err)
		}
	})
}

// grantedBy is the id of the patient's one active consent, which their
// delegate granted.
func grantedBy(t *testing.T, c *itest.Consentd, p itest.Patient) string {
	t.Helper()
	out, err := c.CLI(t, p.Token, p.Key, "consents")
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Consents []struct{ ConsentID, Status, GrantedBy string } `json:"consents"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	for _, c := range resp.Consents {
		if c.Status == "active" && c.GrantedBy != "" {
			return c.ConsentID
		}
	}
	t.Fatalf("no active consent granted by a delegate: %s", out)
	return ""
}
