package fhir

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Search paging bounds.
const (
	DefaultCount = 20
	MaxCount     = 100
)

// searchElements are the elements behind the search parameters category,
// code and date of each type, R4's definitions of those parameters; a type
// without an element does not support the parameter. A date element named
// with [x] is any of its dateTime, instant or Period choices.
var searchElements = map[string]struct{ category, code, date string }{
	"Observation":          {"category", "code", "effective[x]"},
	"Condition":            {"category", "code", ""},
	"DiagnosticReport":     {"category", "code", "effective[x]"},
	"MedicationRequest":    {"category", "medicationCodeableConcept", ""},
	"MedicationStatement":  {"category", "medicationCodeableConcept", "effective[x]"},
	"AllergyIntolerance":   {"category", "code", "recordedDate"},
	"Immunization":         {"", "", "occurrence[x]"},
	"Procedure":            {"category", "code", "performed[x]"},
	"Encounter":            {"", "", "period"},
	"DocumentReference":    {"category", "", "date"},
	"CarePlan":             {"category", "", "period"},
	"ImagingStudy":         {"", "", ""},
	"Claim":                {"", "", ""},
	"ExplanationOfBenefit": {"", "", ""},
}

// SearchTypes are the resource types the FHIR API serves, in a stable
// order. Patient is not among them: a patient's demographics are a record
// whose id is the patient's, which the API's record ids do not model yet.
func SearchTypes() []string { return slices.Clone(searchTypes()) }

var searchTypes = sync.OnceValue(func() []string {
	types := make([]string, 0, len(searchElements))
	for t := range searchElements {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
})

// Searchable reports whether the FHIR API serves type typ (SearchTypes).
func Searchable(typ string) bool {
	_, ok := searchElements[typ]
	return ok
}

// Paging reads a search's or a history's _count (DefaultCount when
// absent, 1 to MaxCount) and _offset (0 to 1,000,000), each given at most
// once.
func Paging(q url.Values) (count, offset int, err error) {
	count = DefaultCount
	for _, p := range []struct {
		name string
		dst  *int
		min  int
		max  int
	}{{"_count", &count, 1, MaxCount}, {"_offset", &offset, 0, 1_000_000}} {
		values, ok := q[p.name]
		if !ok {
			continue
		}
		n, convErr := strconv.Atoi(values[0])
		if len(values) != 1 || convErr != nil || n < p.min || n > p.max {
			return 0, 0, fmt.Errorf("%w: %s: must be given once, a number from %d to %d", ErrInvalid, p.name, p.min, p.max)
		}
		*p.dst = n
	}
	return count, offset, nil
}

// SearchParams returns the search parameters type typ supports besides
// patient, _count and _offset: a subset of category, code and date.
func SearchParams(typ string) []string {
	e, ok := searchElements[typ]
	if !ok {
		return nil
	}
	var out []string
	if e.category != "" {
		out = append(out, "category")
	}
	if e.code != "" {
		out = append(out, "code")
	}
	if e.date != "" {
		out = append(out, "date")
	}
	return out
}

// Token is one value of a token search parameter: system|code, |code (no
// system), system| (any code of the system) or code (any system).
type Token struct {
	System, Code string
	// HasSystem is set when the value had a "|": System "" then means "no
	// system".
	HasSystem bool
}

// DateBound is one value of the date parameter: a comparison prefix and
// the range the date (at its precision) covers, [Start, End).
type DateBound struct {
	Prefix     string
	Start, End time.Time
}

// Search is a parsed search of one resource type.
type Search struct {
	Type    string
	Patient string
	// Category and Code match when any of their tokens does (a comma in the
	// parameter); every Date bound must match (the parameter repeated).
	Category, Code []Token
	Date           []DateBound
	Count, Offset  int
}

// ParseSearch parses the query of a search of type typ. Unknown
// parameters, parameters the type does not support, modifiers and
// malformed values are ErrInvalid, naming the parameter: a search that
// silently ignored a filter would return records the caller did not ask for.
func ParseSearch(typ string, q url.Values) (Search, error) {
	e, ok := searchElements[typ]
	if !ok {
		return Search{}, fmt.Errorf("%w: %s is not a resource type this server searches", ErrUnknownType, typ)
	}
	s := Search{Type: typ, Count: DefaultCount}
	for name, values := range q {
		one := func() (string, error) {
			if len(values) != 1 {
				return "", fmt.Errorf("%w: %s: give it once", ErrInvalid, name)
			}
			return values[0], nil
		}
		switch {
		case name == "patient" || name == "subject":
			v, err := one()
			if err != nil {
				return Search{}, err
			}
			id := strings.TrimPrefix(v, "Patient/")
			if !validID(id) {
				return Search{}, fmt.Errorf("%w: %s: must be a patient id or Patient/<id>", ErrInvalid, name)
			}
			if s.Patient != "" && s.Patient != id {
				return Search{}, fmt.Errorf("%w: patient and subject name different patients", ErrInvalid)
			}
			s.Patient = id
		case name == "category" && e.category != "", name == "code" && e.code != "":
			for _, v := range values {
				toks, err := parseTokens(name, v)
				if err != nil {
					return Search{}, err
				}
				if name == "category" {
					if s.Category != nil {
						return Search{}, fmt.Errorf("%w: %s: give it once (a comma separates alternatives)", ErrInvalid, name)
					}
					s.Category = toks
				} else {
					if s.Code != nil {
						return Search{}, fmt.Errorf("%w: %s: give it once (a comma separates alternatives)", ErrInvalid, name)
					}
					s.Code = toks
				}
			}
		case name == "date" && e.date != "":
			for _, v := range values {
				d, err := ParseDateBound(v)
				if err != nil {
					return Search{}, err
				}
				s.Date = append(s.Date, d)
			}
		case name == "_count" || name == "_offset": // Paging, below
		case name == "_format":
			v, err := one()
			if err != nil || !JSONFormat(v) {
				return Search{}, fmt.Errorf("%w: _format: only json is served", ErrInvalid)
			}
		default:
			return Search{}, fmt.Errorf("%w: search parameter %q is not supported for %s (supported: patient, %s, _count)",
				ErrInvalid, name, typ, strings.Join(SearchParams(typ), ", "))
		}
	}
	if s.Patient == "" {
		return Search{}, fmt.Errorf("%w: patient is required: every search is of one patient's records", ErrInvalid)
	}
	var err error
	if s.Count, s.Offset, err = Paging(q); err != nil {
		return Search{}, err
	}
	return s, nil
}

// JSONFormat reports whether a _format value or media type asks for JSON.
func JSONFormat(v string) bool {
	v, _, _ = strings.Cut(v, ";")
	switch strings.TrimSpace(strings.ToLower(v)) {
	case "json", "application/json", "application/fhir+json", "application/json+fhir":
		return true
	}
	return false
}

func parseTokens(name, v string) ([]Token, error) {
	if v == "" || len(v) > 1024 {
		return nil, fmt.Errorf("%w: %s: empty or too long", ErrInvalid, name)
	}
	var out []Token
	for _, part := range strings.Split(v, ",") {
		system, code, has := strings.Cut(part, "|")
		if !has {
			system, code = "", part
		}
		if code == "" && (!has || system == "") {
			return nil, fmt.Errorf("%w: %s: a value must be code, system|code, |code or system|", ErrInvalid, name)
		}
		out = append(out, Token{System: system, Code: code, HasSystem: has})
	}
	return out, nil
}

// datePrefixes are the comparisons the date parameter takes (R4 §3.1.1.4.4
// less ap, approximately, whose margin R4 leaves to the server).
var datePrefixes = []string{"eq", "ne", "lt", "gt", "le", "ge", "sa", "eb"}

// ParseDateBound parses one value of a date parameter: an optional prefix
// and an R4 date, dateTime or instant.
func ParseDateBound(v string) (DateBound, error) {
	prefix := "eq"
	if len(v) >= 2 && v[0] >= 'a' && v[0] <= 'z' {
		prefix = v[:2]
		if !slices.Contains(datePrefixes, prefix) {
			return DateBound{}, fmt.Errorf("%w: date: prefix %q is not supported (use one of %s)", ErrInvalid, prefix, strings.Join(datePrefixes, " "))
		}
		v = v[2:]
	}
	start, end, ok := dateRange(v)
	if !ok {
		return DateBound{}, fmt.Errorf("%w: date: must be an R4 date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a zone)", ErrInvalid)
	}
	return DateBound{Prefix: prefix, Start: start, End: end}, nil
}

// dateRange is the range a date, dateTime or instant covers at its
// precision; a date without a zone is taken as UTC.
func dateRange(v string) (start, end time.Time, ok bool) {
	layouts := []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04:05Z07:00", func(t time.Time) time.Time { return t.Add(time.Second) }},
	}
	if len(v) > 40 {
		return time.Time{}, time.Time{}, false
	}
	for _, l := range layouts {
		if t, err := time.Parse(l.layout, v); err == nil {
			return t, l.step(t), true
		}
	}
	// Fractional seconds: the precision is the instant itself.
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil && strings.Contains(v, ".") {
		return t, t.Add(time.Nanosecond), true
	}
	return time.Time{}, time.Time{}, false
}

// Matches reports whether the resource raw, of the search's type, matches
// its category, code and date parameters (its patient is the caller's to
// have checked). A resource that cannot be read as JSON does not match.
func (s Search) Matches(raw []byte) bool {
	var r map[string]any
	if err := json.Unmarshal(raw, &r); err != nil || r["resourceType"] != s.Type {
		return false
	}
	e := searchElements[s.Type]
	if s.Category != nil && !anyToken(r[e.category], s.Category) {
		return false
	}
	if s.Code != nil && !anyToken(r[e.code], s.Code) {
		return false
	}
	if len(s.Date) > 0 {
		start, end, ok := elementRange(r, e.date)
		if !ok {
			return false
		}
		for _, d := range s.Date {
			if !d.Matches(start, end) {
				return false
			}
		}
	}
	return true
}

// Matches compares a resource's date range [rs, re) with the bound's.
func (d DateBound) Matches(rs, re time.Time) bool {
	switch d.Prefix {
	case "eq":
		return !rs.Before(d.Start) && !re.After(d.End)
	case "ne":
		return rs.Before(d.Start) || re.After(d.End)
	case "lt":
		return rs.Before(d.Start)
	case "gt":
		return re.After(d.End)
	case "le":
		return rs.Before(d.End)
	case "ge":
		return re.After(d.Start)
	case "sa":
		return !rs.Before(d.End)
	case "eb":
		return !re.After(d.Start)
	}
	return false
}

// elementRange is the range of the resource's date element: a dateTime or
// instant at its precision, or a Period (an open end is the far future).
func elementRange(r map[string]any, element string) (time.Time, time.Time, bool) {
	names := []string{element}
	if base, ok := strings.CutSuffix(element, "[x]"); ok {
		names = []string{base + "DateTime", base + "Instant", base + "Period"}
	}
	for _, n := range names {
		switch v := r[n].(type) {
		case string:
			return dateRange(v)
		case map[string]any:
			startS, _ := v["start"].(string)
			endS, _ := v["end"].(string)
			start, _, ok := dateRange(startS)
			if !ok {
				start = time.Time{}
			}
			_, end, ok := dateRange(endS)
			if !ok {
				end = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			if startS == "" && endS == "" {
				return time.Time{}, time.Time{}, false
			}
			return start, end, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// anyToken reports whether the element v (a code, a CodeableConcept, or an
// array of either) matches one of toks.
func anyToken(v any, toks []Token) bool {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if anyToken(e, toks) {
				return true
			}
		}
	case string: // a code: no system
		for _, t := range toks {
			if t.Code == v && (!t.HasSystem || t.System == "") {
				return true
			}
		}
	case map[string]any:
		codings, _ := v["coding"].([]any)
		for _, c := range codings {
			coding, _ := c.(map[string]any)
			system, _ := coding["system"].(string)
			code, _ := coding["code"].(string)
			for _, t := range toks {
				if t.HasSystem && t.System != system {
					continue
				}
				if t.Code == "" || t.Code == code {
					return true
				}
			}
		}
	}
	return false
}
