package patientkey

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/ledger"
)

func TestSignedPayloads(t *testing.T) {
	k, err := Generate("pat-1")
	if err != nil {
		t.Fatal(err)
	}
	k.SetNonce(41)
	grant := ledgerapi.ConsentGrant{
		ConsentID: "c-1", Grantee: ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, "dr-a"),
		Categories: []string{"labs"}, Purposes: []string{"treatment"},
	}
	steps := []struct {
		name      string
		sign      func() (ledger.Signed, error)
		op        string
		wantNonce uint64
	}{
		{"register", k.Register, ledgerapi.OpPatientRegister, 0},
		{"grant", func() (ledger.Signed, error) { return k.Grant(grant) }, ledgerapi.OpConsentGrant, 42},
		{"revoke", func() (ledger.Signed, error) { return k.Revoke("c-1") }, ledgerapi.OpConsentRevoke, 43},
		{"pair device", func() (ledger.Signed, error) { return k.RegisterDevice("watch-1", k.PublicKey()) }, ledgerapi.OpDeviceRegister, 44},
		{"unpair device", func() (ledger.Signed, error) { return k.RevokeDevice("watch-1") }, ledgerapi.OpDeviceRevoke, 45},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			signed, err := st.sign()
			if err != nil {
				t.Fatal(err)
			}
			payload := signed.Payload
			if err := ledgerapi.VerifySignature(k.PublicKey(), []byte(payload), signed.Signature); err != nil {
				t.Fatalf("signature does not verify: %v", err)
			}
			var h ledgerapi.Header
			if err := json.Unmarshal([]byte(payload), &h); err != nil {
				t.Fatal(err)
			}
			if h.Op != st.op || h.Nonce != st.wantNonce || h.PatientID != "pat-1" {
				t.Fatalf("header %+v, want op %s nonce %d", h, st.op, st.wantNonce)
			}
		})
	}

	t.Run("another key's signature does not verify", func(t *testing.T) {
		other, err := Generate("pat-1")
		if err != nil {
			t.Fatal(err)
		}
		s, err := other.Grant(grant)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledgerapi.VerifySignature(k.PublicKey(), []byte(s.Payload), s.Signature); err == nil {
			t.Fatal("a payload signed by another key verified against the patient's key")
		}
	})

	t.Run("SetNonce never goes back", func(t *testing.T) {
		k.SetNonce(1)
		s, err := k.Revoke("c-1")
		if err != nil {
			t.Fatal(err)
		}
		var h ledgerapi.Header
		if err := json.Unmarshal([]byte(s.Payload), &h); err != nil {
			t.Fatal(err)
		}
		if h.Nonce != 46 {
			t.Fatalf("nonce %d after SetNonce(1), want 46", h.Nonce)
		}
	})
}

func TestGenerateRejectsBadID(t *testing.T) {
	for _, id := range []string{"", "has space", "-leading-dash"} {
		if _, err := Generate(id); err == nil {
			t.Errorf("Generate(%q) accepted an invalid patient id", id)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "patient.json")
	k, err := Generate("pat-2")
	if err != nil {
		t.Fatal(err)
	}
	k.SetNonce(7)
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.PatientID() != "pat-2" || loaded.PublicKey() != k.PublicKey() {
		t.Fatalf("loaded %s %s, want pat-2 %s", loaded.PatientID(), loaded.PublicKey(), k.PublicKey())
	}
	s, err := loaded.Revoke("c-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Payload, `"nonce":8`) {
		t.Fatalf("first payload after load %s, want nonce 8", s.Payload)
	}

	t.Run("a key file others can read is refused", func(t *testing.T) {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("Load of a 0644 key: %v", err)
		}
	})
	t.Run("garbage is refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(bad, []byte(`{"patientId":"p","seed":"AAAA"}`), 0o600)
		if _, err := Load(bad); err == nil {
			t.Fatal("a key file with a short seed loaded")
		}
	})
}
