package anonymize

import (
	"regexp"
	"slices"
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
	pidCol, err := checkVerify(s, qis, k)
	if err != nil {
		return err
	}
	groups := newGroupCount(k)
	for i, r := range rows {
		for name, v := range r {
			c, ok := s.column(name)
			if !ok {
				return fail(ErrNotAnonymous, "row %d: undeclared column %q", i, name)
			}
			if err := checkCell(i, c, v); err != nil {
				return err
			}
		}
		var b strings.Builder
		for _, q := range qis {
			v, ok := r[q]
			if !ok {
				return fail(ErrNotAnonymous, "row %d: quasi-identifier %q missing", i, q)
			}
			appendGroupKey(&b, v)
		}
		who := strconv.Itoa(i)
		if pidCol != "" {
			if who = r[pidCol]; who == "" {
				return fail(ErrNotAnonymous, "row %d: no pseudonym", i)
			}
		}
		groups.add(b.String(), who)
	}
	return groups.check()
}

// checkVerify checks Verify's arguments and returns the PatientID column.
func checkVerify(s Schema, qis []string, k int) (pidCol string, err error) {
	if k < 2 {
		return "", fail(ErrConfig, "k = %d, at least 2 needed", k)
	}
	if err := Check(s); err != nil {
		return "", err
	}
	for _, c := range s.Columns {
		if c.Kind == PatientID {
			pidCol = c.Name
		}
	}
	for _, q := range qis {
		if c, ok := s.column(q); !ok || c.Kind != QuasiIdentifier {
			return "", fail(ErrConfig, "%q is not a declared quasi-identifier", q)
		}
	}
	return pidCol, nil
}

// checkCell checks value v of row i in its declared column c.
func checkCell(i int, c Column, v string) error {
	if c.Kind == DirectIdentifier {
		return fail(ErrNotAnonymous, "row %d: direct identifier column %q", i, c.Name)
	}
	if why := badValue(c, v); why != "" {
		return fail(ErrNotAnonymous, "row %d: column %q: %s", i, c.Name, why)
	}
	return nil
}

// appendGroupKey adds one quasi-identifier value to a group's key,
// length-prefixed so that no two tuples share a key.
func appendGroupKey(b *strings.Builder, v string) {
	b.WriteString(strconv.Itoa(len(v)))
	b.WriteByte(':')
	b.WriteString(v)
}

// groupCount is the patients of each quasi-identifier group.
type groupCount struct {
	k      int
	groups map[string]map[string]struct{}
}

func newGroupCount(k int) *groupCount {
	return &groupCount{k: k, groups: map[string]map[string]struct{}{}}
}

func (g *groupCount) add(key, who string) {
	members := g.groups[key]
	if members == nil {
		members = map[string]struct{}{}
		g.groups[key] = members
	}
	members[who] = struct{}{}
}

func (g *groupCount) check() error {
	for _, members := range g.groups {
		if len(members) < g.k {
			return fail(ErrNotAnonymous, "a quasi-identifier group has %d patients, k = %d", len(members), g.k)
		}
	}
	return nil
}

// Verifier is Verify for rows that arrive one at a time, as records: cells
// in the order of a header (a CSV file's first line), an empty cell being an
// absent value. It keeps the patients of each quasi-identifier group (one
// entry per patient and group), never the rows, so a file larger than memory
// can be checked as it is read. Record and Close fail where Verify would
// for the same rows.
type Verifier struct {
	header  []string
	columns []*Column // per header cell; nil when undeclared
	qis     []int     // header index of each quasi-identifier, -1 when absent
	qiNames []string
	pid     int // header index of the PatientID column, -1 when none
	groups  *groupCount
	row     int
	// clean is, per header cell, the last value found clean there: a
	// column's values repeat from row to row (a patient's pseudonym and
	// quasi-identifiers, a code, a unit), and a value is checked once.
	clean []string
	// last is the previous row's group key cells and pseudonym: a
	// patient's rows follow each other, and their group is counted once.
	last    []string
	counted bool
}

// NewVerifier returns a Verifier of records with the given header, for
// schema s, quasi-identifiers qis and k, after the checks Verify makes of its
// arguments. A name twice in the header is refused.
func NewVerifier(s Schema, header []string, qis []string, k int) (*Verifier, error) {
	pidCol, err := checkVerify(s, qis, k)
	if err != nil {
		return nil, err
	}
	v := &Verifier{header: slices.Clone(header), columns: make([]*Column, len(header)), qis: make([]int, len(qis)),
		qiNames: slices.Clone(qis), pid: -1, groups: newGroupCount(k), clean: make([]string, len(header)),
		last: make([]string, len(qis)+1)}
	for i, name := range header {
		if slices.Index(header, name) != i {
			return nil, fail(ErrNotAnonymous, "column %q is twice in the header", name)
		}
		if c, ok := s.column(name); ok {
			v.columns[i] = &c
		}
		if pidCol != "" && name == pidCol {
			v.pid = i
		}
	}
	for q, name := range qis {
		v.qis[q] = slices.Index(header, name)
	}
	return v, nil
}

// Record checks the next row.
func (v *Verifier) Record(cells []string) error {
	i := v.row
	v.row++
	if len(cells) != len(v.header) {
		return fail(ErrNotAnonymous, "row %d: %d cells, the header has %d", i, len(cells), len(v.header))
	}
	for j, cell := range cells {
		if cell == "" || cell == v.clean[j] {
			continue
		}
		c := v.columns[j]
		if c == nil {
			return fail(ErrNotAnonymous, "row %d: undeclared column %q", i, v.header[j])
		}
		if err := checkCell(i, *c, cell); err != nil {
			return err
		}
		v.clean[j] = cell
	}
	same := v.counted && v.pid >= 0
	for q, j := range v.qis {
		cell := ""
		if j >= 0 {
			cell = cells[j]
		}
		if cell == "" {
			return fail(ErrNotAnonymous, "row %d: quasi-identifier %q missing", i, v.qiNames[q])
		}
		same = same && cell == v.last[q]
	}
	who := strconv.Itoa(i)
	if v.pid >= 0 {
		if who = cells[v.pid]; who == "" {
			return fail(ErrNotAnonymous, "row %d: no pseudonym", i)
		}
		same = same && who == v.last[len(v.qis)]
	}
	if same {
		return nil // the previous row's patient in the previous row's group
	}
	var b strings.Builder
	for q, j := range v.qis {
		appendGroupKey(&b, cells[j])
		v.last[q] = cells[j]
	}
	v.last[len(v.qis)] = who
	v.counted = true
	v.groups.add(b.String(), who)
	return nil
}

// Close checks that every quasi-identifier group has at least k patients.
func (v *Verifier) Close() error {
	return v.groups.check()
}

// badValue says what is wrong with v in column c, or "" if nothing is.
func badValue(c Column, v string) string {
	if mayHoldIdentifier(v) {
		switch {
		case emailRE.MatchString(v):
			return "looks like an email address"
		case ssnRE.MatchString(v):
			return "looks like an SSN"
		case phoneRE.MatchString(v):
			return "looks like a phone number"
		}
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

// mayHoldIdentifier reports whether v could match emailRE, ssnRE or
// phoneRE: the first needs an @, the others at least 9 ASCII digits (\d is
// ASCII in Go's regexp). It only spares running them on values that cannot
// match; it decides nothing.
func mayHoldIdentifier(v string) bool {
	digits := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '@':
			return true
		case '0' <= c && c <= '9':
			digits++
		}
	}
	return digits >= 9
}
