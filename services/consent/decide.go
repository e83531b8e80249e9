package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/auth"
)

// How the decision point decides: the view's consents of the patient, the
// policy, and an access event in the journal for every decision, allowed
// or denied, before it is given. The proto edge is decisionapi.go.

var tracer = otel.Tracer("healthexchange/services/consent")

// Limits of a decision request.
const (
	maxBatch            = 100
	maxBreakGlassReason = 500
)

// resource is what an access is to: a category of a patient's records, or
// one record.
type resource struct {
	patientID, category, recordID string
}

// query is one access to decide.
type query struct {
	action, purpose, breakGlass string
	resource                    resource
	// resourceType and interaction are the FHIR type and the SMART
	// permission asked for, when the asking service knows them.
	resourceType, interaction string
}

// decision is the answer to one query: the policy's, and the access event
// that records it.
type decision struct {
	policy.Decision
	eventID  string
	resource resource
	// breakGlassUntil is the end of the break-glass grant an allow used.
	breakGlassUntil time.Time
	// fulfilled are the obligations carried out before the answer.
	fulfilled []string
}

func (q query) validate() error {
	r := q.resource
	var recordErr error
	if r.recordID != "" {
		recordErr = ledgerapi.ValidateID("resource.record_id", r.recordID)
	}
	var actionErr error
	if q.action != "read" && q.action != "write" {
		actionErr = fmt.Errorf("action must be read or write")
	}
	var bgErr error
	if len(q.breakGlass) > maxBreakGlassReason {
		bgErr = fmt.Errorf("break_glass_reason is longer than %d bytes", maxBreakGlassReason)
	}
	var fhirErr error
	switch {
	case q.interaction != "" && (len(q.interaction) != 1 || !strings.Contains("cruds", q.interaction)):
		fhirErr = fmt.Errorf("fhir_interaction must be one of c r u d s")
	case q.resourceType != "" && !fhirTypeName(q.resourceType):
		fhirErr = fmt.Errorf("fhir_resource_type must be a FHIR resource type name")
	}
	if err := errors.Join(actionErr, bgErr, recordErr, fhirErr,
		ledgerapi.ValidateID("resource.patient_id", r.patientID),
		ledgerapi.ValidateCategory("resource.category", r.category),
		ledgerapi.ValidatePurpose("purpose", q.purpose),
	); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// fhirTypeName reports whether t looks like a FHIR resource type name.
func fhirTypeName(t string) bool {
	if len(t) == 0 || len(t) > 64 || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	for _, c := range t {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// decideAll decides every query for the verified caller, records every
// decision in the journal with one write, and only then answers: a decision
// that could not be recorded is not given, nor one whose access event the
// service could not write to the ledger (no identity of the caller's
// organisation).
func (s *service) decideAll(ctx context.Context, p auth.Principal, queries []query) ([]decision, error) {
	for _, q := range queries {
		if err := q.validate(); err != nil {
			return nil, err
		}
	}
	if _, member := ledgerapi.OrganisationOf(p.Org); p.Role != auth.RolePatient && !member {
		return nil, fmt.Errorf("%w: organisation %q is not a member of the exchange", ErrPermission, p.Org)
	}
	if !s.shipper.canRecord(string(p.Role), p.Org) {
		return nil, fmt.Errorf("%w: no ledger identity of organisation %q to record its people's accesses with", ErrNotRecorded, p.Org)
	}
	decisions := make([]decision, len(queries))
	events := make([]ledgerapi.AccessEvent, 0, len(queries))
	var notes []notification
	for i, q := range queries {
		var e ledgerapi.AccessEvent
		decisions[i], e = s.decide(ctx, p, q)
		// A patient the ledger does not know has no access log: the deny is
		// logged here only (the chaincode refuses events for them).
		if slices.Equal(e.ReasonCodes, []string{"patient-unknown"}) {
			decisions[i].eventID = ""
			continue
		}
		events = append(events, e)
		if !s.view.Erased(e.PatientID) {
			notes = append(notes, s.accessNote(e, q, decisions[i]))
		}
	}
	if len(events) > 0 {
		if _, err := s.journal.Append(ctx, events...); err != nil {
			s.log.ErrorContext(ctx, "access events not recorded; decisions withheld", "err", err)
			return nil, fmt.Errorf("%w: %w", ErrNotRecorded, err)
		}
		if s.journal.Len() >= s.shipper.batch {
			s.shipper.nudge()
		}
	}
	// The patient hears of every access. A break-glass allow is not given
	// before its notification is on disk; the others follow at once.
	for _, n := range notes {
		wait := n.Kind == noteBreakGlass
		if err := s.notify(ctx, n, wait); err != nil && wait {
			s.log.ErrorContext(ctx, "break-glass notification not written; decision withheld", "err", err)
			return nil, fmt.Errorf("%w: the patient's notification: %w", ErrNotRecorded, err)
		}
	}
	for i := range decisions {
		if decisions[i].eventID == "" {
			continue
		}
		decisions[i].fulfilled = []string{policy.ObligationLogAccess}
		if decisions[i].Allow && slices.Contains(decisions[i].Codes, "break-glass") {
			decisions[i].fulfilled = append(decisions[i].fulfilled, policy.ObligationLogBreakGlass, policy.ObligationNotifyPatient)
		}
	}
	return decisions, nil
}

// accessNote is the patient's notification of a decision: a break-glass
// allow with its reason sealed, anything else as an access.
func (s *service) accessNote(e ledgerapi.AccessEvent, q query, d decision) notification {
	n := notification{PatientID: e.PatientID, Time: e.Time, Kind: noteAccess, Key: "access/" + e.EventID,
		Actor: e.Actor, ActorRole: e.ActorRole, ActorOrg: e.ActorOrg, Action: e.Action, Resource: e.Resource,
		Purpose: e.Purpose, Decision: e.Decision, ReasonCodes: e.ReasonCodes, EventID: e.EventID}
	if d.Allow && slices.Contains(d.Codes, "break-glass") && s.breakGlass != nil {
		n.Kind, n.Key = noteBreakGlass, "break-glass/"+e.EventID
		n.GrantUntil = ledgerapi.FormatTime(d.breakGlassUntil)
		n.Sealed = s.breakGlass.sealReason(e.PatientID, e.EventID, q.breakGlass)
	}
	return n
}

// notify puts n on its patient's feed; with wait, it is on disk when notify
// returns. A service without a feed notifies nobody and says so.
func (s *service) notify(ctx context.Context, n notification, wait bool) error {
	if s.feed == nil {
		return errors.New("no notification feed")
	}
	return s.feed.Append(ctx, n, wait)
}

// decide makes one decision and the access event that records it. It never
// fails: whatever goes wrong is a deny with the reason.
func (s *service) decide(ctx context.Context, p auth.Principal, q query) (decision, ledgerapi.AccessEvent) {
	ctx, span := tracer.Start(ctx, "decide")
	defer span.End()
	now := s.now()
	r := q.resource
	var d policy.Decision
	if live, why := s.view.Live(); !live {
		d = policy.Decision{Allow: false, Reasons: []string{why}, Codes: []string{"view-not-live"}}
	} else if !s.view.Registered(r.patientID) {
		d = policy.Decision{Allow: false, Reasons: []string{"patient " + r.patientID + " is not registered"}, Codes: []string{"patient-unknown"}}
	} else if s.view.Erased(r.patientID) {
		d = policy.Decision{Allow: false, Reasons: []string{"patient " + r.patientID + " has been erased"}, Codes: []string{"patient-erased"}}
	} else {
		in := policy.Input{
			Subject:          policy.Subject{ID: p.Subject, Role: string(p.Role), Org: p.Org},
			Action:           q.action,
			Resource:         policy.Resource{PatientID: r.patientID, Category: r.category, RecordID: r.recordID},
			Purpose:          q.purpose,
			BreakGlassReason: q.breakGlass,
			Time:             ledgerapi.FormatTime(now),
			Prepared:         s.view.MatchingPrepared(r.patientID, p.Subject, p.Org),
		}
		if p.Role == auth.RolePatient && p.Subject != r.patientID {
			// A parent, guardian or carer reading for the patient.
			in.Delegations = s.view.Delegations(r.patientID, p.Subject)
		}
		if p.Scoped {
			in.Smart = &policy.Smart{LaunchPatient: p.LaunchPatient, ResourceType: q.resourceType, Interaction: q.interaction,
				Scopes: []policy.Scope{}}
			for _, sc := range p.ResourceScopes() {
				in.Smart.Scopes = append(in.Smart.Scopes, policy.Scope{Context: sc.Context, Type: sc.Type, Permissions: sc.Permissions, Category: sc.Category})
			}
		}
		var err error
		if d, err = s.policy.Decide(ctx, in); err != nil {
			// Whatever the engine handed back with its error, it is a deny.
			s.log.ErrorContext(ctx, "policy evaluation failed; denied", "err", err)
			d = policy.Decision{Allow: false, Reasons: []string{"policy evaluation failed: access denied"}, Codes: []string{policy.CodePolicyError}}
		}
	}
	var until time.Time
	if d.Allow && slices.Contains(d.Codes, "break-glass") {
		d, until = s.limitBreakGlass(p, r.patientID, now, d)
	}
	res := "category/" + r.category
	if r.recordID != "" {
		res = "record/" + r.recordID
	}
	outcome := ledgerapi.DecisionDeny
	if d.Allow {
		outcome = ledgerapi.DecisionAllow
	}
	var bgRef string
	if q.breakGlass != "" {
		// The clinician's words may describe the patient's condition: they
		// never reach the ledger nor a log. The ledger gets a keyed hash of
		// them, which proves later which words were given and, the key
		// being this service's secret, cannot be guessed back.
		bgRef = s.breakGlassRef(q.breakGlass)
		s.log.WarnContext(ctx, "break-glass access requested", "subject", p.Subject, "org", p.Org, "patient", r.patientID,
			"allow", d.Allow, "break_glass_ref", bgRef)
	}
	actorOrg := p.Org
	if p.Role == auth.RolePatient {
		actorOrg = ""
	}
	event := ledgerapi.AccessEvent{
		EventID: newID("ev"), Actor: p.Subject, ActorRole: string(p.Role), ActorOrg: actorOrg, PatientID: r.patientID,
		Action: q.action, Resource: res, Purpose: q.purpose, Decision: outcome,
		BreakGlass: q.breakGlass != "", BreakGlassRef: bgRef, ReasonCodes: reasonCodes(d.Codes), Time: ledgerapi.FormatTime(now),
	}
	s.log.InfoContext(ctx, "access decision", "allow", d.Allow, "subject", p.Subject, "role", p.Role,
		"patient", r.patientID, "resource", res, "purpose", q.purpose, "break_glass", event.BreakGlass, "event", event.EventID)
	return decision{Decision: d, eventID: event.EventID, resource: r, breakGlassUntil: until}, event
}

// limitBreakGlass applies what the policy cannot know to a break-glass
// allow: only a hospital's clinicians break the glass, and within the
// limits (one grant per patient for a window, so many grants a day). A
// grant that cannot be saved is a deny.
func (s *service) limitBreakGlass(p auth.Principal, patientID string, now time.Time, d policy.Decision) (policy.Decision, time.Time) {
	deny := func(code, reason string) policy.Decision {
		return policy.Decision{Allow: false, Reasons: []string{reason}, Codes: []string{code}}
	}
	if !hospital(p.Org) {
		return deny("break-glass-organisation", fmt.Sprintf("break-glass is only for clinicians of a hospital; %s is not one", p.Org)), time.Time{}
	}
	if s.breakGlass == nil {
		return deny("break-glass-limit", "break-glass is not available: no limits are configured"), time.Time{}
	}
	out, err := s.breakGlass.admit(p.Org, p.Subject, patientID, now)
	if err != nil {
		s.log.Error("break-glass grant not saved; denied", "err", err)
		return deny("break-glass-limit", "break-glass grant could not be recorded: access denied"), time.Time{}
	}
	if !out.allow {
		return deny(out.code, out.reason), time.Time{}
	}
	d.Reasons = append(d.Reasons, "break-glass grant for this patient until "+ledgerapi.FormatTime(out.until))
	return d, out.until
}

func policyConsent(c ledgerapi.Consent) policy.Consent {
	return policy.Consent{
		ConsentID: c.ConsentID, PatientID: c.PatientID, Grantee: policy.Grantee{Kind: c.Grantee.Kind, ID: c.Grantee.ID},
		Categories: c.Categories, Purposes: c.Purposes, RecordIDs: c.RecordIDs,
		NotBefore: c.NotBefore, ExpiresAt: c.ExpiresAt, Status: c.Status,
	}
}

// breakGlassRef is the keyed hash (HMAC-SHA256 under the service's
// break-glass key) of a break-glass reason.
func (s *service) breakGlassRef(reason string) string {
	m := hmac.New(sha256.New, s.breakGlassKey)
	m.Write([]byte(reason))
	return hex.EncodeToString(m.Sum(nil))
}

// reasonCodes are a decision's codes as the access log takes them: distinct,
// at most eight, "default-deny" when there is none.
func reasonCodes(codes []string) []string {
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		if !slices.Contains(out, c) && len(out) < 8 {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = append(out, "default-deny")
	}
	return out
}
