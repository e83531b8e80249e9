package fhir_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
)

// seeds are inputs for both fuzz targets: the fixtures, the resources of
// the table tests and the RFC 8785 examples.
func seeds(f *testing.F) [][]byte {
	out := [][]byte{
		[]byte(heartRate),
		[]byte(obs(`,"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}]`)),
		[]byte(`{"resourceType":"Patient","id":"pat-1"}`),
		[]byte(resource("Immunization", "patient", "Patient/pat-1", `,"subject":{"reference":"Patient/pat-2"}`)),
		[]byte(resource("Claim", "patient", "Patient/pat-1", `,"total":{"value":1234.50,"currency":"EUR"}`)),
		[]byte(obs(`,"status":"final","status":"amended"`)),
		[]byte(obs(`,"note":[{"text":"\ud83d\ude00 \ud83d"}]`)),
		[]byte(obs(`,"valueInteger":9007199254740993`)),
		[]byte(`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`),
		[]byte(`{"\u20ac":1,"\r":2,"\ufb33":3,"1":4,"\ud83d\ude00":5,"\u0080":6,"\u00f6":7}`),
		[]byte(`[-0,1e-7,1e21,5e-324,1e400,1e-400]`),
		[]byte("{\"a\":\"\xff\"}"),
		[]byte(`{"a":1}{"a":1}`),
		[]byte(`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]`),
		[]byte(``),
	}
	for _, name := range []string{"observation.json", "patient.json", "allergy.json", "r4/Observation.json", "r4/Claim.json", "r4/MedicationRequest.json"} {
		out = append(out, readFixture(f, name))
	}
	return out
}

// FuzzValidate: no input makes Validate panic; every rejection wraps exactly
// one sentinel; anything accepted is a resource of a known type, in a
// category of the ledger's vocabulary, that names the patient and no other
// (checked here with encoding/json, independently of the package's parser),
// and that can be hashed.
func FuzzValidate(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, "pat-1")
		f.Add(s, "pat-2")
	}
	f.Add([]byte(`{"resourceType":"Condition","subject":{"reference":"Patient/"}}`), "")
	patientField := map[string]string{
		"AllergyIntolerance": "patient", "Immunization": "patient", "Claim": "patient", "ExplanationOfBenefit": "patient",
	}
	f.Fuzz(func(t *testing.T, raw []byte, patientID string) {
		res, err := fhir.Validate(raw, patientID)
		if err != nil {
			checkOneSentinel(t, err)
			return
		}
		// The FHIR API files a resource for the patient PatientOf reads from
		// it: that must be the one Validate checked, and Inspect agrees.
		if got, err := fhir.PatientOf(raw); err != nil || got != patientID {
			t.Fatalf("PatientOf = %q, %v; Validate accepted it for %q", got, err, patientID)
		}
		if typ, err := fhir.ResourceTypeOf(raw); err != nil || typ != res.Type {
			t.Fatalf("ResourceTypeOf = %q, %v; Validate says %s", typ, err, res.Type)
		}
		if again, err := fhir.Inspect(raw, patientID); err != nil || again != res {
			t.Fatalf("Inspect = %+v, %v; Validate %+v", again, err, res)
		}
		if len(raw) > fhir.MaxResourceBytes {
			t.Fatalf("accepted %d bytes", len(raw))
		}
		if !slices.Contains(ledgerapi.Categories, res.Category) {
			t.Fatalf("category %q is not in the ledger's vocabulary", res.Category)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("accepted what encoding/json rejects: %v", err)
		}
		if m["resourceType"] != res.Type {
			t.Fatalf("Type %q, resourceType %v", res.Type, m["resourceType"])
		}
		if id, _ := m["id"].(string); id != res.ID {
			t.Fatalf("ID %q, id %q", res.ID, id)
		}
		reference := func(field string) (string, bool) {
			ref, ok := m[field].(map[string]any)
			if !ok {
				return "", false
			}
			s, ok := ref["reference"].(string)
			return s, ok
		}
		switch res.Type {
		case "Patient":
			if res.ID != patientID {
				t.Fatalf("accepted Patient %q for patient %q", res.ID, patientID)
			}
		default:
			field := patientField[res.Type]
			if field == "" {
				field = "subject"
			}
			if ref, _ := reference(field); ref != "Patient/"+patientID {
				t.Fatalf("accepted a %s whose %s is %q for patient %q", res.Type, field, ref, patientID)
			}
		}
		for _, field := range []string{"subject", "patient"} {
			if _, present := m[field]; !present {
				continue
			}
			if ref, _ := reference(field); ref != "Patient/"+patientID {
				t.Fatalf("accepted a resource whose %s is %q for patient %q", field, ref, patientID)
			}
		}
	})
}

func checkOneSentinel(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %q wraps %d sentinels, want 1", err, n)
	}
}
