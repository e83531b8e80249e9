package anonymize

import "fmt"

// Row is one dataset row: column name to value. Values are text; how a
// column's value is read and generalized is declared by its Column in the
// Schema, not guessed from the value.
type Row map[string]string

// Kind is what a column is, for de-identification.
type Kind int

const (
	// KindUnknown is the zero value; Check refuses it.
	KindUnknown Kind = iota
	// DirectIdentifier columns identify a patient on their own and are
	// always dropped.
	DirectIdentifier
	// QuasiIdentifier columns identify in combination (age, ZIP, sex); they
	// are generalized and are the columns k-anonymity is enforced over.
	QuasiIdentifier
	// Sensitive columns are the research payload (lab values, diagnosis
	// codes, heart-rate summaries) and are kept as they are.
	Sensitive
	// PatientID is the column that says whose row it is; it is replaced by
	// the dataset's pseudonym.
	PatientID
	// Date columns are reduced to the year or shifted per patient.
	Date
)

func (k Kind) String() string {
	switch k {
	case DirectIdentifier:
		return "DirectIdentifier"
	case QuasiIdentifier:
		return "QuasiIdentifier"
	case Sensitive:
		return "Sensitive"
	case PatientID:
		return "PatientID"
	case Date:
		return "Date"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Rule says how a QuasiIdentifier or Date column is transformed. Other kinds
// take RuleNone.
type Rule int

const (
	// RuleNone: no transformation (DirectIdentifier, Sensitive, PatientID).
	RuleNone Rule = iota
	// RuleKeep: a categorical quasi-identifier (sex) kept as is at level 0.
	RuleKeep
	// RuleAgeBand: a birth date (YYYY-MM-DD) becomes a 5-year age band at
	// the dataset's reference date, 90 and over as "90+".
	RuleAgeBand
	// RuleZIP3: a ZIP code becomes its first three digits, "000" for the
	// restricted prefixes.
	RuleZIP3
	// RuleYear: a date becomes its year (Safe Harbor).
	RuleYear
	// RuleShift: a date is shifted by the patient's offset and kept to the
	// day. Intervals survive; this is not Safe Harbor (it needs an expert
	// determination) and is for datasets whose protocol allows it.
	RuleShift
)

// Column declares one column of a dataset.
type Column struct {
	Name string
	Kind Kind
	Rule Rule
}

// Schema declares every column a dataset may have; a column not declared is
// never output.
type Schema struct {
	Columns []Column
}

// column returns the declared column called name.
func (s Schema) column(name string) (Column, bool) {
	for _, c := range s.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Check refuses a schema that is malformed or would output a Safe Harbor
// identifier. It protects against a schema mistake (an email column declared
// Sensitive, a birth date kept to the year) leaking an identifier: a column
// whose name is on the Safe Harbor list must be declared DirectIdentifier (and
// is dropped), PatientID (and is pseudonymized), or — for ZIP codes and dates
// only — carry the rule that makes it Safe Harbor compliant.
func Check(s Schema) error {
	if len(s.Columns) == 0 {
		return fail(ErrSchema, "no columns")
	}
	seen := make(map[string]bool, len(s.Columns))
	var patients, shifts int
	for _, c := range s.Columns {
		if c.Name == "" {
			return fail(ErrSchema, "unnamed column")
		}
		if seen[c.Name] {
			return fail(ErrSchema, "column %q declared twice", c.Name)
		}
		seen[c.Name] = true
		switch c.Kind {
		case DirectIdentifier, Sensitive:
			if c.Rule != RuleNone {
				return fail(ErrSchema, "column %q: %v takes no rule", c.Name, c.Kind)
			}
		case PatientID:
			if c.Rule != RuleNone {
				return fail(ErrSchema, "column %q: %v takes no rule", c.Name, c.Kind)
			}
			patients++
		case QuasiIdentifier:
			if c.Rule != RuleKeep && c.Rule != RuleAgeBand && c.Rule != RuleZIP3 {
				return fail(ErrSchema, "column %q: a quasi-identifier needs RuleKeep, RuleAgeBand or RuleZIP3", c.Name)
			}
		case Date:
			if c.Rule != RuleYear && c.Rule != RuleShift {
				return fail(ErrSchema, "column %q: a date needs RuleYear or RuleShift", c.Name)
			}
			if c.Rule == RuleShift {
				shifts++
			}
		default:
			return fail(ErrSchema, "column %q: unknown kind %v", c.Name, c.Kind)
		}
		if item, ok := outputsIdentifier(c); ok {
			return fail(ErrIdentifier, "column %q is Safe Harbor item %d (%s) and is declared %v", c.Name, item.Item, item.Name, c.Kind)
		}
	}
	if patients > 1 {
		return fail(ErrSchema, "%d PatientID columns, at most one allowed", patients)
	}
	if shifts > 0 && patients == 0 {
		return fail(ErrSchema, "RuleShift needs a PatientID column to draw each patient's offset")
	}
	return nil
}
