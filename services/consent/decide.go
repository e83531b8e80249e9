package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

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
	maxEventReason      = 500 // the chaincode takes up to 512 bytes
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
}

// decision is the answer to one query: the policy's, and the access event
// that records it.
type decision struct {
	policy.Decision
	eventID  string
	resource resource
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
	if err := errors.Join(actionErr, bgErr, recordErr,
		ledgerapi.ValidateID("resource.patient_id", r.patientID),
		ledgerapi.ValidateCategory("resource.category", r.category),
		ledgerapi.ValidatePurpose("purpose", q.purpose),
	); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// decideAll decides every query for the verified caller, records every
// decision in the journal with one write, and only then answers: a decision
// that could not be recorded is not given.
func (s *service) decideAll(ctx context.Context, p auth.Principal, queries []query) ([]decision, error) {
	for _, q := range queries {
		if err := q.validate(); err != nil {
			return nil, err
		}
	}
	decisions := make([]decision, len(queries))
	events := make([]ledgerapi.AccessEvent, len(queries))
	for i, q := range queries {
		decisions[i], events[i] = s.decide(ctx, p, q)
	}
	if _, err := s.journal.Append(ctx, events...); err != nil {
		s.log.ErrorContext(ctx, "access events not recorded; decisions withheld", "err", err)
		return nil, fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	if s.journal.Len() >= s.shipper.batch {
		s.shipper.nudge()
	}
	return decisions, nil
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
		d = policy.Decision{Allow: false, Reasons: []string{why}}
	} else if s.view.Erased(r.patientID) {
		d = policy.Decision{Allow: false, Reasons: []string{"patient " + r.patientID + " has been erased"}}
	} else {
		in := policy.Input{
			Subject:          policy.Subject{ID: p.Subject, Role: string(p.Role), Org: p.Org},
			Action:           q.action,
			Resource:         policy.Resource{PatientID: r.patientID, Category: r.category, RecordID: r.recordID},
			Purpose:          q.purpose,
			BreakGlassReason: q.breakGlass,
			Time:             ledgerapi.FormatTime(now),
			Consents:         policyConsents(s.view.Matching(r.patientID, p.Subject, p.Org)),
		}
		var err error
		if d, err = s.policy.Decide(ctx, in); err != nil {
			// Whatever the engine handed back with its error, it is a deny.
			s.log.ErrorContext(ctx, "policy evaluation failed; denied", "err", err)
			d = policy.Decision{Allow: false, Reasons: []string{"policy evaluation failed: access denied"}}
		}
	}
	res := "category/" + r.category
	if r.recordID != "" {
		res = "record/" + r.recordID
	}
	outcome := ledgerapi.DecisionDeny
	if d.Allow {
		outcome = ledgerapi.DecisionAllow
	}
	reason := strings.Join(d.Reasons, "; ")
	if q.breakGlass != "" {
		// The clinician's words may describe the patient's condition: they
		// stay in this service's log; the ledger gets their hash, which
		// proves later which words were given.
		sum := sha256.Sum256([]byte(q.breakGlass))
		reason = "break-glass reason sha256:" + hex.EncodeToString(sum[:]) + "; " + reason
		s.log.WarnContext(ctx, "break-glass access requested", "subject", p.Subject, "patient", r.patientID,
			"allow", d.Allow, "reason", q.breakGlass)
	}
	event := ledgerapi.AccessEvent{
		EventID: newID("ev"), Actor: p.Subject, ActorOrg: p.Org, PatientID: r.patientID,
		Action: q.action, Resource: res, Purpose: q.purpose, Decision: outcome,
		BreakGlass: q.breakGlass != "", Reason: truncate(reason, maxEventReason), Time: ledgerapi.FormatTime(now),
	}
	s.log.InfoContext(ctx, "access decision", "allow", d.Allow, "subject", p.Subject, "role", p.Role,
		"patient", r.patientID, "resource", res, "purpose", q.purpose, "break_glass", event.BreakGlass, "event", event.EventID)
	return decision{Decision: d, eventID: event.EventID, resource: r}, event
}

func policyConsents(cs []ledgerapi.Consent) []policy.Consent {
	out := make([]policy.Consent, len(cs))
	for i, c := range cs {
		out[i] = policy.Consent{
			ConsentID: c.ConsentID, Grantee: policy.Grantee{Kind: c.Grantee.Kind, ID: c.Grantee.ID},
			Categories: c.Categories, Purposes: c.Purposes, RecordIDs: c.RecordIDs,
			NotBefore: c.NotBefore, ExpiresAt: c.ExpiresAt, Status: c.Status,
		}
	}
	return out
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
