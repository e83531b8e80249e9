package records

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/auth"
)

var pharmacist = auth.Principal{Subject: "ph-1", Role: auth.RolePharmacist, Org: "PharmacyMSP"}

// medicationRequest is a prescription of the patient with a status and
// dispenseRequest (repeats, validity end).
func medicationRequest(patientID, status string, repeats int, end string) []byte {
	return []byte(`{"resourceType":"MedicationRequest","status":"` + status + `","intent":"order",
 "medicationCodeableConcept":{"text":"metformin 500 mg tablet"},
 "subject":{"reference":"Patient/` + patientID + `"},
 "dispenseRequest":{"validityPeriod":{"end":"` + end + `"},"numberOfRepeatsAllowed":` + strconv.Itoa(repeats) + `,
  "quantity":{"value":60,"unit":"tablet"}}}`)
}

func TestPrescriptionTermsNotarized(t *testing.T) {
	f := newFixture(t)
	r := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: medicationRequest("alice", "active", 2, "2099-12-31")})
	n := f.ledger.versions[r.Record.RecordID][0]
	if n.Prescription == nil || n.Prescription.Fills != 3 || n.Prescription.ValidUntil != "2100-01-01T00:00:00Z" {
		t.Fatalf("terms %+v", n.Prescription)
	}
	v2 := f.put(t, drWho, PutRequest{PatientID: "alice", RecordID: r.Record.RecordID, Resource: medicationRequest("alice", "cancelled", 2, "2099-12-31")})
	if got := f.ledger.versions[r.Record.RecordID][1].Prescription; v2.Record.Version != 2 || got == nil || got.Fills != 0 {
		t.Fatalf("a cancelled version's terms %+v", got)
	}
	obs := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "x")})
	if f.ledger.versions[obs.Record.RecordID][0].Prescription != nil {
		t.Fatal("an Observation was given fill terms")
	}
}

func TestVerifyPrescription(t *testing.T) {
	f := newFixture(t)
	f.svc.now = func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	v1 := medicationRequest("alice", "active", 1, "2099-12-31")
	r := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: v1})
	id := r.Record.RecordID
	ctx := testContext(t)

	c, err := f.svc.VerifyPrescription(ctx, pharmacist, id, v1)
	if err != nil || !c.Fillable || !c.Notarized || c.Version != 1 || c.Fills != 2 || c.PrescriberOrg != "ProvidersMSP" || !c.PrescriberRegistered || c.PatientID != "alice" {
		t.Fatalf("a valid prescription: %+v, %v", c, err)
	}
	t.Run("a changed copy is not notarized, and is not read", func(t *testing.T) {
		c, err := f.svc.VerifyPrescription(ctx, pharmacist, id, []byte(strings.Replace(string(v1), `"numberOfRepeatsAllowed":1`, `"numberOfRepeatsAllowed":9`, 1)))
		if err != nil || c.Fillable || c.Notarized || c.Status != "" || !strings.Contains(strings.Join(c.Problems, ";"), "match no notarized version") {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("all fills dispensed", func(t *testing.T) {
		f.ledger.dispenses = map[string][]ledgerapi.Dispense{id: {{Fill: 1}, {Fill: 2}}}
		defer func() { f.ledger.dispenses = nil }()
		c, err := f.svc.VerifyPrescription(ctx, pharmacist, id, v1)
		if err != nil || c.Fillable || c.Dispensed != 2 || !strings.Contains(strings.Join(c.Problems, ";"), "all 2 fill(s) are dispensed") {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		f.svc.now = func() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }
		defer func() { f.svc.now = time.Now }()
		c, err := f.svc.VerifyPrescription(ctx, pharmacist, id, v1)
		if err != nil || c.Fillable || !strings.Contains(strings.Join(c.Problems, ";"), "expired") {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("superseded by a cancellation", func(t *testing.T) {
		f.put(t, drWho, PutRequest{PatientID: "alice", RecordID: id, Resource: medicationRequest("alice", "cancelled", 1, "2099-12-31")})
		c, err := f.svc.VerifyPrescription(ctx, pharmacist, id, v1)
		if err != nil || c.Fillable || c.Latest != 2 || !strings.Contains(strings.Join(c.Problems, ";"), "superseded by version 2") || !strings.Contains(strings.Join(c.Problems, ";"), "allows no fill") {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("not a prescription", func(t *testing.T) {
		obs := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "x")})
		_, err := f.svc.VerifyPrescription(ctx, pharmacist, obs.Record.RecordID, observation("alice", "x"))
		if !errors.Is(err, ErrInvalid) {
			t.Fatal(err)
		}
	})
	t.Run("refused without a decision to allow", func(t *testing.T) {
		f.decider.allow = func(string, *consentv1.Resource) bool { return false }
		defer func() { f.decider.allow = func(string, *consentv1.Resource) bool { return true } }()
		if _, err := f.svc.VerifyPrescription(ctx, pharmacist, id, v1); !errors.Is(err, ErrDenied) {
			t.Fatalf("want a denial, got %v", err)
		}
		if _, err := f.svc.Dispense(ctx, pharmacist, id, fhir.Digest(v1), 1); !errors.Is(err, ErrDenied) {
			t.Fatalf("want a denial, got %v", err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for name, call := range map[string]func() error{
			"no resource":     func() error { _, err := f.svc.VerifyPrescription(ctx, pharmacist, id, nil); return err },
			"a bad record id": func() error { _, err := f.svc.VerifyPrescription(ctx, pharmacist, "a b", v1); return err },
			"a huge resource": func() error {
				_, err := f.svc.VerifyPrescription(ctx, pharmacist, id, make([]byte, fhir.MaxResourceBytes+1))
				return err
			},
			"quantity 0":       func() error { _, err := f.svc.Dispense(ctx, pharmacist, id, fhir.Digest(v1), 0); return err },
			"a malformed hash": func() error { _, err := f.svc.Dispense(ctx, pharmacist, id, "abc", 1); return err },
		} {
			if err := call(); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: want ErrInvalid, got %v", name, err)
			}
		}
	})
	t.Run("a service that does not dispense for the pharmacy refuses", func(t *testing.T) {
		if _, err := f.svc.Dispense(ctx, pharmacist, id, fhir.Digest(v1), 1); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "does not dispense") {
			t.Fatalf("got %v", err)
		}
	})
}
