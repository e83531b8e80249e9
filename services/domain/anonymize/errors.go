package anonymize

import (
	"errors"
	"fmt"
)

// Every error from this package wraps exactly one of these, for errors.Is.
// Error messages name columns and row indexes, never values.
var (
	// ErrSchema: the schema is malformed (duplicate or unnamed column, unknown
	// kind, a rule that does not fit the kind).
	ErrSchema = errors.New("invalid schema")
	// ErrIdentifier: the schema would output a Safe Harbor identifier.
	ErrIdentifier = errors.New("schema would output a direct identifier")
	// ErrInvalidValue: a value cannot be parsed or generalized (bad date,
	// ZIP or age band, missing patient id, non-finite reading).
	ErrInvalidValue = errors.New("invalid value")
	// ErrConfig: an option or argument is out of range (k < 2, suppression
	// limit outside [0, 1), a quasi-identifier without a hierarchy).
	ErrConfig = errors.New("invalid configuration")
	// ErrCohortTooSmall: fewer than k patients in total; nothing can be
	// released.
	ErrCohortTooSmall = errors.New("cohort smaller than k")
	// ErrSuppressionLimit: no generalization level keeps suppression within
	// the configured limit.
	ErrSuppressionLimit = errors.New("k-anonymity needs more suppression than allowed")
	// ErrNotAnonymous: Verify found a group smaller than k, an identifier
	// column or a value that looks like an identifier.
	ErrNotAnonymous = errors.New("dataset is not anonymous")
)

func fail(kind error, format string, args ...any) error {
	return fmt.Errorf("anonymize: %w: "+format, append([]any{kind}, args...)...)
}
