package research

import (
	"fmt"
	"strings"
	"testing"

	"healthexchange/services/domain/anonymize"
)

func TestNeutralize(t *testing.T) {
	tests := map[string]struct{ cell, want string }{
		"equals":          {`=HYPERLINK("http://evil.example","x")`, `'=HYPERLINK("http://evil.example","x")`},
		"plus":            {"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		"minus":           {"-2+3", "'-2+3"},
		"at":              {"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		"tab":             {"\t=1", "'\t=1"},
		"carriage return": {"\r=1", "'\r=1"},
		"minus text":      {"-Inf", "'-Inf"},
		"a normal value":  {"http://loinc.org|2345-7", "http://loinc.org|2345-7"},
		"a unit":          {"/min", "/min"},
		"a trigger later": {"a=1", "a=1"},
		"a quote already": {"'=1", "'=1"},
		"an empty cell":   {"", ""},
		"a number":        {"5.4", "5.4"},
		"a negative":      {"-1.5", "-1.5"},
		"an integer":      {"-40", "-40"},
		"an exponent":     {"-2.5e-07", "-2.5e-07"},
		"a big exponent":  {"-1e+21", "-1e+21"},
		"not quite":       {"-1.", "'-1."},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := neutralize(tc.cell); got != tc.want {
				t.Errorf("neutralize(%q) = %q, want %q", tc.cell, got, tc.want)
			}
		})
	}
}

// TestCheckFilesRefusesAFormula: a CSV cell a spreadsheet would evaluate
// fails the independent check, whatever wrote it; the same files with a
// code pass.
func TestCheckFilesRefusesAFormula(t *testing.T) {
	columns := []anonymize.Column{{Name: ColPseudonym, Kind: anonymize.PatientID}, {Name: ColCode, Kind: anonymize.Sensitive}}
	files := func(code string) encoded {
		var csv, nd strings.Builder
		csv.WriteString("pseudonym,code\n")
		for i := range 3 {
			r := []string{fmt.Sprintf("%032x", i), code}
			csv.WriteString(strings.Join(r, ",") + "\n")
			nd.Write(appendNDJSON(nil, names(columns), r))
		}
		return encoded{csv: []byte(csv.String()), ndjson: []byte(nd.String()), rows: 3}
	}
	if err := checkFiles(files("2345-7"), columns, nil, 2); err != nil {
		t.Fatalf("checkFiles of a code = %v", err)
	}
	if err := checkFiles(files("=1+1"), columns, nil, 2); err == nil || !strings.Contains(err.Error(), "formula") {
		t.Errorf("checkFiles of a formula = %v, want a refusal of the formula", err)
	}
}
