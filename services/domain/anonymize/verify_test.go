package anonymize

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var studySchema = Schema{Columns: []Column{
	{Name: "patient", Kind: PatientID},
	{Name: "name", Kind: DirectIdentifier},
	{Name: "phone", Kind: DirectIdentifier},
	{Name: "birth_date", Kind: QuasiIdentifier, Rule: RuleAgeBand},
	{Name: "zip", Kind: QuasiIdentifier, Rule: RuleZIP3},
	{Name: "sex", Kind: QuasiIdentifier, Rule: RuleKeep},
	{Name: "visit_date", Kind: Date, Rule: RuleShift},
	{Name: "hba1c", Kind: Sensitive},
	{Name: "icd10", Kind: Sensitive},
}}

var studyQIs = []string{"birth_date", "zip", "sex"}

// synthetic returns rows of patients with 1..maxVisits visits each, drawn
// from seed. A few ZIPs are rare and a few patients are over 89.
func synthetic(seed uint64, patients, rowsPerPatient int) []Row {
	r := rand.New(rand.NewPCG(seed, 1))
	zips := []string{"10001", "10002", "94110", "60601", "02139", "03601", "89301", "55401"}
	var rows []Row
	for i := range patients {
		birth := time.Date(1925+r.IntN(95), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
		zip := zips[r.IntN(len(zips))]
		if r.IntN(50) == 0 {
			zip = fmt.Sprintf("%05d", r.IntN(100000)) // a rare ZIP
		}
		sex := []string{"F", "M", "X"}[r.IntN(3)]
		n := rowsPerPatient
		if n == 0 {
			n = 1 + r.IntN(4)
		}
		for v := range n {
			rows = append(rows, Row{
				"patient": fmt.Sprintf("MRN-%06d", i), "name": fmt.Sprintf("Patient %d", i), "phone": "555-010-0000",
				"birth_date": birth.Format(time.DateOnly), "zip": zip, "sex": sex,
				"visit_date": time.Date(2024, 1, 1+v, 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
				"hba1c":      fmt.Sprintf("%.1f", 4+r.Float64()*6), "icd10": []string{"E11.9", "I10", "J45.909"}[r.IntN(3)],
			})
		}
	}
	return rows
}

func TestVerifyOverEnforceOnRandomData(t *testing.T) {
	asOf := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var suppressed, generalized int // the seeds must exercise both
	for seed := range uint64(30) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 2))
			k := 2 + r.IntN(9)
			p := newP(t)
			prepared, err := p.Prepare(studySchema, synthetic(seed, 20+r.IntN(400), 0), asOf)
			if err != nil {
				t.Fatal(err)
			}
			out, rep, err := Enforce(prepared, studyQIs, k, Hierarchies(studySchema), WithSubject("patient"), WithMaxSuppression(r.Float64()*0.2))
			if errors.Is(err, ErrCohortTooSmall) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(out, studySchema, studyQIs, k); err != nil {
				t.Fatalf("Verify rejected Enforce's output (k=%d, report %+v): %v", k, rep, err)
			}
			if rep.Suppressed > 0 {
				suppressed++
			}
			if rep.Levels["birth_date"]+rep.Levels["zip"]+rep.Levels["sex"] > 0 {
				generalized++
			}
			if rep.KAchieved < k || rep.RowsOut != len(out) || rep.RowsOut+rep.Suppressed != len(prepared) {
				t.Errorf("inconsistent report %+v for %d rows", rep, len(prepared))
			}
			// The same data without Enforce must not pass at this k unless
			// it was already k-anonymous.
			if rep.Suppressed > 0 {
				if err := Verify(prepared, studySchema, studyQIs, k); !errors.Is(err, ErrNotAnonymous) {
					t.Errorf("Verify passed data Enforce had to suppress: %v", err)
				}
			}
		})
	}
	if suppressed == 0 || generalized == 0 {
		t.Errorf("random data never needed suppression (%d) or generalization (%d): the property is untested", suppressed, generalized)
	}
	t.Logf("%d of 30 datasets needed suppression, %d generalization", suppressed, generalized)
}

func TestVerifyRefuses(t *testing.T) {
	ps := func(i int) string { return fmt.Sprintf("%016x", 0xabcdef0000+i) }
	base := func() []Row {
		var rows []Row
		for i := range 3 {
			rows = append(rows, Row{"patient": ps(i), "birth_date": "35-39", "zip": "100", "sex": "F", "visit_date": "2024-02-03", "hba1c": "6.1"})
		}
		return rows
	}
	tests := map[string]struct {
		edit func([]Row) []Row
		want error
	}{
		"valid": {func(r []Row) []Row { return r }, nil},
		"group too small": {func(r []Row) []Row {
			return append(r, Row{"patient": ps(9), "birth_date": "40-44", "zip": "100", "sex": "F"})
		}, ErrNotAnonymous},
		"one patient many rows": {func(r []Row) []Row {
			for range 5 {
				r = append(r, Row{"patient": ps(9), "birth_date": "40-44", "zip": "100", "sex": "F"})
			}
			return r
		}, ErrNotAnonymous},
		"direct identifier column": {func(r []Row) []Row { r[0]["name"] = "Ada"; return r }, ErrNotAnonymous},
		"undeclared column":        {func(r []Row) []Row { r[0]["notes"] = "x"; return r }, ErrNotAnonymous},
		"email in a value":         {func(r []Row) []Row { r[0]["hba1c"] = "ada@example.org"; return r }, ErrNotAnonymous},
		"phone in a value":         {func(r []Row) []Row { r[0]["hba1c"] = "call (555) 123-4567"; return r }, ErrNotAnonymous},
		"SSN in a value":           {func(r []Row) []Row { r[0]["hba1c"] = "123-45-6789"; return r }, ErrNotAnonymous},
		"raw patient id":           {func(r []Row) []Row { r[0]["patient"] = "MRN-1"; return r }, ErrNotAnonymous},
		"5-digit ZIP":              {func(r []Row) []Row { r[0]["zip"] = "10001"; return r }, ErrNotAnonymous},
		"restricted ZIP3":          {func(r []Row) []Row { r[0]["zip"] = "036"; return r }, ErrNotAnonymous},
		"age band past 89":         {func(r []Row) []Row { r[0]["birth_date"] = "90-94"; return r }, ErrNotAnonymous},
		"raw birth date":           {func(r []Row) []Row { r[0]["birth_date"] = "1930-01-01"; return r }, ErrNotAnonymous},
		"missing quasi-identifier": {func(r []Row) []Row { delete(r[0], "sex"); return r }, ErrNotAnonymous},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := Verify(tt.edit(base()), studySchema, studyQIs, 3)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	if err := Verify(base(), studySchema, []string{"hba1c"}, 3); !errors.Is(err, ErrConfig) {
		t.Errorf("sensitive column as QI: %v", err)
	}
	if err := Verify(base(), studySchema, studyQIs, 1); !errors.Is(err, ErrConfig) {
		t.Errorf("k = 1: %v", err)
	}
}
