package research

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/wearables/mhealth"
)

// ReadingsMode is how wearable readings are released (research.proto).
type ReadingsMode string

// Readings modes.
const (
	DailySummary  ReadingsMode = "daily"
	WindowSummary ReadingsMode = "window"
	RawReadings   ReadingsMode = "raw"
)

// DateRule is what happens to dates (research.proto).
type DateRule string

// Date rules.
const (
	YearOnly    DateRule = "year"
	ShiftedDays DateRule = "shift"
)

// Output columns. pseudonym, source and category are always present; the
// others are chosen by Spec.Fields.
const (
	ColPseudonym = "pseudonym"
	ColAgeBand   = "age_band"
	ColSex       = "sex"
	ColZIP3      = "zip3"
	ColSource    = "source"
	ColCategory  = "category"
	ColCode      = "code"
	ColValue     = "value"
	ColUnit      = "unit"
	ColDate      = "date"
	ColCount     = "count"
	ColMin       = "min"
	ColMax       = "max"
	ColMean      = "mean"
	ColTimeOfDay = "time_of_day"
)

// quasiIdentifiers are the columns k-anonymity is enforced over, when chosen.
var quasiIdentifiers = []string{ColAgeBand, ColSex, ColZIP3}

// choosable are the columns Spec.Fields may name, in file order.
var choosable = []string{ColAgeBand, ColSex, ColZIP3, ColCode, ColValue, ColUnit, ColDate, ColTimeOfDay, ColCount, ColMin, ColMax, ColMean}

// Limits of a request.
const (
	MaxWindow         = 366 * 24 * time.Hour
	MaxK              = 1000
	MaxSuppressionCap = 0.5
	// DefaultSuppression is the share of patients that may be suppressed
	// rather than generalizing everyone further.
	DefaultSuppression = 0.05
	maxRequestID       = 64
)

// Spec is a validated dataset request.
type Spec struct {
	StudyID        string
	Categories     []string
	ReadingKinds   []mhealth.Kind
	Fields         []string
	From, To       time.Time
	K              int
	Readings       ReadingsMode
	Dates          DateRule
	MaxSuppression float64
}

// validate checks the spec, fills in defaults, and reports every problem at
// once, naming the field.
func (s *Spec) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := ledgerapi.ValidateID("study_id", s.StudyID); err != nil {
		bad("%s", err.Error())
	}
	if len(s.Categories) == 0 {
		bad("categories: at least one record category is required")
	}
	for i, c := range s.Categories {
		if err := ledgerapi.ValidateCategory(fmt.Sprintf("categories[%d]", i), c); err != nil {
			bad("%s", err.Error())
		}
		if slices.Index(s.Categories, c) != i {
			bad("categories[%d]: %q is repeated", i, c)
		}
	}
	if len(s.ReadingKinds) > 0 && !slices.Contains(s.Categories, "vitals") {
		bad("reading_kinds: needs category vitals")
	}
	if len(s.Fields) == 0 {
		s.Fields = slices.Clone(choosable)
	}
	for i, f := range s.Fields {
		if !slices.Contains(choosable, f) {
			bad("fields[%d]: %q is not one of %v", i, f, choosable)
		}
		if slices.Index(s.Fields, f) != i {
			bad("fields[%d]: %q is repeated", i, f)
		}
	}
	switch {
	case s.From.IsZero() || s.To.IsZero():
		bad("from and to are both required (RFC 3339)")
	case !s.From.Before(s.To):
		bad("from must be before to")
	case s.To.Sub(s.From) > MaxWindow:
		bad("the window from..to is at most 366 days")
	}
	if s.K < 2 || s.K > MaxK {
		bad("k must be 2 to %d", MaxK)
	}
	if s.Dates == "" {
		s.Dates = YearOnly
	}
	if s.Readings == "" {
		s.Readings = WindowSummary
		if s.Dates == ShiftedDays {
			s.Readings = DailySummary
		}
	}
	if !slices.Contains([]DateRule{YearOnly, ShiftedDays}, s.Dates) {
		bad("dates %q is not year or shift", s.Dates)
	}
	if !slices.Contains([]ReadingsMode{DailySummary, WindowSummary, RawReadings}, s.Readings) {
		bad("readings %q is not daily, window or raw", s.Readings)
	} else if s.Readings != WindowSummary && s.Dates != ShiftedDays {
		bad("readings %s needs dates shift: a day or a time of a reading cannot be kept to the year", s.Readings)
	}
	if s.MaxSuppression == 0 {
		s.MaxSuppression = DefaultSuppression
	}
	if !(s.MaxSuppression >= 0 && s.MaxSuppression <= MaxSuppressionCap) { // NaN too
		bad("max_suppression must be in [0, %.1f]", MaxSuppressionCap)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// qis are the quasi-identifiers the spec outputs.
func (s *Spec) qis() []string {
	var out []string
	for _, q := range quasiIdentifiers {
		if slices.Contains(s.Fields, q) {
			out = append(out, q)
		}
	}
	return out
}

// consentCategories are the categories every cohort member's research
// consents must cover: the requested ones, and demographics when a
// quasi-identifier (taken from the demographics record) is output.
func (s *Spec) consentCategories() []string {
	out := slices.Clone(s.Categories)
	if len(s.qis()) > 0 && !slices.Contains(out, "demographics") {
		out = append(out, "demographics")
	}
	slices.Sort(out)
	return out
}

// recordCategories are the requested categories read from records: all but
// vitals (wearable readings) and demographics (only its quasi-identifiers
// are used, never rows).
func (s *Spec) recordCategories() []string {
	var out []string
	for _, c := range s.Categories {
		if c != "vitals" && c != "demographics" {
			out = append(out, c)
		}
	}
	return out
}

// kindWanted reports whether readings of kind k are asked for.
func (s *Spec) kindWanted(k mhealth.Kind) bool {
	return len(s.ReadingKinds) == 0 || slices.Contains(s.ReadingKinds, k)
}
