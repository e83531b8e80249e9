package anonymize

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// restrictedZIP3 are the 3-digit ZIP prefixes whose areas held 20,000 people
// or fewer (2000 Census), listed in the HHS de-identification guidance (2012,
// section 2.4). Safe Harbor requires them to be released as "000". HHS asks
// that the list follow the current Census; update it here when it does.
var restrictedZIP3 = []string{
	"036", "059", "063", "102", "203", "556", "692", "790", "821",
	"823", "830", "831", "878", "879", "884", "890", "893",
}

// RestrictedZIP3 returns the 17 restricted 3-digit ZIP prefixes.
func RestrictedZIP3() []string { return slices.Clone(restrictedZIP3) }

// SuppressedZIP3 is what a restricted prefix becomes.
const SuppressedZIP3 = "000"

// ZIP3 generalizes a US ZIP code ("12345" or "12345-6789") to its first three
// digits, and a prefix on the restricted list to "000". It protects against
// locating a patient by a 5-digit ZIP (a few thousand people) or by a 3-digit
// area with 20,000 people or fewer.
func ZIP3(zip string) (string, error) {
	z := strings.TrimSpace(zip)
	if len(z) == 10 && z[5] == '-' && allDigits(z[6:]) {
		z = z[:5]
	}
	if len(z) != 5 || !allDigits(z) {
		return "", fail(ErrInvalidValue, "not a 5-digit ZIP code")
	}
	return restrictZIP3(z[:3]), nil
}

func restrictZIP3(p string) string {
	if slices.Contains(restrictedZIP3, p) {
		return SuppressedZIP3
	}
	return p
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ParseDate reads a date as YYYY-MM-DD or RFC 3339, years 1800 to 2200.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return time.Time{}, fail(ErrInvalidValue, "not a date (YYYY-MM-DD or RFC 3339)")
		}
	}
	if t.Year() < 1800 || t.Year() > 2200 {
		return time.Time{}, fail(ErrInvalidValue, "date out of range")
	}
	return t, nil
}

// AgeTopCode is the age from which Safe Harbor groups all ages together.
const AgeTopCode = 90

// AgeBand is the 5-year age band ("0-4", "5-9", …, "85-89") of someone born
// on birth, at asOf (the dataset's reference date); 90 and over are one band,
// "90+". It protects against singling a patient out by an exact birth date
// or age, and against the very old being rare enough to identify (Safe
// Harbor item 3). 5-year bands are the finest level; AgeBandHierarchy widens
// them to 10 and 20 years when k-anonymity needs it.
func AgeBand(birth, asOf time.Time) (string, error) {
	if birth.After(asOf) {
		return "", fail(ErrInvalidValue, "birth date after the reference date")
	}
	age := asOf.Year() - birth.Year()
	if asOf.Month() < birth.Month() || asOf.Month() == birth.Month() && asOf.Day() < birth.Day() {
		age--
	}
	return bandOf(age, 5), nil
}

func bandOf(age, width int) string {
	if age >= AgeTopCode {
		return "90+"
	}
	lo := age / width * width
	return fmt.Sprintf("%d-%d", lo, lo+width-1)
}

// Year reduces a date to its year: Safe Harbor keeps no other date element.
// It protects against linking a row to an admission, birth or visit date.
func Year(t time.Time) string { return strconv.Itoa(t.Year()) }

// Hierarchy generalizes a quasi-identifier step by step for k-anonymity.
// Level 0 is the value as step 3 produced it; each level is coarser; level
// Depth() is "*" for every value.
type Hierarchy interface {
	Depth() int
	At(value string, level int) (string, error)
}

// Suppressed is the value of a fully generalized quasi-identifier.
const Suppressed = "*"

type ageHierarchy struct{}

// AgeBandHierarchy generalizes 5-year age bands: level 0 "35-39", level 1
// 10-year "30-39", level 2 20-year "20-39" (80 and over as "80+"), level 3
// "*". "90+" stays "90+" up to level 1.
func AgeBandHierarchy() Hierarchy { return ageHierarchy{} }

func (ageHierarchy) Depth() int { return 3 }

func (ageHierarchy) At(v string, level int) (string, error) {
	if v == Suppressed || level >= 3 {
		return Suppressed, nil
	}
	lo, err := parseBand(v)
	if err != nil {
		return "", err
	}
	switch level {
	case 0:
		return v, nil
	case 1:
		return bandOf(lo, 10), nil
	case 2:
		if lo >= 80 {
			return "80+", nil
		}
		return bandOf(lo, 20), nil
	}
	return "", fail(ErrConfig, "age level %d", level)
}

// parseBand reads a level-0 band and returns its lower bound.
func parseBand(v string) (int, error) {
	if v == "90+" {
		return 90, nil
	}
	a, b, ok := strings.Cut(v, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo < 0 || lo >= AgeTopCode || lo%5 != 0 || hi != lo+4 || a != strconv.Itoa(lo) {
		return 0, fail(ErrInvalidValue, "not a 5-year age band")
	}
	return lo, nil
}

type zipHierarchy struct{}

// ZIP3Hierarchy generalizes a ZIP3 to "*" at level 1.
func ZIP3Hierarchy() Hierarchy { return zipHierarchy{} }

func (zipHierarchy) Depth() int { return 1 }

func (zipHierarchy) At(v string, level int) (string, error) {
	if v == Suppressed || level >= 1 {
		return Suppressed, nil
	}
	if len(v) != 3 || !allDigits(v) {
		return "", fail(ErrInvalidValue, "not a ZIP3")
	}
	return restrictZIP3(v), nil // defence in depth: never a restricted prefix
}

type categoryHierarchy struct{}

// CategoryHierarchy keeps a categorical value (sex) at level 0 and makes it
// "*" at level 1.
func CategoryHierarchy() Hierarchy { return categoryHierarchy{} }

func (categoryHierarchy) Depth() int { return 1 }

func (categoryHierarchy) At(v string, level int) (string, error) {
	if level >= 1 {
		return Suppressed, nil
	}
	return v, nil
}

// Hierarchies returns the built-in hierarchy for every quasi-identifier of
// the schema, by its rule.
func Hierarchies(s Schema) map[string]Hierarchy {
	h := make(map[string]Hierarchy)
	for _, c := range s.Columns {
		if c.Kind != QuasiIdentifier {
			continue
		}
		switch c.Rule {
		case RuleAgeBand:
			h[c.Name] = AgeBandHierarchy()
		case RuleZIP3:
			h[c.Name] = ZIP3Hierarchy()
		case RuleKeep:
			h[c.Name] = CategoryHierarchy()
		}
	}
	return h
}
