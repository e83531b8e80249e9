package anonymize

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// records turns rows into a header (every column any row has, and the
// schema's, sorted) and records in that order, an absent value an empty cell.
func records(s Schema, rows []Row) ([]string, [][]string) {
	names := map[string]bool{}
	for _, c := range s.Columns {
		names[c.Name] = true
	}
	for _, r := range rows {
		for n := range r {
			names[n] = true
		}
	}
	header := slices.Sorted(maps.Keys(names))
	var out [][]string
	for _, r := range rows {
		rec := make([]string, len(header))
		for i, n := range header {
			rec[i] = r[n]
		}
		out = append(out, rec)
	}
	return header, out
}

func verifyRecords(s Schema, header []string, recs [][]string, qis []string, k int) error {
	v, err := NewVerifier(s, header, qis, k)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if err := v.Record(rec); err != nil {
			return err
		}
	}
	return v.Close()
}

// TestVerifierAgreesWithVerify: over the same rows, read as records, the
// Verifier fails exactly where Verify does, whatever the order of the rows.
func TestVerifierAgreesWithVerify(t *testing.T) {
	asOf := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	check := func(t *testing.T, name string, rows []Row, qis []string, k int) {
		t.Helper()
		want := Verify(rows, studySchema, qis, k)
		header, recs := records(studySchema, rows)
		got := verifyRecords(studySchema, header, recs, qis, k)
		if (want == nil) != (got == nil) || !errors.Is(got, ErrNotAnonymous) && got != nil {
			t.Errorf("%s: Verifier = %v, Verify = %v", name, got, want)
		}
	}
	var refused, passed int
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 3))
		k := 2 + r.IntN(6)
		p := newP(t)
		prepared, err := p.Prepare(studySchema, synthetic(seed, 20+r.IntN(200), 0), asOf)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := Enforce(prepared, studyQIs, k, Hierarchies(studySchema), WithSubject("patient"), WithMaxSuppression(0.2))
		if err != nil && !errors.Is(err, ErrCohortTooSmall) && !errors.Is(err, ErrSuppressionLimit) {
			t.Fatal(err)
		}
		for name, rows := range map[string][]Row{"enforced": out, "prepared": prepared} {
			check(t, fmt.Sprint(name, " seed ", seed), rows, studyQIs, k)
			shuffled := slices.Clone(rows)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			check(t, fmt.Sprint(name, " shuffled seed ", seed), shuffled, studyQIs, k)
			if Verify(rows, studySchema, studyQIs, k) == nil {
				passed++
			} else {
				refused++
			}
		}
	}
	if refused == 0 || passed == 0 {
		t.Errorf("%d refused and %d passed: both outcomes must be exercised", refused, passed)
	}
	ps := func(i int) string { return fmt.Sprintf("%016x", 0xabcdef0000+i) }
	base := func() []Row {
		var rows []Row
		for i := range 3 {
			rows = append(rows, Row{"patient": ps(i), "birth_date": "35-39", "zip": "100", "sex": "F", "visit_date": "2024-02-03", "hba1c": "6.1"})
		}
		return rows
	}
	for name, rows := range map[string][]Row{
		"valid":             base(),
		"identifier column": append(base(), Row{"patient": ps(1), "birth_date": "35-39", "zip": "100", "sex": "F", "name": "Ada"}),
		"undeclared column": append(base(), Row{"patient": ps(1), "birth_date": "35-39", "zip": "100", "sex": "F", "notes": "x"}),
		"an email":          append(base(), Row{"patient": ps(1), "birth_date": "35-39", "zip": "100", "sex": "F", "hba1c": "ada@example.org"}),
		"a phone":           append(base(), Row{"patient": ps(1), "birth_date": "35-39", "zip": "100", "sex": "F", "hba1c": "call (555) 123-4567"}),
		"an SSN":            append(base(), Row{"patient": ps(1), "birth_date": "35-39", "zip": "100", "sex": "F", "hba1c": "123-45-6789"}),
		"a raw patient id":  append(base(), Row{"patient": "MRN-1", "birth_date": "35-39", "zip": "100", "sex": "F"}),
		"a QI missing":      append(base(), Row{"patient": ps(1), "birth_date": "35-39", "zip": "100"}),
		"no pseudonym":      append(base(), Row{"birth_date": "35-39", "zip": "100", "sex": "F"}),
		"a small group":     append(base(), Row{"patient": ps(9), "birth_date": "40-44", "zip": "100", "sex": "F"}),
		"the same patient": append(base(), Row{"patient": ps(9), "birth_date": "40-44", "zip": "100", "sex": "F"},
			Row{"patient": ps(9), "birth_date": "40-44", "zip": "100", "sex": "F"}, Row{"patient": ps(9), "birth_date": "40-44", "zip": "100", "sex": "F"}),
		"a patient in two groups": append(base(), Row{"patient": ps(0), "birth_date": "35-39", "zip": "100", "sex": "M"}),
	} {
		check(t, name, rows, studyQIs, 3)
	}
}

func TestVerifierRefusesItsInput(t *testing.T) {
	header := []string{"patient", "sex", "sex"}
	if _, err := NewVerifier(studySchema, header, []string{"sex"}, 2); !errors.Is(err, ErrNotAnonymous) {
		t.Errorf("a column twice in the header: %v, want ErrNotAnonymous", err)
	}
	if _, err := NewVerifier(studySchema, []string{"patient"}, []string{"hba1c"}, 2); !errors.Is(err, ErrConfig) {
		t.Errorf("a sensitive column as quasi-identifier: %v, want ErrConfig", err)
	}
	v, err := NewVerifier(studySchema, []string{"patient", "sex"}, []string{"sex"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Record([]string{"0123456789abcdef"}); !errors.Is(err, ErrNotAnonymous) {
		t.Errorf("a short record: %v, want ErrNotAnonymous", err)
	}
}

// TestMayHoldIdentifier: the shortcut never skips a value one of the
// identifier patterns matches.
func TestMayHoldIdentifier(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	const alphabet = "0123456789@.-() +1aZ\t"
	for range 200_000 {
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		v := string(b)
		if !mayHoldIdentifier(v) && (emailRE.MatchString(v) || ssnRE.MatchString(v) || phoneRE.MatchString(v)) {
			t.Fatalf("%q matches an identifier pattern but was skipped", v)
		}
	}
}
