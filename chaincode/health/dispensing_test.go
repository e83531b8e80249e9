package health

import (
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

// dispensing is the purpose a pharmacy's consent must allow.
var dispensing = []string{ledgerapi.PurposeDispensing}

func (f *fixture) prescribe(caller fakeIdentity, recordID, patientID, sha string, version int, previous string, fills int, validUntil string) (*ledgerapi.Notarization, error) {
	return run(f, caller, func(ctx ctxT) (*ledgerapi.Notarization, error) {
		return new(Notary).NotarizePrescription(ctx, recordID, patientID, sha, version, previous, fills, validUntil)
	})
}

func (f *fixture) dispense(caller fakeIdentity, recordID, sha, pharmacist string, quantity int) (*ledgerapi.Dispense, error) {
	return run(f, caller, func(ctx ctxT) (*ledgerapi.Dispense, error) {
		return new(Dispensing).Dispense(ctx, recordID, sha, pharmacist, quantity)
	})
}

func TestDispense(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	f.letFile(t, providers, alice, bob)
	f.mustGrant(t, alice, grantTo("rx-alice", "org", "PharmacyMSP", []string{"prescriptions"}, dispensing))
	f.mustGrant(t, bob, grantTo("rx-bob-treat", "org", "PharmacyMSP", []string{"prescriptions"}, treatment))
	v1, v2, v3 := hashOf("rx v1"), hashOf("rx v2"), hashOf("rx v3")
	later := ledgerapi.FormatTime(f.clock.Add(24 * time.Hour))
	mustOK := func(n *ledgerapi.Notarization, err error) *ledgerapi.Notarization {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := mustOK(f.prescribe(providers, "rx1", "alice", v1, 1, "", 2, later))
	if n.Category != "prescriptions" || n.Prescription == nil || n.Prescription.Fills != 2 || n.Prescription.ValidUntil != later {
		t.Fatalf("notarized %+v", n)
	}
	mustOK(f.prescribe(providers, "rx-bob", "bob", v1, 1, "", 1, ""))
	mustOK(f.prescribe(providers, "rx-short", "alice", hashOf("short"), 1, "", 1, ledgerapi.FormatTime(f.clock.Add(30*time.Second))))
	mustOK(f.notarizeAs(providers, "rx-plain", "alice", "prescriptions", hashOf("plain"), 1, ""))
	mustOK(f.notarize("lab1", "alice", hashOf("lab"), 1, ""))

	for _, tc := range []struct { // in order, on one ledger
		name       string
		caller     fakeIdentity
		record     string
		sha        string
		pharmacist string
		quantity   int
		want       error
		msg        string
		fill       int
	}{
		{"a hospital cannot dispense", providers, "rx1", v1, "ph-1", 30, ledgerapi.ErrForbidden, "may not call", 0},
		{"an insurer cannot dispense", insurer, "rx1", v1, "ph-1", 30, ledgerapi.ErrForbidden, "may not call", 0},
		{"quantity 0", pharmacy, "rx1", v1, "ph-1", 0, ledgerapi.ErrInvalid, "quantity", 0},
		{"a huge quantity", pharmacy, "rx1", v1, "ph-1", ledgerapi.MaxDispenseQuantity + 1, ledgerapi.ErrInvalid, "quantity", 0},
		{"a malformed pharmacist", pharmacy, "rx1", v1, "ph 1", 1, ledgerapi.ErrInvalid, "pharmacistId", 0},
		{"an unknown record", pharmacy, "rx9", v1, "ph-1", 1, ledgerapi.ErrNotFound, "not notarized", 0},
		{"a lab is not a prescription", pharmacy, "lab1", hashOf("lab"), "ph-1", 1, ledgerapi.ErrInvalid, "not a prescription", 0},
		{"a prescription without terms", pharmacy, "rx-plain", hashOf("plain"), "ph-1", 1, ledgerapi.ErrConflict, "without fill terms", 0},
		{"bytes that match no version", pharmacy, "rx1", v2, "ph-1", 1, ledgerapi.ErrConflict, "matches no version", 0},
		{"a consent for treatment is not for dispensing", pharmacy, "rx-bob", v1, "ph-1", 1, ledgerapi.ErrForbidden, "purpose dispensing is not granted", 0},
		{"the first fill", pharmacy, "rx1", v1, "ph-1", 30, nil, "", 1},
		{"the repeat, by another pharmacist", pharmacy, "rx1", v1, "ph-2", 30, nil, "", 2},
		{"a third fill", pharmacy, "rx1", v1, "ph-1", 30, ledgerapi.ErrConflict, "allows 2 fill(s) and 2 are dispensed", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := f.dispense(tc.caller, tc.record, tc.sha, tc.pharmacist, tc.quantity)
			wantErr(t, err, tc.want)
			if err != nil {
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q does not mention %q", err, tc.msg)
				}
				return
			}
			if d.Fill != tc.fill || d.Fills != 2 || d.Org != "PharmacyMSP" || d.Pharmacist != tc.pharmacist || d.PatientID != "alice" || d.ConsentID != "rx-alice" || d.TxID != f.lastTx() {
				t.Fatalf("dispense %+v", d)
			}
		})
	}

	t.Run("an expired prescription", func(t *testing.T) {
		f.clock = f.clock.Add(time.Minute)
		_, err := f.dispense(pharmacy, "rx-short", hashOf("short"), "ph-1", 1)
		wantErr(t, err, ledgerapi.ErrConflict)
		if !strings.Contains(err.Error(), "expired") {
			t.Fatal(err)
		}
	})
	t.Run("a superseded version, and a cancellation", func(t *testing.T) {
		mustOK(f.prescribe(providers, "rx2", "alice", v1, 1, "", 3, ""))
		if _, err := f.dispense(pharmacy, "rx2", v1, "ph-1", 10); err != nil {
			t.Fatal(err)
		}
		mustOK(f.prescribe(providers, "rx2", "alice", v2, 2, v1, 3, ""))
		_, err := f.dispense(pharmacy, "rx2", v1, "ph-1", 10)
		wantErr(t, err, ledgerapi.ErrConflict)
		if !strings.Contains(err.Error(), "superseded by version 2") {
			t.Fatal(err)
		}
		d, err := f.dispense(pharmacy, "rx2", v2, "ph-1", 10)
		if err != nil || d.Fill != 2 || d.Version != 2 {
			t.Fatalf("dispense of version 2: %+v, %v", d, err)
		}
		mustOK(f.prescribe(providers, "rx2", "alice", v3, 3, v2, 0, ""))
		_, err = f.dispense(pharmacy, "rx2", v3, "ph-1", 10)
		wantErr(t, err, ledgerapi.ErrConflict)
		if !strings.Contains(err.Error(), "not active") {
			t.Fatal(err)
		}
	})
	t.Run("a revoked consent", func(t *testing.T) {
		mustOK(f.prescribe(providers, "rx3", "alice", v1, 1, "", 1, ""))
		if _, err := f.revoke(t, alice, "rx-alice"); err != nil {
			t.Fatal(err)
		}
		_, err := f.dispense(pharmacy, "rx3", v1, "ph-1", 1)
		wantErr(t, err, ledgerapi.ErrForbidden)
		if !strings.Contains(err.Error(), "revoked") {
			t.Fatal(err)
		}
	})
	t.Run("the dispenses, in fill order", func(t *testing.T) {
		got, err := run(f, insurer, func(ctx ctxT) ([]ledgerapi.Dispense, error) { return new(Dispensing).Dispenses(ctx, "rx1") })
		if err != nil || len(got) != 2 || got[0].Fill != 1 || got[1].Fill != 2 || got[1].Pharmacist != "ph-2" {
			t.Fatalf("dispenses %+v, %v", got, err)
		}
	})
}

func TestNotarizePrescriptionTerms(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	f.letFile(t, providers, alice)
	for _, tc := range []struct {
		name       string
		fills      int
		validUntil string
		msg        string
	}{
		{"negative fills", -1, "", "fills"},
		{"too many fills", ledgerapi.MaxFills + 1, "", "fills"},
		{"a date that is not a time", 1, "2030-13-01", "validUntil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.prescribe(providers, "rx1", "alice", hashOf("x"), 1, "", tc.fills, tc.validUntil)
			wantErr(t, err, ledgerapi.ErrInvalid)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatal(err)
			}
		})
	}
	t.Run("the filing organisation needs a consent, as for any record", func(t *testing.T) {
		_, err := f.prescribe(stmarys, "rx1", "alice", hashOf("x"), 1, "", 1, "")
		wantErr(t, err, ledgerapi.ErrForbidden)
	})
}
