package research

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
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
	files := func(code string) testFiles {
		var csv, nd strings.Builder
		csv.WriteString("pseudonym,code\n")
		for i := range 3 {
			r := []string{fmt.Sprintf("%032x", i), code}
			csv.WriteString(strings.Join(r, ",") + "\n")
			nd.Write(appendNDJSON(nil, names(columns), r))
		}
		return testFiles{csv: []byte(csv.String()), ndjson: []byte(nd.String()), rows: 3}
	}
	if err := files("2345-7").check(columns, nil, 2); err != nil {
		t.Fatalf("checkFiles of a code = %v", err)
	}
	if err := files("=1+1").check(columns, nil, 2); err == nil || !strings.Contains(err.Error(), "formula") {
		t.Errorf("checkFiles of a formula = %v, want a refusal of the formula", err)
	}
}

// encodeAsBefore is how the files were encoded when every row was held:
// encoding/csv's Writer and appendNDJSON over each row's cells, neutralized,
// the patient's pseudonym and quasi-identifiers before the row's own.
func encodeAsBefore(t *testing.T, columns []anonymize.Column, patients []testPatient) (csvOut, ndjsonOut []byte) {
	t.Helper()
	var csvBuf, nd bytes.Buffer
	cw := csv.NewWriter(&csvBuf)
	names := names(columns)
	header := make([]string, len(names))
	for i, n := range names {
		header[i] = neutralize(n)
	}
	if err := cw.Write(header); err != nil {
		t.Fatal(err)
	}
	record := make([]string, len(names))
	for _, p := range patients {
		for _, r := range p.rows {
			for i, n := range names {
				v, ok := p.qi[n]
				if !ok {
					v = r[n]
				}
				record[i] = neutralize(v)
			}
			if err := cw.Write(record); err != nil {
				t.Fatal(err)
			}
			nd.Write(appendNDJSON(nil, names, record))
		}
	}
	cw.Flush()
	return csvBuf.Bytes(), nd.Bytes()
}

// TestFilesAsEncodedBefore: the files written as streams from the spool are
// byte for byte those the in-memory encoder wrote, whatever the cells hold.
func TestFilesAsEncodedBefore(t *testing.T) {
	cells := []string{"", "x", "5.4", "-1.5", "-2+3", "=1+1", "@a", "\t=1", "\r=1", "a,b", `say "hi"`, "two\nlines", "cr\rlf",
		" lead", "\u00a0nbsp", "\u2003em", `\.`, `\..`, "<&>", "é", "{beats}/min", "http://loinc.org|2345-7", "a\x00b", "\x7f"}
	r := rand.New(rand.NewPCG(11, 11))
	pick := func() string { return cells[r.IntN(len(cells))] }
	for _, fields := range [][]string{nil, {ColSex, ColCode, ColValue}, {ColCode}, {ColAgeBand, ColZIP3, ColValue, ColUnit, ColDate, ColTimeOfDay}} {
		spec := labsSpec()
		spec.Fields = fields
		if err := spec.validate(); err != nil {
			t.Fatal(err)
		}
		columns, qis := outputColumns(spec), spec.qis()
		var patients []testPatient
		for p := range 20 {
			tp := testPatient{qi: anonymize.Row{ColPseudonym: fmt.Sprintf("%016x", p)}}
			for _, q := range qis {
				tp.qi[q] = pick()
			}
			for range r.IntN(6) {
				row := anonymize.Row{}
				for _, c := range tailColumns(columns, qis) {
					if v := pick(); v != "" {
						row[c.Name] = v
					}
				}
				tp.rows = append(tp.rows, row)
			}
			patients = append(patients, tp)
		}
		got := writeTestFiles(t, columns, qis, patients)
		wantCSV, wantNDJSON := encodeAsBefore(t, columns, patients)
		if !bytes.Equal(got.csv, wantCSV) {
			t.Errorf("fields %v: the CSV differs:\n%q\nwant\n%q", fields, got.csv, wantCSV)
		}
		if !bytes.Equal(got.ndjson, wantNDJSON) {
			t.Errorf("fields %v: the NDJSON differs:\n%q\nwant\n%q", fields, got.ndjson, wantNDJSON)
		}
	}
}

// TestAppendCSVField: a field is written as encoding/csv writes it.
func TestAppendCSVField(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	const alphabet = "ab,\"\r\n \t\\.\u00a0\u2028é"
	runes := []rune(alphabet)
	for range 20_000 {
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteRune(runes[r.IntN(len(runes))])
		}
		field := b.String()
		var want bytes.Buffer
		cw := csv.NewWriter(&want)
		if err := cw.Write([]string{"x", field}); err != nil {
			t.Fatal(err)
		}
		cw.Flush()
		got := append(appendCSVField([]byte("x,"), []byte(field)), '\n')
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("field %q: %q, encoding/csv %q", field, got, want.Bytes())
		}
	}
}
