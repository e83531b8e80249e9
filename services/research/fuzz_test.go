package research

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/domain/anonymize"
)

var resourceSeeds = []string{
	`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},"valueQuantity":{"value":5.4,"unit":"mmol/L"},"effectiveDateTime":"2025-01-15T08:30:00Z"}`,
	`{"resourceType":"Condition","code":{"coding":[{"code":"44054006"}]},"onsetDateTime":"2019-03-02"}`,
	`{"resourceType":"MedicationRequest","medicationCodeableConcept":{"coding":[{"code":"a\"b"}]},"authoredOn":"2024-02-03"}`,
	`{"resourceType":"Observation","code":{"coding":[{"code":"x"}]},"valueQuantity":{"value":1e999},"effectivePeriod":{"start":"2024-12-31"}}`,
	`{"resourceType":"Patient","birthDate":"1961-07-04","gender":"male","address":[{"postalCode":"02139-4307"}]}`,
	`{"resourceType":"Patient","birthDate":"1961","gender":"female","address":[]}`,
	`{"resourceType":"Patient","birthDate":"1961-07-04","gender":"unknown","address":[{"postalCode":"036"}]}`,
	`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"valueQuantity":{"value":-72,"unit":"=HYPERLINK(\"x\")","code":"/min"},"effectiveDateTime":"2025-01-15"}`,
	`{"resourceType":"Observation","code":{"coding":[{"system":"rxnorm","code":"call me"}]},"valueQuantity":{"value":1,"code":"{beats}/min"},"effectiveDateTime":"2025-01-15"}`,
	`{}`, `null`, `[`, `{"code":{"coding":null}}`,
}

func FuzzFactOf(f *testing.F) {
	for _, s := range resourceSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fact, err := factOf("labs", []byte(raw))
		if err != nil {
			return
		}
		system, code, ok := strings.Cut(fact.Code, "|")
		if !ok {
			system, code = "", system
		}
		if !isCode(code) || ok && !isCodeSystem(system) {
			t.Errorf("factOf(%q) code %q", raw, fact.Code)
		}
		if fact.Date.IsZero() || fact.Category != "labs" {
			t.Errorf("factOf(%q) = %+v", raw, fact)
		}
		if fact.Value != "" {
			if v, err := strconv.ParseFloat(fact.Value, 64); err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				t.Errorf("factOf(%q) value %q is not a finite number", raw, fact.Value)
			}
		}
		if fact.Unit != "" && (!isUCUMUnit(fact.Unit) || fact.Value == "") {
			t.Errorf("factOf(%q) unit %q", raw, fact.Unit)
		}
		if fact.ValueRefused && (fact.Value != "" || fact.Unit != "") {
			t.Errorf("factOf(%q) refused the value but kept %q %q", raw, fact.Value, fact.Unit)
		}
	})
}

// checkCell fails t unless what a validator accepted is safe in a cell:
// not empty, no formula trigger first, no whitespace, comma, double quote
// or line break anywhere.
func checkCell(t *testing.T, validator, s string) {
	t.Helper()
	if s == "" || strings.IndexByte(formulaTriggers, s[0]) >= 0 || s[0] == '\'' {
		t.Errorf("%s accepted %q, which starts like a formula (or is empty)", validator, s)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == ',' || r == '"' || r == '\n' || r == '\r' }); i >= 0 {
		t.Errorf("%s accepted %q, which holds %q", validator, s, s[i])
	}
	if neutralize(s) != s {
		t.Errorf("%s accepted %q, which a CSV cell neutralizes", validator, s)
	}
}

var unitSeeds = []string{
	"%", "mg/dL", "mmol/L", "/min", "{beats}/min", "kg/m2", "10*3/uL", "10^9/L", "[in_i]", "mm[Hg]", "mL/min/{1.73_m2}",
	"g/(24.h)", "m.s-2", "1", `=HYPERLINK("x")`, "mg dL", "<script>", "{a{b}}", "-1", "+mg", "@a", "\tmg", "mg,dL", "(((m)))", "10*", "",
}

func FuzzIsUCUMUnit(f *testing.F) {
	for _, s := range unitSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, unit string) {
		if isUCUMUnit(unit) {
			checkCell(t, "isUCUMUnit", unit)
			if len(unit) > maxUnitLen {
				t.Errorf("isUCUMUnit accepted %d bytes", len(unit))
			}
		}
	})
}

func FuzzIsCode(f *testing.F) {
	for _, s := range []string{"2345-7", "44054006", "E11.9", "a_b:c", "-1", "=1+1", "@x", "a b", "a,b", `a"b`, "a\nb", "", "\t1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		if isCode(code) {
			checkCell(t, "isCode", code)
			if strings.Contains(code, "|") || len(code) > maxCodeLen {
				t.Errorf("isCode accepted %q", code)
			}
		}
	})
}

func FuzzIsCodeSystem(f *testing.F) {
	for _, s := range []string{
		"http://loinc.org", "http://snomed.info/sct", "https://www.nlm.nih.gov/research/umls/rxnorm", "urn:oid:2.16.840.1.113883.6.1",
		"urn:uuid:53fefa32-fcbb-4ff8-8a92-55ee120877b7", "rxnorm", "http://loinc.org/a b", "http://loinc.org,x", "javascript:alert(1)",
		"http://a|b", "=HYPERLINK(\"http://x\")", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, system string) {
		if isCodeSystem(system) {
			checkCell(t, "isCodeSystem", system)
			if strings.Contains(system, "|") || len(system) > maxSystemLen {
				t.Errorf("isCodeSystem accepted %q", system)
			}
		}
	})
}

func FuzzDemographicsOf(f *testing.F) {
	for _, s := range resourceSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := demographicsOf([]byte(raw))
		if err != nil {
			return
		}
		if _, err := anonymize.ParseDate(d.BirthDate); err != nil {
			t.Errorf("demographicsOf(%q) birth date %q", raw, d.BirthDate)
		}
		if _, err := anonymize.ZIP3(d.ZIP); err != nil {
			t.Errorf("demographicsOf(%q) ZIP %q", raw, d.ZIP)
		}
		switch d.Sex {
		case "male", "female", "other", "unknown":
		default:
			t.Errorf("demographicsOf(%q) sex %q", raw, d.Sex)
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"pseudonym,code,value\nab,\"x,y\",\ncd,z,1\n",
		"a,b\n1,2,3\n", "a\n\"x\n", "", "\n\n", "a,a\n1,2\n", "\"a\"\"\",b\r\n1,\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := ReadCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		for i, r := range rows {
			for c, v := range r {
				if v == "" {
					t.Errorf("row %d column %q: an empty cell read as a value", i, c)
				}
			}
		}
	})
}

func FuzzSpecFromProto(f *testing.F) {
	f.Add("study-1", "labs,vitals", "heart-rate", "", "2024-06-01T00:00:00Z", "2025-06-01T00:00:00Z", int32(3), int32(0), int32(0), 0.0)
	f.Add("study-1", "labs", "", "code,age_band", "2024-06-01T00:00:00Z", "2024-06-01T00:00:00Z", int32(2), int32(3), int32(2), 0.5)
	f.Add("s", "vitals", "step-count", "zip3", "2025-06-01T00:00:00+14:00", "2025-06-01T00:00:00-12:00", int32(1000), int32(1), int32(1), math.NaN())
	f.Add("", "", "", "", "", "", int32(-1), int32(9), int32(-3), math.Copysign(0, -1))
	f.Add("study-1", "labs", "", "", "2024-06-01T00:00:00.1Z", "2024-06-01T00:00:00.9Z", int32(2), int32(0), int32(0), 0.0)
	f.Fuzz(func(t *testing.T, study, categories, kinds, fields, from, to string, k, readings, dates int32, suppression float64) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		p := &researchv1.DatasetSpec{StudyId: study, Categories: split(categories), ReadingKinds: split(kinds), Fields: split(fields),
			From: from, To: to, K: k, Readings: researchv1.ReadingsMode(readings), Dates: researchv1.DateRule(dates), MaxSuppression: suppression}
		s, err := specFromProto(p)
		if err != nil {
			return
		}
		if err := s.validate(); err != nil {
			return
		}
		if s.K < 2 || s.K > MaxK {
			t.Errorf("a valid spec has k %d", s.K)
		}
		if !s.From.Before(s.To) || s.To.Sub(s.From) > MaxWindow {
			t.Errorf("a valid spec has the window %v to %v", s.From, s.To)
		}
		if !(s.MaxSuppression > 0 && s.MaxSuppression <= MaxSuppressionCap) {
			t.Errorf("a valid spec has max_suppression %v", s.MaxSuppression)
		}
		if s.Readings != WindowSummary && s.Dates != ShiftedDays {
			t.Errorf("a valid spec releases readings %s with dates %s", s.Readings, s.Dates)
		}
		if len(s.Fields) == 0 || len(s.Categories) == 0 {
			t.Errorf("a valid spec has fields %v, categories %v", s.Fields, s.Categories)
		}
		// What Create stores reads back as the same spec.
		back, err := specFromProto(specProto(s))
		if err != nil {
			t.Fatalf("specFromProto(specProto(valid)) = %v", err)
		}
		if err := back.validate(); err != nil {
			t.Errorf("a stored valid spec no longer validates: %v", err)
		}
	})
}

// FuzzCheckFiles feeds the independent check files it did not write: it
// must refuse or pass them without panicking, and when it passes them it
// has read both to the end (the digests are of the whole inputs).
func FuzzCheckFiles(f *testing.F) {
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	spec := Spec{StudyID: "fuzz", Categories: []string{"vitals"}, From: start, To: start.Add(time.Hour), K: 2,
		Readings: RawReadings, Dates: ShiftedDays}
	if err := spec.validate(); err != nil {
		f.Fatal(err)
	}
	columns, qis := outputColumns(spec), spec.qis()
	header := make([]string, len(columns))
	for i, c := range columns {
		header[i] = c.Name
	}
	h := strings.Join(header, ",") + "\n"
	f.Add([]byte(h), []byte(""), int64(0))
	f.Add([]byte(h+strings.Repeat("x,", len(columns)-1)+"x\n"), []byte("{}\n"), int64(1))
	f.Add([]byte("=cmd(),b\n1,2\n"), []byte(`{"a":1}`+"\n"), int64(1))
	f.Add([]byte("\"unterminated\n"), []byte("not json"), int64(3))
	f.Fuzz(func(t *testing.T, csvIn, ndjsonIn []byte, rows int64) {
		csvRead, ndjsonRead, err := checkFiles(bytes.NewReader(csvIn), bytes.NewReader(ndjsonIn), rows, columns, qis, spec.K)
		if err != nil {
			return
		}
		if csvRead != (digest{sha256Of(csvIn), int64(len(csvIn))}) || ndjsonRead != (digest{sha256Of(ndjsonIn), int64(len(ndjsonIn))}) {
			t.Errorf("passed files it did not read whole: %v %v", csvRead, ndjsonRead)
		}
	})
}
