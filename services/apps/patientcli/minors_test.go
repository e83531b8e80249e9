package patientcli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/domain/patientkey"
)

// The guardian signs a child's registration and the grown child signs
// their claim, each into a file for the hospital's clinician, on this
// machine alone: the payloads are the chaincode's, signed by the right key.
func TestRegisterChildAndClaim(t *testing.T) {
	f := newFixture(t)
	if code, _, errOut := f.run(t, "keygen", "--id", "dad-1"); code != 0 {
		t.Fatal(errOut)
	}
	dad, err := patientkey.Load(f.key)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "registration.json")
	for name, tc := range map[string]struct {
		args []string
		code int
	}{
		"no --out":              {[]string{"register-child", "--child", "baby-1", "--majority", "2040-01-01"}, 2},
		"no --child":            {[]string{"register-child", "--majority", "2040-01-01", "--out", out}, 2},
		"no --majority":         {[]string{"register-child", "--child", "baby-1", "--out", out}, 2},
		"a majority passed":     {[]string{"register-child", "--child", "baby-1", "--majority", "2001-01-01", "--out", out}, 2},
		"not a date":            {[]string{"register-child", "--child", "baby-1", "--majority", "when they are 18", "--out", out}, 2},
		"a carer":               {[]string{"register-child", "--child", "baby-1", "--majority", "2040-01-01", "--relationship", "carer", "--out", out}, 2},
		"approve without grant": {[]string{"register-child", "--child", "baby-1", "--majority", "2040-01-01", "--powers", "read,approve", "--out", out}, 2},
		"the guardian's own id": {[]string{"register-child", "--child", "dad-1", "--majority", "2040-01-01", "--out", out}, 2},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, errOut := f.run(t, tc.args...); code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("a refused registration was written")
			}
		})
	}
	if code, stdout, errOut := f.run(t, "register-child", "--child", "baby-1", "--majority", "2040-01-01", "--delegation", "d-baby", "--out", out); code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, errOut)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", fi, err)
	}
	s, err := clikit.ReadSigned(nil, out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ledgerapi.Parse[ledgerapi.MinorRegistration]([]byte(s.Payload))
	if err != nil {
		t.Fatal(err)
	}
	if m.PatientID != "baby-1" || m.GuardianID != "dad-1" || m.GuardianKey != dad.PublicKey() || m.MajorityAt != "2040-01-01T00:00:00Z" ||
		m.DelegationID != "d-baby" || m.Relationship != "parent" || len(m.Powers) != 4 {
		t.Fatalf("%+v", m)
	}
	if err := ledgerapi.VerifySignature(dad.PublicKey(), []byte(s.Payload), s.Signature); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := f.run(t, "register-child", "--child", "baby-1", "--majority", "2040-01-01", "--out", out); code != 1 || !strings.Contains(errOut, "exists") {
		t.Fatalf("overwrote the file: exit %d %s", code, errOut)
	}

	// Years later, the child's own key.
	f.key = filepath.Join(t.TempDir(), "baby.json")
	f.run(t, "keygen", "--id", "baby-1")
	baby, err := patientkey.Load(f.key)
	if err != nil {
		t.Fatal(err)
	}
	claim := filepath.Join(t.TempDir(), "claim.json")
	if code, _, _ := f.run(t, "claim"); code != 2 {
		t.Fatalf("claim without --out: exit %d", code)
	}
	if code, _, errOut := f.run(t, "claim", "--recovery-key", f.key, "--out", claim); code != 1 || !strings.Contains(errOut, "must not be your key") {
		t.Fatalf("the key as its own recovery key: exit %d %s", code, errOut)
	}
	if code, _, errOut := f.run(t, "claim", "--out", claim); code != 0 {
		t.Fatal(errOut)
	}
	s, err = clikit.ReadSigned(nil, claim)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ledgerapi.Parse[ledgerapi.KeyClaim]([]byte(s.Payload))
	if err != nil || c.PatientID != "baby-1" || c.PublicKey != baby.PublicKey() {
		t.Fatalf("%+v %v", c, err)
	}
	if err := ledgerapi.VerifySignature(baby.PublicKey(), []byte(s.Payload), s.Signature); err != nil {
		t.Fatal(err)
	}
	if n := f.gw.requests(); n != 0 {
		t.Fatalf("signing talked to the service (%d calls)", n)
	}
}
