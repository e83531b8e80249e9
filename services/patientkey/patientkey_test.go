package patientkey

import (
	"encoding/json"
	"testing"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/ledger"
)

func TestSignedPayloads(t *testing.T) {
	k, err := Generate("pat-1")
	if err != nil {
		t.Fatal(err)
	}
	k.SetNonce(41)
	grant := ledgerapi.ConsentGrant{
		ConsentID: "c-1", Grantee: ledgerapi.Grantee{Kind: "user", ID: "dr-a"},
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
