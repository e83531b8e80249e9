package anonymize

import (
	"fmt"
	"time"
)

// Prepare applies steps 1 to 3 to raw rows: it checks the schema, drops
// direct identifiers and undeclared columns, replaces the patient id by its
// pseudonym, turns birth dates into age bands at asOf, ZIP codes into ZIP3,
// and dates into years or shifted dates. Quasi-identifiers, dates and the
// patient id must be present in every row; a Sensitive value may be missing.
// The output still needs Enforce before release.
func (p *Pseudonymizer) Prepare(s Schema, raw []Row, asOf time.Time) ([]Row, error) {
	if err := Check(s); err != nil {
		return nil, err
	}
	if asOf.IsZero() {
		return nil, fail(ErrConfig, "no reference date for ages")
	}
	kept, _ := DropIdentifiers(s, nil)
	var pidCol string
	for _, c := range kept.Columns {
		if c.Kind == PatientID {
			pidCol = c.Name
		}
	}
	out := make([]Row, 0, len(raw))
	for i, r := range raw {
		pid := r[pidCol]
		if pidCol != "" && pid == "" {
			return nil, fail(ErrInvalidValue, "row %d: no patient id in %q", i, pidCol)
		}
		nr := make(Row, len(kept.Columns))
		for _, c := range kept.Columns {
			v, ok := r[c.Name]
			if c.Kind == Sensitive {
				if ok {
					nr[c.Name] = v
				}
				continue
			}
			if v == "" {
				return nil, fail(ErrInvalidValue, "row %d: column %q is empty", i, c.Name)
			}
			g, err := p.transform(c, v, pid, asOf)
			if err != nil {
				return nil, fmt.Errorf("anonymize: row %d: column %q: %w", i, c.Name, err)
			}
			nr[c.Name] = g
		}
		out = append(out, nr)
	}
	return out, nil
}

func (p *Pseudonymizer) transform(c Column, v, pid string, asOf time.Time) (string, error) {
	switch c.Rule {
	case RuleKeep:
		return v, nil
	case RuleZIP3:
		return ZIP3(v)
	case RuleAgeBand:
		t, err := ParseDate(v)
		if err != nil {
			return "", err
		}
		return AgeBand(t, asOf)
	case RuleYear:
		t, err := ParseDate(v)
		if err != nil {
			return "", err
		}
		return Year(t), nil
	case RuleShift:
		t, err := ParseDate(v)
		if err != nil {
			return "", err
		}
		return p.ShiftDate(pid, t).Format(time.DateOnly), nil
	}
	if c.Kind == PatientID {
		return p.Pseudonym(v), nil
	}
	return "", fail(ErrSchema, "no rule") // unreachable after Check
}
