package auth

import (
	"fmt"
	"slices"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

// Role is what a user is to the exchange, from the token's role claim.
type Role string

// The roles a token may carry.
const (
	RolePatient    Role = "patient"
	RoleClinician  Role = "clinician"
	RolePharmacist Role = "pharmacist"
	RoleInsurer    Role = "insurer"
	RoleResearcher Role = "researcher"
	RoleService    Role = "service"
)

// Roles lists every valid role.
func Roles() []Role {
	return []Role{RolePatient, RoleClinician, RolePharmacist, RoleInsurer, RoleResearcher, RoleService}
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// Principal is a verified caller.
type Principal struct {
	// Subject is the token's sub: the user's id at their organisation (for a
	// patient, the patient's pseudonymous id).
	Subject string
	Role    Role
	// Org is the MSP id of the user's organisation (for example
	// ProvidersMSP); always set except, possibly, for a patient.
	Org string
	// StudyID is the study a researcher acts for; empty for other roles.
	StudyID string
	// Issuer is the identity provider that signed the token.
	Issuer string
	// ExpiresAt is when the token stops being accepted.
	ExpiresAt time.Time
	// Scoped is set when the token carried a scope claim: the caller is a
	// SMART on FHIR app, allowed only what Scopes allow (and the consents).
	// A token without one is the exchange's own, limited by role and
	// consents alone.
	Scoped bool
	// Scopes are the SMART resource scopes of the token (ParseScopes), in
	// their v2 spelling, space-separated (ResourceScopes has them parsed).
	Scopes string
	// LaunchPatient is the patient in context for patient/ scopes: the
	// token's patient claim, or a patient's own id.
	LaunchPatient string
}

// Validate checks the identity fields the way Verify checks a token's
// claims: sub is an id, role is known, org is one of the channel's
// organisations and present for every role but patient, study is an id and present for a researcher. Issuer and
// ExpiresAt are not checked here.
func (p Principal) Validate() error {
	if p.Subject == "" {
		return reject(ErrInvalidClaims, "missing sub")
	}
	if err := ledgerapi.ValidateID("sub", p.Subject); err != nil {
		return reject(ErrInvalidClaims, "sub must be 1-128 characters of A-Z a-z 0-9 . _ : @ - starting with a letter or digit")
	}
	if p.Role == "" {
		return reject(ErrInvalidClaims, "missing role")
	}
	if !p.Role.Valid() {
		return reject(ErrInvalidClaims, "unknown role %s (want one of %v)", quote(string(p.Role)), Roles())
	}
	if p.Org == "" && p.Role != RolePatient {
		return reject(ErrInvalidClaims, "role %s requires an org claim (the organisation's MSP id)", p.Role)
	}
	if p.Org != "" {
		if _, member := ledgerapi.OrganisationOf(p.Org); !member {
			return reject(ErrInvalidClaims, "org %s is not an organisation of the exchange (want one of %v)", quote(p.Org), ledgerapi.MemberMSPs())
		}
	}
	if p.StudyID == "" && p.Role == RoleResearcher {
		return reject(ErrInvalidClaims, "role researcher requires a study claim")
	}
	if p.StudyID != "" {
		if err := ledgerapi.ValidateID("study", p.StudyID); err != nil {
			return reject(ErrInvalidClaims, "study must be 1-128 characters of A-Z a-z 0-9 . _ : @ - starting with a letter or digit")
		}
	}
	if p.LaunchPatient != "" {
		if err := ledgerapi.ValidateID("patient", p.LaunchPatient); err != nil {
			return reject(ErrInvalidClaims, "patient (the launch context) must be a patient id")
		}
	}
	if p.Scopes != "" && !p.Scoped {
		return reject(ErrInvalidClaims, "scopes without the scope claim")
	}
	if _, err := ParseScopes(p.Scopes); err != nil {
		return err
	}
	return nil
}

// Key names the person for rate limits and the like: the same subject
// from another issuer or organisation is someone else.
func (p Principal) Key() string { return p.Issuer + "|" + p.Org + "|" + p.Subject }

// ResourceScopes are the caller's SMART resource scopes, parsed.
func (p Principal) ResourceScopes() []Scope {
	scopes, _ := ParseScopes(p.Scopes) // Validate has checked them
	return scopes
}

// quote renders an untrusted claim value for an error message: quoted,
// escaped, and cut short so a hostile value cannot flood a log.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
