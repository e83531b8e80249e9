package auth

import (
	"strings"
)

// Scope is one SMART on FHIR resource scope of a token: its context
// (patient, user or system), the resource type ("*" for any), the
// permissions it grants (a subset of "cruds": create, read, update,
// delete, search, in that order) and, from a "?category=" restriction, the
// one category it is limited to ("" for none).
type Scope struct {
	Context     string `json:"context"`
	Type        string `json:"type"`
	Permissions string `json:"permissions"`
	Category    string `json:"category,omitempty"`
}

// String is the scope in SMART v2 syntax.
func (s Scope) String() string {
	out := s.Context + "/" + s.Type + "." + s.Permissions
	if s.Category != "" {
		out += "?category=" + s.Category
	}
	return out
}

// maxScopes bounds how many scopes a token may carry.
const maxScopes = 50

// ParseScopes reads a token's scope claim (space-separated): the SMART v2
// resource scopes ("patient/Observation.rs", "user/*.cruds",
// "patient/Observation.rs?category=laboratory") and their v1 spellings
// ("patient/Observation.read", "user/*.write", "user/*.*"). Other scopes
// (openid, fhirUser, launch/patient, offline_access, ...) grant no access
// to data and are left out. A resource scope that is malformed, or a
// restriction other than one category, is an error: a token that meant to
// limit itself must not be read as limiting nothing.
func ParseScopes(claim string) ([]Scope, error) {
	fields := strings.Fields(claim)
	if len(fields) > maxScopes {
		return nil, reject(ErrInvalidClaims, "more than %d scopes", maxScopes)
	}
	var out []Scope
	for _, f := range fields {
		ctx, rest, ok := strings.Cut(f, "/")
		if !ok || ctx != "patient" && ctx != "user" && ctx != "system" {
			continue // not a resource scope
		}
		rest, query, hasQuery := strings.Cut(rest, "?")
		typ, perms, ok := strings.Cut(rest, ".")
		if !ok || !validType(typ) {
			return nil, reject(ErrInvalidClaims, "scope %s: want context/Type.permissions", quote(f))
		}
		switch perms {
		case "read":
			perms = "rs"
		case "write":
			perms = "cud"
		case "*":
			perms = "cruds"
		default:
			if !orderedSubset(perms, "cruds") {
				return nil, reject(ErrInvalidClaims, "scope %s: permissions must be some of c r u d s, in that order", quote(f))
			}
		}
		s := Scope{Context: ctx, Type: typ, Permissions: perms}
		if hasQuery {
			name, value, _ := strings.Cut(query, "=")
			if name != "category" || value == "" || strings.ContainsAny(value, "&=|,") || len(value) > 64 {
				return nil, reject(ErrInvalidClaims, "scope %s: the only restriction supported is one ?category=<code>", quote(f))
			}
			s.Category = value
		}
		out = append(out, s)
	}
	return out, nil
}

// validType is "*" or a FHIR resource type name (letters, an upper-case first).
func validType(t string) bool {
	if t == "*" {
		return true
	}
	if t == "" || len(t) > 64 || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// orderedSubset reports whether s is a non-empty subsequence of all without
// repeats ("rs" of "cruds", not "sr" nor "rr").
func orderedSubset(s, all string) bool {
	if s == "" {
		return false
	}
	j := 0
	for i := 0; i < len(s); i++ {
		k := strings.IndexByte(all[j:], s[i])
		if k < 0 {
			return false
		}
		j += k + 1
	}
	return true
}

// ScopePermits reports whether p's SMART scopes allow the interaction (a
// permission letter) on the FHIR type typ of patient's data, for resources
// outside the record categories the access policy decides (the consents
// and the access log): a scope of any context, that type or "*", with the
// permission and no category restriction; patient/ scopes only for the
// launch patient. A caller without a scope claim is not limited by scopes.
func (p Principal) ScopePermits(typ, interaction, patient string) bool {
	if !p.Scoped {
		return true
	}
	for _, s := range p.ResourceScopes() {
		if (s.Type == "*" || s.Type == typ) && strings.Contains(s.Permissions, interaction) && s.Category == "" &&
			(s.Context != "patient" || p.LaunchPatient != "" && p.LaunchPatient == patient) {
			return true
		}
	}
	return false
}
