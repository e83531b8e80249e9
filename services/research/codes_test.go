package research

import (
	"strings"
	"testing"
)

func TestIsUCUMUnit(t *testing.T) {
	tests := map[string]bool{
		"%":                             true,
		"mg/dL":                         true,
		"mmol/L":                        true,
		"/min":                          true,
		"{beats}/min":                   true,
		"kg/m2":                         true,
		"10*3/uL":                       true,
		"10^9/L":                        true,
		"[in_i]":                        true,
		"mm[Hg]":                        true,
		"mL/min/{1.73_m2}":              true,
		"m.s-2":                         true,
		"g/(24.h)":                      true,
		"1":                             true,
		"[iU]/L":                        true,
		"%{HbSaturation}":               true,
		"[arb'U]":                       true,
		`=HYPERLINK("x")`:               false,
		"mg dL":                         false,
		"<script>":                      false,
		strings.Repeat("m", 100):        false,
		strings.Repeat("m", maxUnitLen): true,
		"{a{b}}":                        false,
		"":                              false,
		" mg":                           false,
		"mg\n":                          false,
		"mg,dL":                         false,
		`mg"`:                           false,
		"-mg":                           false,
		"+mg":                           false,
		"@mg":                           false,
		"\tmg":                          false,
		"mg/":                           false,
		"mg//dL":                        false,
		"/":                             false,
		"(mg":                           false,
		"mg)":                           false,
		"()":                            false,
		"{}":                            false,
		"[]":                            false,
		"[in i]":                        false,
		"{a}b":                          false,
		"10*":                           false,
		"m-":                            false,
		"mg=dL":                         false,
		"µg":                            false,
	}
	for unit, want := range tests {
		t.Run(unit, func(t *testing.T) {
			if got := isUCUMUnit(unit); got != want {
				t.Errorf("isUCUMUnit(%q) = %v, want %v", unit, got, want)
			}
		})
	}
}

func TestIsCode(t *testing.T) {
	tests := map[string]bool{
		"2345-7":                          true,
		"44054006":                        true,
		"E11.9":                           true,
		"a_b:c":                           true,
		strings.Repeat("9", maxCodeLen):   true,
		strings.Repeat("9", maxCodeLen+1): false,
		"":                                false,
		"glucose of Zebulon":              false,
		"=1+1":                            false,
		"-1":                              false,
		"+1":                              false,
		"@SUM(A1)":                        false,
		".5":                              false,
		"a,b":                             false,
		`a"b`:                             false,
		"a\nb":                            false,
		"a\tb":                            false,
		"a|b":                             false,
	}
	for code, want := range tests {
		t.Run(code, func(t *testing.T) {
			if got := isCode(code); got != want {
				t.Errorf("isCode(%q) = %v, want %v", code, got, want)
			}
		})
	}
}

func TestIsCodeSystem(t *testing.T) {
	tests := map[string]bool{
		"http://loinc.org":                              true,
		"http://snomed.info/sct":                        true,
		"https://www.nlm.nih.gov/research/umls/rxnorm":  true,
		"http://hl7.org/fhir/sid/icd-10-cm":             true,
		"http://localhost:8080/codes":                   true,
		"urn:oid:2.16.840.1.113883.6.1":                 true,
		"urn:uuid:53fefa32-fcbb-4ff8-8a92-55ee120877b7": true,
		"https://" + strings.Repeat("a", maxSystemLen):  false,
		"":                                 false,
		"rxnorm":                           false,
		"loinc.org":                        false,
		"ftp://loinc.org":                  false,
		"javascript:alert(1)":              false,
		"http://":                          false,
		"http://loinc.org/a b":             false,
		"http://loinc.org?q=1":             false,
		"http://user@loinc.org":            false,
		"http://loinc.org,x":               false,
		`http://loinc.org"`:                false,
		"=HYPERLINK(\"http://loinc.org\")": false,
		"urn:oid:":                         false,
		"urn:oid:3.1":                      false,
		"urn:oid:1.02":                     false,
		"urn:uuid:not-a-uuid":              false,
		"urn:isbn:0451450523":              false,
	}
	for system, want := range tests {
		t.Run(system, func(t *testing.T) {
			if got := isCodeSystem(system); got != want {
				t.Errorf("isCodeSystem(%q) = %v, want %v", system, got, want)
			}
		})
	}
}
