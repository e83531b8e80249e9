package ledgerapi

import (
	"fmt"
	"slices"
)

// Organisations (MSP ids) that are members of the channel.
const (
	ProvidersMSP = "ProvidersMSP"
	ResearchMSP  = "ResearchMSP"
)

// Categories of health records a consent can cover.
var Categories = []string{
	"demographics", "conditions", "medications", "prescriptions", "allergies",
	"immunizations", "labs", "imaging", "notes", "vitals", "claims",
}

// Purposes of use a consent can allow.
var Purposes = []string{
	"treatment", "payment", "operations", "research", "emergency", "public-health",
}

// PurposeResearch is the purpose a consent must allow for a dataset release.
const PurposeResearch = "research"

// Grantee kinds: a single user, every member of an organisation, or one
// research study (the grantee id is the study id). A study consent allows
// research only, and only a dataset release for that study can cite it.
const (
	GranteeUser  = "user"
	GranteeOrg   = "org"
	GranteeStudy = "study"
)

// Status of a consent or a device.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
)

// Decisions recorded in access events.
const (
	DecisionAllow = "allow"
	DecisionDeny  = "deny"
)

// ValidateCategory checks that v is a record category.
func ValidateCategory(field, v string) error { return oneOf(field, v, Categories...) }

// ValidatePurpose checks that v is a purpose of use.
func ValidatePurpose(field, v string) error { return oneOf(field, v, Purposes...) }

// ValidateGranteeKind checks that v is a grantee kind.
func ValidateGranteeKind(field, v string) error {
	return oneOf(field, v, GranteeUser, GranteeOrg, GranteeStudy)
}

func oneOf(field, v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return fmt.Errorf("%w: %s must be one of %v", ErrInvalid, field, allowed)
	}
	return nil
}

// checkList checks that values has between min and max entries, holds no
// duplicates, and that each entry passes check.
func checkList(field string, values []string, min, max int, check func(field, v string) error) error {
	if len(values) < min || len(values) > max {
		return fmt.Errorf("%w: %s must have %d to %d entries, has %d", ErrInvalid, field, min, max, len(values))
	}
	seen := make(map[string]bool, len(values))
	for i, v := range values {
		name := fmt.Sprintf("%s[%d]", field, i)
		if err := check(name, v); err != nil {
			return err
		}
		if seen[v] {
			return fmt.Errorf("%w: %s repeats %q", ErrInvalid, name, v)
		}
		seen[v] = true
	}
	return nil
}
