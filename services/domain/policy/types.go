package policy

import (
	"math"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Input is one access request, the input document of the policy. The JSON
// names are those the policy reads.
type Input struct {
	Subject  Subject  `json:"subject"`
	Action   string   `json:"action"` // "read" or "write"
	Resource Resource `json:"resource"`
	Purpose  string   `json:"purpose"` // from the chaincode's purposes
	// BreakGlassReason is why a clinician reads without consent (purpose
	// "emergency"); at least 10 characters once trimmed.
	BreakGlassReason string `json:"break_glass_reason"`
	// Time is when the access happens, RFC 3339; consents are judged at it.
	Time string `json:"time"`
	// Consents are the patient's consents naming the subject or its
	// organisation. The policy checks grantee, patient, status and window
	// itself, so passing more than that never allows more.
	Consents []Consent `json:"consents"`
	// Prepared, when set, are the consents already made into policy
	// documents (PrepareConsent), used instead of Consents: a view that
	// keeps them prepared saves the conversion on every decision.
	Prepared []PreparedConsent `json:"-"`
	// Smart, when set, is what the subject's SMART on FHIR token limits
	// the request to: the policy allows only what both the scopes and the
	// consents allow, and says which one denied.
	Smart *Smart `json:"smart,omitempty"`
	// Delegations are the delegations the patient gave the subject (a
	// parent, a guardian, a carer), as the ledger holds them: the policy
	// checks patient, delegate, status, powers and end itself.
	Delegations []Delegation `json:"delegations,omitempty"`
}

// Delegation is a delegation as the policy reads it.
type Delegation struct {
	DelegationID string   `json:"delegation_id"`
	PatientID    string   `json:"patient_id"`
	DelegateID   string   `json:"delegate_id"`
	Powers       []string `json:"powers"`
	Status       string   `json:"status"`
	ExpiresAt    string   `json:"expires_at"`
}

// Smart is a SMART on FHIR app's token and what the request asks of it.
type Smart struct {
	Scopes []Scope `json:"scopes"`
	// LaunchPatient is the patient in context, for patient/ scopes.
	LaunchPatient string `json:"launch_patient"`
	// ResourceType is the FHIR type asked for, "" when not known;
	// Interaction the SMART permission (c r u d s), "" for r on a read and
	// c on a write.
	ResourceType string `json:"resource_type"`
	Interaction  string `json:"interaction"`
}

// Scope is one SMART resource scope: context (patient, user, system),
// type ("*" for any), permissions (some of cruds) and an optional category
// restriction.
type Scope struct {
	Context     string `json:"context"`
	Type        string `json:"type"`
	Permissions string `json:"permissions"`
	Category    string `json:"category"`
}

// PreparedConsent is a consent as the policy's input document holds it,
// made once (its times parsed to nanoseconds for the fast allow).
type PreparedConsent struct {
	id   string
	term *ast.Term
}

// PrepareConsent makes the policy document of a consent.
func PrepareConsent(c Consent) PreparedConsent {
	return PreparedConsent{id: c.ConsentID, term: c.term()}
}

// ConsentID is the id of the prepared consent.
func (p PreparedConsent) ConsentID() string { return p.id }

// Nanosecond bounds of an open consent window, and of a time the policy
// cannot use (fail closed: a start never reached, an end long past).
const (
	openStart = 0
	openEnd   = math.MaxInt64
)

// startNS is a not_before as nanoseconds: 0 when open, never when malformed.
func startNS(s string) int64 {
	if s == "" {
		return openStart
	}
	ns, ok := unixNanos(s)
	if !ok {
		return math.MaxInt64
	}
	return ns
}

// endNS is an expires_at as nanoseconds: the largest when open or after
// 2262 (beyond nanoseconds, later than any request), long past when
// malformed.
func endNS(s string) int64 {
	if s == "" {
		return openEnd
	}
	ns, ok := unixNanos(s)
	if !ok {
		return math.MinInt64
	}
	return ns
}

// unixNanos parses an RFC 3339 time as nanoseconds since the epoch,
// saturating past the int64 range (year 2262).
func unixNanos(s string) (int64, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	if t.After(time.Unix(0, math.MaxInt64)) {
		return math.MaxInt64, true
	}
	if t.Before(time.Unix(0, math.MinInt64)) {
		return math.MinInt64, true
	}
	return t.UnixNano(), true
}

// Subject is who asks.
type Subject struct {
	ID   string `json:"id"`
	Role string `json:"role"` // patient, clinician, pharmacist, insurer, researcher
	Org  string `json:"org"`  // "" when the subject has no organisation
}

// Resource is what is asked for.
type Resource struct {
	PatientID string `json:"patient_id"`
	Category  string `json:"category"`  // from the chaincode's categories
	RecordID  string `json:"record_id"` // "" for no particular record
}

// Consent is a patient's consent as the ledger holds it.
type Consent struct {
	ConsentID string `json:"consent_id"`
	// PatientID, when set, must be the resource's patient, or the consent
	// is ignored.
	PatientID  string   `json:"patient_id,omitempty"`
	Grantee    Grantee  `json:"grantee"`
	Categories []string `json:"categories"`
	Purposes   []string `json:"purposes"`
	RecordIDs  []string `json:"record_ids"` // empty: every record of the categories
	NotBefore  string   `json:"not_before"` // RFC 3339, "" for from the grant
	ExpiresAt  string   `json:"expires_at"` // RFC 3339, "" for never
	Status     string   `json:"status"`     // "active" or "revoked"
}

// Grantee is whom a consent is given to.
type Grantee struct {
	Kind string `json:"kind"` // "user" or "org"
	ID   string `json:"id"`
}

// Decision is the policy's answer.
type Decision struct {
	Allow bool `json:"allow"`
	// Reasons say why, for a person: one on allow, every applicable one on
	// deny. Never empty.
	Reasons []string `json:"reasons"`
	// Codes are the reasons as the access log's codes (ledgerapi.ReasonCodes):
	// what may reach the ledger. Never empty.
	Codes []string `json:"codes"`
	// Obligations are what the enforcement point must do when it acts on an
	// allow (see the Obligation constants). Empty on deny.
	Obligations []string `json:"obligations"`
	// ConsentID is the consent that allowed the request, "" when none was
	// needed (a patient on their own records, break-glass) and on deny.
	ConsentID string `json:"consent_id"`
}

// CodePolicyError is the code of a deny because the policy could not decide.
const CodePolicyError = "policy-error"

// Obligations a decision can carry. An allow carries ObligationLogAccess
// always; break-glass adds the other two.
const (
	ObligationLogAccess     = "log-access"
	ObligationLogBreakGlass = "log-break-glass"
	ObligationNotifyPatient = "notify-patient"
)

// The input document is built as an OPA value directly: the same document
// encoding/json makes of Input (nil slices are null, an empty patient id of
// a consent is left out), without a JSON round trip per decision.

func (in *Input) value() ast.Value {
	consents := ast.NullTerm()
	switch {
	case in.Prepared != nil:
		terms := make([]*ast.Term, len(in.Prepared))
		for i := range in.Prepared {
			terms[i] = in.Prepared[i].term
		}
		consents = ast.ArrayTerm(terms...)
	case in.Consents != nil:
		terms := make([]*ast.Term, len(in.Consents))
		for i := range in.Consents {
			terms[i] = in.Consents[i].term()
		}
		consents = ast.ArrayTerm(terms...)
	}
	fields := [][2]*ast.Term{
		item("subject", ast.ObjectTerm(
			item("id", ast.StringTerm(in.Subject.ID)),
			item("role", ast.StringTerm(in.Subject.Role)),
			item("org", ast.StringTerm(in.Subject.Org)),
			// key is how a user grantee names the subject, "<org>/<id>"
			// (read by the fast allow only).
			item("key", ast.StringTerm(in.Subject.Org+"/"+in.Subject.ID)),
		)),
		item("action", ast.StringTerm(in.Action)),
		item("resource", ast.ObjectTerm(
			item("patient_id", ast.StringTerm(in.Resource.PatientID)),
			item("category", ast.StringTerm(in.Resource.Category)),
			item("record_id", ast.StringTerm(in.Resource.RecordID)),
		)),
		item("purpose", ast.StringTerm(in.Purpose)),
		item("break_glass_reason", ast.StringTerm(in.BreakGlassReason)),
		item("time", ast.StringTerm(in.Time)),
		item("consents", consents),
	}
	if ns, ok := unixNanos(in.Time); ok {
		fields = append(fields, item("time_ns", intTerm(ns)))
	}
	if in.Smart != nil {
		scopes := make([]*ast.Term, len(in.Smart.Scopes))
		for i, s := range in.Smart.Scopes {
			scopes[i] = ast.ObjectTerm(
				item("context", ast.StringTerm(s.Context)),
				item("type", ast.StringTerm(s.Type)),
				item("permissions", ast.StringTerm(s.Permissions)),
				item("category", ast.StringTerm(s.Category)),
			)
		}
		fields = append(fields, item("smart", ast.ObjectTerm(
			item("scopes", ast.ArrayTerm(scopes...)),
			item("launch_patient", ast.StringTerm(in.Smart.LaunchPatient)),
			item("resource_type", ast.StringTerm(in.Smart.ResourceType)),
			item("interaction", ast.StringTerm(in.Smart.Interaction)),
		)))
	}
	if in.Delegations != nil {
		ds := make([]*ast.Term, len(in.Delegations))
		for i, d := range in.Delegations {
			powers := make([]*ast.Term, len(d.Powers))
			for j, p := range d.Powers {
				powers[j] = ast.StringTerm(p)
			}
			ds[i] = ast.ObjectTerm(
				item("delegation_id", ast.StringTerm(d.DelegationID)),
				item("patient_id", ast.StringTerm(d.PatientID)),
				item("delegate_id", ast.StringTerm(d.DelegateID)),
				item("powers", ast.ArrayTerm(powers...)),
				item("status", ast.StringTerm(d.Status)),
				item("expires_at", ast.StringTerm(d.ExpiresAt)),
			)
		}
		fields = append(fields, item("delegations", ast.ArrayTerm(ds...)))
	}
	return ast.NewObject(fields...)
}

func (c *Consent) term() *ast.Term {
	fields := make([][2]*ast.Term, 0, 9)
	fields = append(fields, item("consent_id", ast.StringTerm(c.ConsentID)))
	if c.PatientID != "" {
		fields = append(fields, item("patient_id", ast.StringTerm(c.PatientID)))
	}
	return ast.ObjectTerm(append(fields,
		item("grantee", ast.ObjectTerm(
			item("kind", ast.StringTerm(c.Grantee.Kind)),
			item("id", ast.StringTerm(c.Grantee.ID)),
		)),
		item("categories", stringList(c.Categories)),
		item("purposes", stringList(c.Purposes)),
		item("record_ids", stringList(c.RecordIDs)),
		item("not_before", ast.StringTerm(c.NotBefore)),
		item("expires_at", ast.StringTerm(c.ExpiresAt)),
		item("not_before_ns", intTerm(startNS(c.NotBefore))),
		item("expires_at_ns", intTerm(endNS(c.ExpiresAt))),
		item("status", ast.StringTerm(c.Status)),
	)...)
}

func item(key string, value *ast.Term) [2]*ast.Term {
	return [2]*ast.Term{ast.InternedTerm(key), value}
}

// stringList is a list of strings as a term: null for nil, as encoding/json
// has it.
func stringList(list []string) *ast.Term {
	if list == nil {
		return ast.NullTerm()
	}
	terms := make([]*ast.Term, len(list))
	for i, s := range list {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}

// intTerm is an int64 as a number term (int is 64 bits wherever this runs).
func intTerm(n int64) *ast.Term { return ast.IntNumberTerm(int(n)) }
