package ledgerapi

import (
	"fmt"
	"slices"
)

// Organisations (MSP ids) that are members of the channel: every
// institution of the consortium is one.
const (
	ProvidersMSP = "ProvidersMSP"
	StMarysMSP   = "StMarysMSP"
	PharmacyMSP  = "PharmacyMSP"
	InsurerMSP   = "InsurerMSP"
	ResearchMSP  = "ResearchMSP"
)

// Kinds of organisation.
const (
	OrgHospital = "hospital"
	OrgPharmacy = "pharmacy"
	OrgInsurer  = "insurer"
	OrgResearch = "research"
)

// Organisation is a member of the channel: its MSP id, what it is and its
// name.
type Organisation struct {
	MSPID string `json:"mspId"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
}

// Organisations are the channel's members.
var Organisations = []Organisation{
	{ProvidersMSP, OrgHospital, "Providers General Hospital"},
	{StMarysMSP, OrgHospital, "St Mary's Hospital"},
	{PharmacyMSP, OrgPharmacy, "Riverside Pharmacy"},
	{InsurerMSP, OrgInsurer, "Northern Health Insurance"},
	{ResearchMSP, OrgResearch, "Research Institute"},
}

// OrganisationOf is the member organisation with the MSP id, if there is one.
func OrganisationOf(mspID string) (Organisation, bool) {
	for _, o := range Organisations {
		if o.MSPID == mspID {
			return o, true
		}
	}
	return Organisation{}, false
}

// MemberMSPs are the MSP ids of the channel's members.
func MemberMSPs() []string {
	out := make([]string, len(Organisations))
	for i, o := range Organisations {
		out[i] = o.MSPID
	}
	return out
}

// Roles of the people and services an access event names.
const (
	RolePatient    = "patient"
	RoleClinician  = "clinician"
	RolePharmacist = "pharmacist"
	RoleInsurer    = "insurer"
	RoleResearcher = "researcher"
	RoleService    = "service"
)

// Roles lists the roles.
var Roles = []string{RolePatient, RoleClinician, RolePharmacist, RoleInsurer, RoleResearcher, RoleService}

// Actions an access event records.
const (
	ActionRead   = "read"
	ActionWrite  = "write"
	ActionErase  = "erase"
	ActionVerify = "verify"
)

// Actions lists the actions.
var Actions = []string{ActionRead, ActionWrite, ActionErase, ActionVerify}

// ReasonCodes are why an access was allowed or denied, as the access log
// records it: codes, never free text, so no health information can ride in
// a reason.
var ReasonCodes = []string{
	// Allowed.
	"patient-own-records", "consent", "break-glass", "delegation",
	// Denied: the request, the role, the patient.
	"malformed-request", "default-deny", "other-patient", "researcher-no-direct-access",
	"role-category", "role-purpose", "role-action", "organisation-unknown",
	// Denied: break-glass.
	"break-glass-clinicians-only", "break-glass-read-only", "break-glass-reason-missing",
	"break-glass-organisation", "break-glass-limit",
	// Denied: the consents.
	"no-consent", "category-not-granted", "purpose-not-granted", "record-not-granted",
	"consent-revoked", "consent-inactive", "consent-not-yet-valid", "consent-expired",
	"consent-read-only", "consent-malformed",
	// Denied: the token (a SMART app's scopes).
	"scope-not-granted",
	// Denied: the exchange.
	"patient-erased", "patient-unknown", "view-not-live", "policy-error", "tamper-detected",
}

// ValidateReasonCode checks that v is a reason code.
func ValidateReasonCode(field, v string) error { return oneOf(field, v, ReasonCodes...) }

// Categories of health records a consent can cover.
var Categories = []string{
	"demographics", "conditions", "medications", "prescriptions", "allergies",
	"immunizations", "labs", "imaging", "notes", "vitals", "claims",
}

// Purposes of use a consent can allow.
var Purposes = []string{
	"treatment", "payment", "operations", "research", "emergency", "public-health", "dispensing",
}

// PurposeDispensing is the purpose a consent must allow for a pharmacy to
// dispense a prescription.
const PurposeDispensing = "dispensing"

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
