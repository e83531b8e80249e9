package anonymize

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestZIP3(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"five digits":    {"12345", "123"},
		"zip+4":          {"12345-6789", "123"},
		"spaces":         {" 94110 ", "941"},
		"leading zero":   {"02139", "021"},
		"restricted":     {"03601", "000"},
		"restricted 893": {"89301-0001", "000"},
		"four digits":    {"1234", ""},
		"letters":        {"1234a", ""},
		"zip+3":          {"12345-678", ""},
		"empty":          {"", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ZIP3(tt.in)
			if got != tt.want || (tt.want == "") != errors.Is(err, ErrInvalidValue) {
				t.Errorf("ZIP3(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestEveryRestrictedZIP3BecomesZeros(t *testing.T) {
	list := RestrictedZIP3()
	if len(list) != 17 {
		t.Fatalf("%d restricted prefixes, HHS lists 17", len(list))
	}
	for _, p := range list {
		if got, err := ZIP3(p + "99"); got != "000" || err != nil {
			t.Errorf("ZIP3(%s99) = %q, %v", p, got, err)
		}
		if got, _ := ZIP3Hierarchy().At(p, 0); got != "000" {
			t.Errorf("hierarchy kept restricted prefix %s", p)
		}
	}
}

func TestAgeBand(t *testing.T) {
	asOf := time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)
	tests := map[string]struct{ birth, want string }{
		"newborn":            {"2025-06-01", "0-4"},
		"birthday today":     {"2020-06-15", "5-9"},
		"day before 5th":     {"2020-06-16", "0-4"},
		"37":                 {"1988-01-01", "35-39"},
		"89 is still a band": {"1935-06-16", "85-89"},
		"90 is top-coded":    {"1935-06-15", "90+"},
		"104 is top-coded":   {"1921-01-01", "90+"},
		"born after asOf":    {"2025-07-01", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := ParseDate(tt.birth)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AgeBand(b, asOf)
			if got != tt.want || (tt.want == "") != (err != nil) {
				t.Errorf("AgeBand(%s) = %q, %v; want %q", tt.birth, got, err, tt.want)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	for _, ok := range []string{"2024-02-29", "2024-02-29T10:00:00Z", "1900-01-01"} {
		if _, err := ParseDate(ok); err != nil {
			t.Errorf("ParseDate(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "2023-02-29", "29/02/2024", "0001-01-01", "9999-01-01", "2024-1-5"} {
		if _, err := ParseDate(bad); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("ParseDate(%q) = %v, want ErrInvalidValue", bad, err)
		} else if strings.Contains(err.Error(), bad) && bad != "" {
			t.Errorf("error %q repeats the value", err)
		}
	}
	if got := Year(time.Date(1987, 11, 3, 0, 0, 0, 0, time.UTC)); got != "1987" {
		t.Errorf("Year = %q", got)
	}
}

func TestAgeBandHierarchy(t *testing.T) {
	h := AgeBandHierarchy()
	tests := map[string][4]string{ // level 0..3
		"0-4":   {"0-4", "0-9", "0-19", "*"},
		"35-39": {"35-39", "30-39", "20-39", "*"},
		"85-89": {"85-89", "80-89", "80+", "*"},
		"90+":   {"90+", "90+", "80+", "*"},
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			var got [4]string
			for l := range 4 {
				v, err := h.At(in, l)
				if err != nil {
					t.Fatal(err)
				}
				got[l] = v
			}
			if got != want {
				t.Errorf("levels = %v, want %v", got, want)
			}
		})
	}
	for _, bad := range []string{"", "35-40", "36-40", "90-94", "-5--1", "035-39", "abc"} {
		if _, err := h.At(bad, 0); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("At(%q) = %v, want ErrInvalidValue", bad, err)
		}
	}
}

func TestPrepare(t *testing.T) {
	s := Schema{Columns: []Column{
		{Name: "patient", Kind: PatientID},
		{Name: "name", Kind: DirectIdentifier},
		{Name: "birth_date", Kind: QuasiIdentifier, Rule: RuleAgeBand},
		{Name: "zip", Kind: QuasiIdentifier, Rule: RuleZIP3},
		{Name: "sex", Kind: QuasiIdentifier, Rule: RuleKeep},
		{Name: "admission_date", Kind: Date, Rule: RuleShift},
		{Name: "discharge_date", Kind: Date, Rule: RuleShift},
		{Name: "diagnosis_year", Kind: Date, Rule: RuleYear},
		{Name: "icd10", Kind: Sensitive},
	}}
	p := newP(t)
	asOf := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	raw := []Row{{
		"patient": "P-1", "name": "Ada", "birth_date": "1930-05-05", "zip": "03601", "sex": "F",
		"admission_date": "2024-03-01", "discharge_date": "2024-03-09", "diagnosis_year": "2019-07-04",
		"icd10": "E11.9", "free_text": "call 555-123-4567",
	}}
	out, err := p.Prepare(s, raw, asOf)
	if err != nil {
		t.Fatal(err)
	}
	admit := p.ShiftDate("P-1", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)).Format(time.DateOnly)
	discharge := p.ShiftDate("P-1", time.Date(2024, 3, 9, 0, 0, 0, 0, time.UTC)).Format(time.DateOnly)
	want := []Row{{
		"patient": p.Pseudonym("P-1"), "birth_date": "90+", "zip": "000", "sex": "F",
		"admission_date": admit, "discharge_date": discharge, "diagnosis_year": "2019", "icd10": "E11.9",
	}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("Prepare (-want +got):\n%s", diff)
	}
	if admit == "2024-03-01" {
		t.Error("admission date not shifted")
	}

	for name, bad := range map[string]Row{
		"bad zip":       {"patient": "P-2", "birth_date": "1990-01-01", "zip": "ABCDE", "sex": "M", "admission_date": "2024-01-01", "discharge_date": "2024-01-02", "diagnosis_year": "2020-01-01"},
		"no patient id": {"birth_date": "1990-01-01", "zip": "12345", "sex": "M", "admission_date": "2024-01-01", "discharge_date": "2024-01-02", "diagnosis_year": "2020-01-01"},
		"missing sex":   {"patient": "P-2", "birth_date": "1990-01-01", "zip": "12345", "admission_date": "2024-01-01", "discharge_date": "2024-01-02", "diagnosis_year": "2020-01-01"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Prepare(s, []Row{bad}, asOf)
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("err = %v, want ErrInvalidValue", err)
			}
			if strings.Contains(err.Error(), "ABCDE") {
				t.Errorf("error repeats the value: %v", err)
			}
		})
	}
	if _, err := p.Prepare(Schema{Columns: []Column{{Name: "email", Kind: Sensitive}}}, raw, asOf); !errors.Is(err, ErrIdentifier) {
		t.Errorf("Prepare with an identifier schema: %v", err)
	}
}
