package anonymize

import (
	"regexp"
	"strconv"
	"strings"
)

// Patterns of identifiers that must not appear in any value, whatever the
// column. They are deliberately simple and err towards refusing.
var (
	emailRE = regexp.MustCompile(`[^\s@]+@[^\s@]+\.[^\s@]+`)
	phoneRE = regexp.MustCompile(`(^|[^\w])(\+?1[-. ]?)?\(?\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}($|[^\w])`)
	ssnRE   = regexp.MustCompile(`(^|[^\w])\d{3}-\d{2}-\d{4}($|[^\w])`)

	// Shapes each transformed column must have after steps 1 to 4.
	shapeZIP3      = regexp.MustCompile(`^(\d{3}|\*)$`)
	shapeAge       = regexp.MustCompile(`^(\d{1,2}-\d{1,2}|\d{2}\+|\*)$`)
	shapeYear      = regexp.MustCompile(`^\d{4}$`)
	shapeShifted   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	shapePseudonym = regexp.MustCompile(`^[0-9a-f]{16,64}$`)
)

// Verify is step 6, an independent check of a dataset about to be released.
// It shares no grouping code with Enforce, so a bug there is not repeated
// here. It fails with ErrNotAnonymous (or the schema's error) unless:
// the schema passes Check; every column of every row is declared and not a
// direct identifier; every transformed column has its transformed shape (a
// pseudonym, not a raw patient id; ZIP3 and not a restricted prefix; an age
// band with nothing finer than 90+; a year); no value looks like an email
// address, phone number or SSN; and every group of rows sharing the values of
// qis has at least k patients (distinct pseudonyms when the schema has a
// PatientID column, else rows). It protects against releasing a dataset
// that any earlier step, or a caller skipping one, got wrong.
func Verify(rows []Row, s Schema, qis []string, k int) error {
	if k < 2 {
		return fail(ErrConfig, "k = %d, at least 2 needed", k)
	}
	if err := Check(s); err != nil {
		return err
	}
	var pidCol string
	for _, c := range s.Columns {
		if c.Kind == PatientID {
			pidCol = c.Name
		}
	}
	for _, q := range qis {
		if c, ok := s.column(q); !ok || c.Kind != QuasiIdentifier {
			return fail(ErrConfig, "%q is not a declared quasi-identifier", q)
		}
	}
	groups := map[string]map[string]bool{}
	for i, r := range rows {
		for name, v := range r {
			c, ok := s.column(name)
			if !ok {
				return fail(ErrNotAnonymous, "row %d: undeclared column %q", i, name)
			}
			if c.Kind == DirectIdentifier {
				return fail(ErrNotAnonymous, "row %d: direct identifier column %q", i, name)
			}
			if why := badValue(c, v); why != "" {
				return fail(ErrNotAnonymous, "row %d: column %q: %s", i, name, why)
			}
		}
		var b strings.Builder
		for _, q := range qis {
			v, ok := r[q]
			if !ok {
				return fail(ErrNotAnonymous, "row %d: quasi-identifier %q missing", i, q)
			}
			b.WriteString(strconv.Itoa(len(v))) // length-prefixed: no two tuples share a key
			b.WriteByte(':')
			b.WriteString(v)
		}
		who := strconv.Itoa(i)
		if pidCol != "" {
			if who = r[pidCol]; who == "" {
				return fail(ErrNotAnonymous, "row %d: no pseudonym", i)
			}
		}
		g := groups[b.String()]
		if g == nil {
			g = map[string]bool{}
			groups[b.String()] = g
		}
		g[who] = true
	}
	for _, g := range groups {
		if len(g) < k {
			return fail(ErrNotAnonymous, "a quasi-identifier group has %d patients, k = %d", len(g), k)
		}
	}
	return nil
}

// badValue says what is wrong with v in column c, or "" if nothing is.
func badValue(c Column, v string) string {
	switch {
	case emailRE.MatchString(v):
		return "looks like an email address"
	case ssnRE.MatchString(v):
		return "looks like an SSN"
	case phoneRE.MatchString(v):
		return "looks like a phone number"
	}
	switch {
	case c.Kind == PatientID && !shapePseudonym.MatchString(v):
		return "not a pseudonym"
	case c.Rule == RuleZIP3 && (!shapeZIP3.MatchString(v) || v != restrictZIP3(v)):
		return "not a ZIP3 or a restricted prefix"
	case c.Rule == RuleAgeBand && !shapeAge.MatchString(v):
		return "not an age band"
	case c.Rule == RuleAgeBand && v != Suppressed && !strings.HasSuffix(v, "+"):
		if hi, err := strconv.Atoi(v[strings.IndexByte(v, '-')+1:]); err != nil || hi >= AgeTopCode {
			return "age band reaches past 89"
		}
	case c.Rule == RuleYear && !shapeYear.MatchString(v):
		return "not a year"
	case c.Rule == RuleShift && !shapeShifted.MatchString(v):
		return "not a date"
	}
	return ""
}
