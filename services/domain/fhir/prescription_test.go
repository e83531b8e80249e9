package fhir

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestPrescriptionOf(t *testing.T) {
	example, err := os.ReadFile("testdata/r4/MedicationRequest.json")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		raw        string
		fills      int
		validUntil string
		fillable   string // "" when fillable at `at`
		err        string
	}{
		{"the R4 example: three repeats, until 2027-11-19", string(example), 4, "2027-11-20T00:00:00Z", "", ""},
		{"cancelled", strings.Replace(string(example), `"status": "active"`, `"status": "cancelled"`, 1), 0, "2027-11-20T00:00:00Z", "not active", ""},
		{"a proposal", strings.Replace(string(example), `"intent": "order"`, `"intent": "proposal"`, 1), 0, "2027-11-20T00:00:00Z", "not an order", ""},
		{"expired", strings.Replace(string(example), `"end": "2027-11-19"`, `"end": "2026-12-31"`, 1), 4, "2027-01-01T00:00:00Z", "expired", ""},
		{"not yet valid", strings.Replace(string(example), `"start": "2026-11-20"`, `"start": "2027-02"`, 1), 4, "2027-11-20T00:00:00Z", "valid from", ""},
		{"no dispense request: one fill, no end", `{"resourceType":"MedicationRequest","status":"active","intent":"order"}`, 1, "", "", ""},
		{"a time with a zone", `{"resourceType":"MedicationRequest","status":"active","intent":"order","dispenseRequest":{"validityPeriod":{"end":"2027-06-30T12:00:00+02:00"}}}`, 1, "2027-06-30T10:00:01Z", "", ""},
		{"too many repeats", `{"resourceType":"MedicationRequest","status":"active","intent":"order","dispenseRequest":{"numberOfRepeatsAllowed":100}}`, 0, "", "", "numberOfRepeatsAllowed"},
		{"an end that is no date", `{"resourceType":"MedicationRequest","status":"active","intent":"order","dispenseRequest":{"validityPeriod":{"end":"soon"}}}`, 0, "", "", "validityPeriod.end"},
		{"another type", `{"resourceType":"Observation","status":"final"}`, 0, "", "", "MedicationRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PrescriptionOf([]byte(tc.raw))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one about %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			terms := p.Terms()
			if terms.Fills != tc.fills || terms.ValidUntil != tc.validUntil {
				t.Fatalf("terms %+v, want %d fills until %q", terms, tc.fills, tc.validUntil)
			}
			if err := terms.Validate(); err != nil {
				t.Fatal(err)
			}
			got := p.Fillable(at)
			if (got == nil) != (tc.fillable == "") || got != nil && !strings.Contains(got.Error(), tc.fillable) {
				t.Fatalf("fillable = %v, want %q", got, tc.fillable)
			}
		})
	}
	p, _ := PrescriptionOf(example)
	if p.Medication != "metformin hydrochloride 500 MG Oral Tablet" || p.Quantity != "180 tablet" {
		t.Fatalf("medication %q, quantity %q", p.Medication, p.Quantity)
	}
}

// FuzzPrescriptionOf: any input either fails or gives terms the ledger
// accepts; the parse never panics.
func FuzzPrescriptionOf(f *testing.F) {
	example, _ := os.ReadFile("testdata/r4/MedicationRequest.json")
	f.Add(example)
	f.Add([]byte(`{"resourceType":"MedicationRequest","status":"active","intent":"order","dispenseRequest":{"numberOfRepeatsAllowed":3,"validityPeriod":{"end":"2027"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := PrescriptionOf(raw)
		if err != nil {
			return
		}
		if err := p.Terms().Validate(); err != nil {
			t.Fatalf("terms the ledger refuses: %v", err)
		}
		if p.Terms().Fills > 0 && !p.Active() {
			t.Fatal("fills for an inactive prescription")
		}
	})
}
