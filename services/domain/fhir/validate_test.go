package fhir_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
)

const patient = "pat-1"

var sentinels = []error{fhir.ErrInvalid, fhir.ErrTooLarge, fhir.ErrWrongPatient, fhir.ErrUnknownType}

// required are the elements R4 requires of each type (but the patient),
// minimal: what a resource of the type must have to be a valid one.
var required = map[string]string{
	"Observation":          `,"status":"final","code":{"text":"glucose"}`,
	"MedicationRequest":    `,"status":"active","intent":"order","medicationCodeableConcept":{"text":"amoxicillin"}`,
	"MedicationStatement":  `,"status":"active","medicationCodeableConcept":{"text":"amoxicillin"}`,
	"Immunization":         `,"status":"completed","vaccineCode":{"text":"MMR"},"occurrenceDateTime":"2024-01-01"`,
	"DiagnosticReport":     `,"status":"final","code":{"text":"panel"}`,
	"ImagingStudy":         `,"status":"available"`,
	"Procedure":            `,"status":"completed"`,
	"Encounter":            `,"status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}`,
	"DocumentReference":    `,"status":"current","content":[{"attachment":{"contentType":"text/plain","data":"aGk="}}]`,
	"Claim":                `,"status":"active","type":{"text":"oral"},"use":"claim","created":"2024-01-01","provider":{"reference":"Organization/o-1"},"priority":{"text":"normal"},"insurance":[{"sequence":1,"focal":true,"coverage":{"reference":"Coverage/c-1"}}]`,
	"ExplanationOfBenefit": `,"status":"active","type":{"text":"oral"},"use":"claim","created":"2024-01-01","insurer":{"reference":"Organization/o-2"},"provider":{"reference":"Organization/o-1"},"outcome":"complete","insurance":[{"focal":true,"coverage":{"reference":"Coverage/c-1"}}]`,
	"CarePlan":             `,"status":"active","intent":"plan"`,
}

// resource is a minimal valid resource of type typ whose field references
// ref, with more members appended.
func resource(typ, field, ref, more string) string {
	return fmt.Sprintf(`{"resourceType":%q,"id":"r-1",%q:{"reference":%q}%s%s}`, typ, field, ref, required[typ], more)
}

// heartRate is one resource, valid.
const heartRate = `{"resourceType":"Observation","id":"hr-1","status":"final",` +
	`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"Heart rate"},` +
	`"subject":{"reference":"Patient/pat-1"},"valueQuantity":{"value":72,"unit":"beats/minute"},` +
	`"component":[{"code":{"text":"a"},"valueQuantity":{"value":0.5}},{"code":{"text":"b"},"valueQuantity":{"value":1500}}]}`

func obs(more string) string { return resource("Observation", "subject", "Patient/"+patient, more) }

func TestValidateCategories(t *testing.T) {
	const vital = `{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}`
	const lab = `{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}`
	cases := []struct {
		name, raw, category string
	}{
		{"Patient is demographics", `{"resourceType":"Patient","id":"pat-1","name":[{"family":"Doe"}]}`, "demographics"},
		{"Observation without category is labs", obs(""), "labs"},
		{"Observation with laboratory category is labs", obs(`,"category":[{"coding":[` + lab + `]}]`), "labs"},
		{"Observation with vital-signs category is vitals", obs(`,"category":[{"coding":[` + vital + `]}]`), "vitals"},
		{"Observation with vital-signs code and no system is vitals", obs(`,"category":[{"coding":[{"code":"vital-signs"}]}]`), "vitals"},
		{"Observation with vital-signs in a later coding is vitals", obs(`,"category":[{"text":"x"},{"coding":[` + lab + `,` + vital + `]}]`), "vitals"},
		{"Observation with vital-signs code from another system is labs", obs(`,"category":[{"coding":[{"system":"http://example.org/cats","code":"vital-signs"}]}]`), "labs"},
		{"Observation with vital-signs only as text is labs", obs(`,"category":[{"text":"vital-signs"}]`), "labs"},
		{"Condition is conditions", resource("Condition", "subject", "Patient/pat-1", ""), "conditions"},
		{"MedicationRequest is prescriptions", resource("MedicationRequest", "subject", "Patient/pat-1", ""), "prescriptions"},
		{"MedicationStatement is medications", resource("MedicationStatement", "subject", "Patient/pat-1", ""), "medications"},
		{"AllergyIntolerance is allergies", resource("AllergyIntolerance", "patient", "Patient/pat-1", ""), "allergies"},
		{"Immunization is immunizations", resource("Immunization", "patient", "Patient/pat-1", ""), "immunizations"},
		{"DiagnosticReport is labs", resource("DiagnosticReport", "subject", "Patient/pat-1", ""), "labs"},
		{"ImagingStudy is imaging", resource("ImagingStudy", "subject", "Patient/pat-1", ""), "imaging"},
		{"Procedure is notes", resource("Procedure", "subject", "Patient/pat-1", ""), "notes"},
		{"Encounter is notes", resource("Encounter", "subject", "Patient/pat-1", ""), "notes"},
		{"DocumentReference is notes", resource("DocumentReference", "subject", "Patient/pat-1", ""), "notes"},
		{"Claim is claims", resource("Claim", "patient", "Patient/pat-1", ""), "claims"},
		{"ExplanationOfBenefit is claims", resource("ExplanationOfBenefit", "patient", "Patient/pat-1", ""), "claims"},
		{"CarePlan is notes", resource("CarePlan", "subject", "Patient/pat-1", ""), "notes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := fhir.Validate([]byte(c.raw), patient)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			typ := strings.SplitN(c.name, " ", 2)[0]
			id := "r-1"
			if typ == "Patient" {
				id = patient
			}
			want := fhir.Resource{Type: typ, ID: id, Category: c.category}
			if got != want {
				t.Errorf("Validate = %+v, want %+v", got, want)
			}
			if !slices.Contains(ledgerapi.Categories, got.Category) {
				t.Errorf("category %q is not in the ledger's vocabulary %v", got.Category, ledgerapi.Categories)
			}
		})
	}
}

func TestValidateFixtures(t *testing.T) {
	cases := []struct {
		file string
		want fhir.Resource
	}{
		{"observation.json", fhir.Resource{Type: "Observation", ID: "heart-rate-2024-03-01", Category: "vitals"}},
		{"patient.json", fhir.Resource{Type: "Patient", ID: "pat-1", Category: "demographics"}},
		{"allergy.json", fhir.Resource{Type: "AllergyIntolerance", ID: "penicillin", Category: "allergies"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, err := fhir.Validate(readFixture(t, c.file), patient)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got != c.want {
				t.Errorf("Validate = %+v, want %+v", got, c.want)
			}
			if _, err := fhir.Validate(readFixture(t, c.file), "pat-2"); !errors.Is(err, fhir.ErrWrongPatient) {
				t.Errorf("Validate for another patient: err = %v, want ErrWrongPatient", err)
			}
		})
	}
}

func TestValidateAcceptsAResourceWithoutID(t *testing.T) {
	got, err := fhir.Validate([]byte(`{"resourceType":"Condition","subject":{"reference":"Patient/pat-1"}}`), patient)
	if err != nil {
		t.Fatal(err)
	}
	if want := (fhir.Resource{Type: "Condition", Category: "conditions"}); got != want {
		t.Errorf("Validate = %+v, want %+v", got, want)
	}
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want error
		path string // the path the message must name
	}{
		// The JSON text.
		{name: "empty input", raw: ``, want: fhir.ErrInvalid, path: "$"},
		{name: "only whitespace", raw: " \n\t", want: fhir.ErrInvalid, path: "$"},
		{name: "not JSON", raw: `resourceType=Observation`, want: fhir.ErrInvalid, path: "$"},
		{name: "truncated object", raw: `{"resourceType":"Observation","subject":{"reference":"Patient/pat-1"}`, want: fhir.ErrInvalid, path: "$"},
		{name: "syntax error names its path", raw: obs(`,"valueCodeableConcept":{"coding":[{"code":"x",}]}`), want: fhir.ErrInvalid, path: "$.valueCodeableConcept.coding[0]"},
		{name: "trailing comma in array", raw: obs(`,"note":[{"text":"a"},]`), want: fhir.ErrInvalid, path: "$.note[1]"},
		{name: "single quotes", raw: `{'resourceType':'Patient','id':'pat-1'}`, want: fhir.ErrInvalid, path: "$"},
		{name: "array at the top", raw: `[` + obs("") + `]`, want: fhir.ErrInvalid, path: "$"},
		{name: "string at the top", raw: `"Observation"`, want: fhir.ErrInvalid, path: "$"},
		{name: "null at the top", raw: `null`, want: fhir.ErrInvalid, path: "$"},
		{name: "two objects", raw: obs("") + obs(""), want: fhir.ErrInvalid, path: "$"},
		{name: "two objects with whitespace between", raw: obs("") + "\n" + resource("Observation", "subject", "Patient/pat-2", ""), want: fhir.ErrInvalid, path: "$"},
		{name: "trailing garbage", raw: obs("") + ` x`, want: fhir.ErrInvalid, path: "$"},
		{name: "trailing close brace", raw: obs("") + `}`, want: fhir.ErrInvalid, path: "$"},
		{name: "duplicate member at the top", raw: obs(`,"status":"final","status":"amended"`), want: fhir.ErrInvalid, path: "$.status"},
		{name: "duplicate resourceType", raw: `{"resourceType":"Observation","resourceType":"Patient","id":"pat-1"}`, want: fhir.ErrInvalid, path: "$.resourceType"},
		{name: "duplicate subject", raw: obs(`,"subject":{"reference":"Patient/pat-2"}`), want: fhir.ErrInvalid, path: "$.subject"},
		{name: "duplicate nested member", raw: `{"resourceType":"Observation","subject":{"reference":"Patient/pat-2","reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.subject.reference"},
		{name: "duplicate member inside an array", raw: obs(`,"valueCodeableConcept":{"coding":[{"code":"a"},{"code":"b","code":"c"}]}`), want: fhir.ErrInvalid, path: "$.valueCodeableConcept.coding[1].code"},
		{name: "duplicate member spelled with an escape", raw: obs(`,"st\u0061tus":"final","status":"amended"`), want: fhir.ErrInvalid, path: "$.status"},
		{name: "duplicate member with an odd name", raw: obs(`,"a b":1,"a b":2`), want: fhir.ErrInvalid, path: `$["a b"]`},
		{name: "invalid UTF-8", raw: obs(`,"note":[{"text":"caf` + "\xe9" + `"}]`), want: fhir.ErrInvalid, path: "$"},
		{name: "unpaired high surrogate escape", raw: obs(`,"note":[{"text":"\ud83d"}]`), want: fhir.ErrInvalid, path: "$.note[0].text"},
		{name: "unpaired low surrogate escape", raw: obs(`,"note":[{"text":"a\ude00b"}]`), want: fhir.ErrInvalid, path: "$.note[0].text"},
		{name: "reversed surrogate escapes", raw: obs(`,"note":[{"text":"\ude00\ud83d"}]`), want: fhir.ErrInvalid, path: "$.note[0].text"},
		{name: "unpaired surrogate escape in a name", raw: obs(`,"x\udbff":1`), want: fhir.ErrInvalid, path: "$"},
		{name: "nesting too deep", raw: obs(`,"extension":` + strings.Repeat(`[`, 1000) + strings.Repeat(`]`, 1000)), want: fhir.ErrInvalid, path: "$.extension" + strings.Repeat("[0]", 99)},
		{name: "number beyond the double range", raw: obs(`,"valueQuantity":{"value":1e400}`), want: fhir.ErrInvalid, path: "$.valueQuantity.value"},
		{name: "negative number beyond the double range", raw: obs(`,"valueQuantity":{"value":-2e308}`), want: fhir.ErrInvalid, path: "$.valueQuantity.value"},
		{name: "NaN", raw: obs(`,"valueQuantity":{"value":NaN}`), want: fhir.ErrInvalid, path: "$.valueQuantity.value"},
		{name: "Infinity", raw: obs(`,"valueQuantity":{"value":Infinity}`), want: fhir.ErrInvalid, path: "$.valueQuantity.value"},
		{name: "leading zero", raw: obs(`,"valueInteger":07`), want: fhir.ErrInvalid, path: "$"},
		{name: "too large", raw: obs(`,"note":[{"text":"` + strings.Repeat("a", fhir.MaxResourceBytes) + `"}]`), want: fhir.ErrTooLarge, path: "$"},

		// resourceType.
		{name: "resourceType missing", raw: `{"id":"r-1","subject":{"reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.resourceType"},
		{name: "resourceType not a string", raw: `{"resourceType":["Observation"],"subject":{"reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.resourceType"},
		{name: "resourceType null", raw: `{"resourceType":null,"subject":{"reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.resourceType"},
		{name: "resourceType unknown", raw: resource("Banana", "subject", "Patient/pat-1", ""), want: fhir.ErrUnknownType, path: "$.resourceType"},
		{name: "resourceType in the wrong case", raw: resource("observation", "subject", "Patient/pat-1", ""), want: fhir.ErrUnknownType, path: "$.resourceType"},
		{name: "resourceType with whitespace", raw: resource("Observation ", "subject", "Patient/pat-1", ""), want: fhir.ErrUnknownType, path: "$.resourceType"},
		{name: "resourceType not clinical", raw: resource("Bundle", "subject", "Patient/pat-1", ""), want: fhir.ErrUnknownType, path: "$.resourceType"},
		{name: "resourceType Consent is not a record", raw: resource("Consent", "patient", "Patient/pat-1", ""), want: fhir.ErrUnknownType, path: "$.resourceType"},

		// id.
		{name: "id not a string", raw: `{"resourceType":"Condition","id":7,"subject":{"reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.id"},
		{name: "id empty", raw: `{"resourceType":"Condition","id":"","subject":{"reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.id"},
		{name: "id too long", raw: `{"resourceType":"Condition","id":"` + strings.Repeat("a", 65) + `","subject":{"reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.id"},
		{name: "id with a slash", raw: `{"resourceType":"Condition","id":"a/b","subject":{"reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.id"},
		{name: "id with an underscore", raw: `{"resourceType":"Condition","id":"a_b","subject":{"reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.id"},
		{name: "id with a space", raw: `{"resourceType":"Condition","id":"a b","subject":{"reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.id"},
		{name: "id with a non-ASCII letter", raw: `{"resourceType":"Condition","id":"zoë","subject":{"reference":"Patient/pat-1"}}`, want: fhir.ErrInvalid, path: "$.id"},
		{name: "Patient id invalid", raw: `{"resourceType":"Patient","id":"pat 1"}`, want: fhir.ErrInvalid, path: "$.id"},

		// The patient.
		{name: "Patient id missing", raw: `{"resourceType":"Patient","name":[{"family":"Doe"}]}`, want: fhir.ErrWrongPatient, path: "$.id"},
		{name: "Patient id of another patient", raw: `{"resourceType":"Patient","id":"pat-2"}`, want: fhir.ErrWrongPatient, path: "$.id"},
		{name: "Patient id with a prefix of the patient", raw: `{"resourceType":"Patient","id":"pat-10"}`, want: fhir.ErrWrongPatient, path: "$.id"},
		{name: "Patient with a subject of another patient", raw: `{"resourceType":"Patient","id":"pat-1","subject":{"reference":"Patient/pat-2"}}`, want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject missing", raw: `{"resourceType":"Observation","status":"final"}`, want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject not an object", raw: `{"resourceType":"Observation","subject":"Patient/pat-1"}`, want: fhir.ErrInvalid, path: "$.subject"},
		{name: "subject null", raw: `{"resourceType":"Observation","subject":null}`, want: fhir.ErrInvalid, path: "$.subject"},
		{name: "subject by identifier only", raw: `{"resourceType":"Observation","subject":{"identifier":{"system":"urn:mrn","value":"pat-1"}}}`, want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject reference not a string", raw: `{"resourceType":"Observation","subject":{"reference":{"id":"pat-1"}}}`, want: fhir.ErrInvalid, path: "$.subject.reference"},
		{name: "subject reference of another patient", raw: resource("Observation", "subject", "Patient/pat-2", ""), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject reference with a prefix of the patient", raw: resource("Observation", "subject", "Patient/pat-10", ""), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject reference absolute", raw: resource("Observation", "subject", "https://fhir.example.org/Patient/pat-1", ""), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject reference versioned", raw: resource("Observation", "subject", "Patient/pat-1/_history/2", ""), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject reference contained", raw: resource("Observation", "subject", "#pat-1", ""), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject reference to a group", raw: resource("Observation", "subject", "Group/pat-1", ""), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject reference in the wrong case", raw: resource("Observation", "subject", "patient/pat-1", ""), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject reference with whitespace", raw: resource("Observation", "subject", "Patient/pat-1 ", ""), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "subject reference bare id", raw: resource("Observation", "subject", "pat-1", ""), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "AllergyIntolerance with subject instead of patient", raw: resource("AllergyIntolerance", "subject", "Patient/pat-1", ""), want: fhir.ErrWrongPatient, path: "$.patient.reference"},
		{name: "Immunization patient of another patient", raw: resource("Immunization", "patient", "Patient/pat-2", ""), want: fhir.ErrWrongPatient, path: "$.patient.reference"},
		{name: "Claim patient missing", raw: `{"resourceType":"Claim","id":"c-1"}`, want: fhir.ErrWrongPatient, path: "$.patient.reference"},
		{name: "ExplanationOfBenefit patient not an object", raw: `{"resourceType":"ExplanationOfBenefit","patient":["Patient/pat-1"]}`, want: fhir.ErrInvalid, path: "$.patient"},
		{name: "MedicationStatement with patient instead of subject", raw: resource("MedicationStatement", "patient", "Patient/pat-1", ""), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "Immunization with a subject of another patient besides", raw: resource("Immunization", "patient", "Patient/pat-1", `,"subject":{"reference":"Patient/pat-2"}`), want: fhir.ErrWrongPatient, path: "$.subject.reference"},
		{name: "Observation with a patient of another patient besides", raw: obs(`,"patient":{"reference":"Patient/pat-2"}`), want: fhir.ErrWrongPatient, path: "$.patient.reference"},

		// The R4 structure, checked by the R4 parser; its errors name the
		// element, never the value found.
		{name: "R4: a code outside its value set", raw: `{"resourceType":"Observation","subject":{"reference":"Patient/pat-1"},"status":"amended-ish","code":{"text":"x"}}`, want: fhir.ErrInvalid, path: "$"},
		{name: "R4: an element the type does not have", raw: obs(`,"Banana":"zoë"`), want: fhir.ErrInvalid, path: "$"},
		{name: "R4: a required element missing", raw: `{"resourceType":"Observation","subject":{"reference":"Patient/pat-1"},"code":{"text":"x"}}`, want: fhir.ErrInvalid, path: "$"},
		{name: "R4: a dateTime that is not one", raw: obs(`,"effectiveDateTime":"2024-13-45"`), want: fhir.ErrInvalid, path: "$"},
		{name: "R4: a string where an object belongs", raw: obs(`,"valueQuantity":"Doe"`), want: fhir.ErrInvalid, path: "$"},
		{name: "R4: an array where one value belongs", raw: obs(`,"valueString":["Doe"]`), want: fhir.ErrInvalid, path: "$"},
		{name: "R4: a decimal as a string", raw: obs(`,"valueQuantity":{"value":"6.10"}`), want: fhir.ErrInvalid, path: "$"},
		{name: "R4: an integer beyond 32 bits", raw: obs(`,"valueInteger":9007199254740993`), want: fhir.ErrInvalid, path: "$"},
		{name: "R4: two value[x] choices", raw: obs(`,"valueString":"a","valueBoolean":true`), want: fhir.ErrInvalid, path: "$"},
		{name: "R4: a contained resource that is invalid", raw: obs(`,"contained":[{"resourceType":"Medication","id":"m1","status":"vital-signs"}]`), want: fhir.ErrInvalid, path: "$"},

		// Observation categories, which decide who may read it.
		{name: "category not an array", raw: obs(`,"category":{"coding":[{"code":"vital-signs"}]}`), want: fhir.ErrInvalid, path: "$.category"},
		{name: "category entry not an object", raw: obs(`,"category":["vital-signs"]`), want: fhir.ErrInvalid, path: "$.category[0]"},
		{name: "category coding not an array", raw: obs(`,"category":[{"coding":{"code":"vital-signs"}}]`), want: fhir.ErrInvalid, path: "$.category[0].coding"},
		{name: "category coding entry not an object", raw: obs(`,"category":[{"coding":[{"code":"laboratory"},"vital-signs"]}]`), want: fhir.ErrInvalid, path: "$.category[0].coding[1]"},
		{name: "category code not a string", raw: obs(`,"category":[{"coding":[{"code":["vital-signs"]}]}]`), want: fhir.ErrInvalid, path: "$.category[0].coding[0].code"},
		{name: "category system not a string", raw: obs(`,"category":[{"coding":[{"system":1,"code":"vital-signs"}]}]`), want: fhir.ErrInvalid, path: "$.category[0].coding[0].system"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := fhir.Validate([]byte(c.raw), patient)
			if !errors.Is(err, c.want) {
				t.Fatalf("Validate = %+v, %v; want %v", got, err, c.want)
			}
			if got != (fhir.Resource{}) {
				t.Errorf("Validate returned %+v with its error", got)
			}
			checkError(t, err, c.want, c.path)
			if strings.HasPrefix(c.name, "R4: ") && !strings.Contains(err.Error(), `not a valid R4 resource: error at "`) {
				t.Errorf("error %q does not pass on the R4 parser's element path", err)
			}
		})
	}
}

// A caller that passes no patient id, or a malformed one, must not have
// "Patient/" or a reference with a path in it accepted.
func TestValidateRejectsABadPatientID(t *testing.T) {
	cases := []struct{ name, raw, patientID string }{
		{"empty", `{"resourceType":"Condition","subject":{"reference":"Patient/"}}`, ""},
		{"empty for a Patient without id", `{"resourceType":"Patient"}`, ""},
		{"with a slash", `{"resourceType":"Condition","subject":{"reference":"Patient/a/b"}}`, "a/b"},
		{"too long", `{"resourceType":"Patient","id":"` + strings.Repeat("p", 65) + `"}`, strings.Repeat("p", 65)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := fhir.Validate([]byte(c.raw), c.patientID)
			if !errors.Is(err, fhir.ErrWrongPatient) {
				t.Fatalf("err = %v, want ErrWrongPatient", err)
			}
			checkError(t, err, fhir.ErrWrongPatient, "patientID")
		})
	}
}

// checkError checks that err wraps want and no other sentinel, names path,
// and repeats none of the resource's values.
func checkError(t *testing.T, err, want error, path string) {
	t.Helper()
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("error %q also wraps %v", err, s)
		}
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "fhir: ") {
		t.Errorf("error %q does not start with the package name", msg)
	}
	if !strings.Contains(msg, ": "+path+": ") {
		t.Errorf("error %q does not name the path %s", msg, path)
	}
	for _, value := range []string{"pat-2", "Banana", "vital-signs", "caf", "Doe", "amended", "zoë"} {
		if strings.Contains(msg, value) {
			t.Errorf("error %q repeats the resource's value %q", msg, value)
		}
	}
}

func TestValidateSizeLimit(t *testing.T) {
	base := []byte(obs(""))
	atLimit := append(base, bytes.Repeat([]byte(" "), fhir.MaxResourceBytes-len(base))...)
	if _, err := fhir.Validate(atLimit, patient); err != nil {
		t.Errorf("a resource of exactly MaxResourceBytes: %v", err)
	}
	over := append(atLimit, ' ')
	if _, err := fhir.Validate(over, patient); !errors.Is(err, fhir.ErrTooLarge) {
		t.Errorf("a resource of MaxResourceBytes+1: err = %v, want ErrTooLarge", err)
	}
}

// A decimal's precision is significant in FHIR: every spelling a double's
// range holds is accepted as written, beyond a double's precision too.
func TestValidateAcceptsDecimalsAsWritten(t *testing.T) {
	for _, n := range []string{"0", "-0", "72", "72.0", "98.60", "6.10", "1.5e3", "0.1", "1e-7", "1E30", "-40.5", "9007199254740992",
		"9007199254740993", "0.30000000000000001", "1.7976931348623157e308", "5e-324", "1e-400", "0.30000000000000004"} {
		t.Run(n, func(t *testing.T) {
			if _, err := fhir.Validate([]byte(obs(`,"valueQuantity":{"value":`+n+`}`)), patient); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestValidateAcceptsDeepButBoundedNesting(t *testing.T) {
	nested := `{"url":"http://example.org/x","valueString":"leaf"}`
	for range 30 {
		nested = `{"url":"http://example.org/x","extension":[` + nested + `]}`
	}
	if _, err := fhir.Validate([]byte(obs(`,"extension":[`+nested+`]`)), patient); err != nil {
		t.Errorf("61 levels of extensions: %v", err)
	}
}

func TestValidateRejectsHugeNestingWithoutExhaustingTheStack(t *testing.T) {
	raw := strings.Repeat("[", fhir.MaxResourceBytes/2) + strings.Repeat("]", fhir.MaxResourceBytes/2)
	if _, err := fhir.Validate([]byte(raw), patient); !errors.Is(err, fhir.ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The R4 examples of testdata/r4, one of each type the exchange accepts,
// are valid as they are: trailing-zero decimals, exponents, unicode and
// escapes, narrative, extensions and contained resources.
func TestValidateR4Examples(t *testing.T) {
	want := map[string]string{
		"Patient.json": "demographics", "Observation.json": "labs", "Observation-vitals.json": "vitals",
		"Condition.json": "conditions", "MedicationRequest.json": "prescriptions", "MedicationStatement.json": "medications",
		"AllergyIntolerance.json": "allergies", "Immunization.json": "immunizations", "DiagnosticReport.json": "labs",
		"ImagingStudy.json": "imaging", "Procedure.json": "notes", "Encounter.json": "notes", "DocumentReference.json": "notes",
		"Claim.json": "claims", "ExplanationOfBenefit.json": "claims", "CarePlan.json": "notes",
	}
	files, err := os.ReadDir("testdata/r4")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Fatalf("%d examples in testdata/r4, want %d", len(files), len(want))
	}
	for _, f := range files {
		t.Run(f.Name(), func(t *testing.T) {
			raw := readFixture(t, "r4/"+f.Name())
			got, err := fhir.Validate(raw, "p-example")
			if err != nil {
				t.Fatal(err)
			}
			if got.Category != want[f.Name()] || got.Type != strings.Split(strings.TrimSuffix(f.Name(), ".json"), "-")[0] {
				t.Errorf("Validate = %+v, want category %s", got, want[f.Name()])
			}
		})
	}
}

// Inspect is Validate without the R4 structure: the patient and the type
// are still checked.
func TestInspect(t *testing.T) {
	notR4 := `{"resourceType":"Observation","subject":{"reference":"Patient/pat-1"},"status":"bogus"}`
	if _, err := fhir.Validate([]byte(notR4), patient); !errors.Is(err, fhir.ErrInvalid) {
		t.Fatalf("Validate: %v", err)
	}
	if got, err := fhir.Inspect([]byte(notR4), patient); err != nil || got.Type != "Observation" || got.Category != "labs" {
		t.Fatalf("Inspect = %+v, %v", got, err)
	}
	if _, err := fhir.Inspect([]byte(notR4), "pat-2"); !errors.Is(err, fhir.ErrWrongPatient) {
		t.Fatalf("Inspect for another patient: %v", err)
	}
}
