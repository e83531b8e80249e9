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
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/auth"
	"healthexchange/services/policy"
)

// decisionAPI serves consent.v1.DecisionService.
type decisionAPI struct {
	consentv1.UnimplementedDecisionServiceServer
	*service
}

var tracer = otel.Tracer("healthexchange/services/consent")

// Limits of a decision request.
const (
	maxBatch            = 100
	maxBreakGlassReason = 500
	maxEventReason      = 500 // the chaincode takes up to 512 bytes
)

// query is one access to decide.
type query struct {
	action, purpose, breakGlass string
	resource                    *consentv1.Resource
}

func (q query) validate() error {
	r := q.resource
	if r == nil {
		return fmt.Errorf("%w: resource is required", ErrInvalid)
	}
	var recordErr error
	if r.GetRecordId() != "" {
		recordErr = ledgerapi.ValidateID("resource.record_id", r.GetRecordId())
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
		ledgerapi.ValidateID("resource.patient_id", r.GetPatientId()),
		ledgerapi.ValidateCategory("resource.category", r.GetCategory()),
		ledgerapi.ValidatePurpose("purpose", q.purpose),
	); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (a *decisionAPI) Authorize(ctx context.Context, req *consentv1.AuthorizeRequest) (*consentv1.AuthorizeResponse, error) {
	ds, err := a.decideAll(ctx, req.GetAction(), req.GetPurpose(), req.GetBreakGlassReason(), []*consentv1.Resource{req.GetResource()})
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.AuthorizeResponse{Decision: ds[0]}, nil
}

func (a *decisionAPI) BatchAuthorize(ctx context.Context, req *consentv1.BatchAuthorizeRequest) (*consentv1.BatchAuthorizeResponse, error) {
	if n := len(req.GetResources()); n == 0 || n > maxBatch {
		return nil, toStatus(ctx, a.log, fmt.Errorf("%w: 1 to %d resources per call", ErrInvalid, maxBatch))
	}
	ds, err := a.decideAll(ctx, req.GetAction(), req.GetPurpose(), req.GetBreakGlassReason(), req.GetResources())
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.BatchAuthorizeResponse{Decisions: ds}, nil
}

// decideAll decides every resource for the verified caller, records every
// decision in the journal with one write, and only then answers: a decision
// that could not be recorded is not given.
func (a *decisionAPI) decideAll(ctx context.Context, action, purpose, breakGlass string, resources []*consentv1.Resource) ([]*consentv1.Decision, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("%w: no verified caller", ErrPermission)
	}
	queries := make([]query, len(resources))
	for i, r := range resources {
		queries[i] = query{action: action, purpose: purpose, breakGlass: breakGlass, resource: r}
		if err := queries[i].validate(); err != nil {
			return nil, err
		}
	}
	decisions := make([]*consentv1.Decision, len(queries))
	events := make([]ledgerapi.AccessEvent, len(queries))
	for i, q := range queries {
		decisions[i], events[i] = a.decide(ctx, p, q)
	}
	if _, err := a.journal.Append(ctx, events...); err != nil {
		a.log.ErrorContext(ctx, "access events not recorded; decisions withheld", "err", err)
		return nil, fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	if a.journal.Len() >= a.shipper.batch {
		a.shipper.nudge()
	}
	return decisions, nil
}

// decide makes one decision and the access event that records it. It never
// fails: whatever goes wrong is a deny with the reason.
func (a *decisionAPI) decide(ctx context.Context, p auth.Principal, q query) (*consentv1.Decision, ledgerapi.AccessEvent) {
	ctx, span := tracer.Start(ctx, "decide")
	defer span.End()
	now := a.now()
	r := q.resource
	var d policy.Decision
	if live, why := a.view.Live(); !live {
		d = policy.Decision{Allow: false, Reasons: []string{why}}
	} else if a.view.Erased(r.GetPatientId()) {
		d = policy.Decision{Allow: false, Reasons: []string{"patient " + r.GetPatientId() + " has been erased"}}
	} else {
		in := policy.Input{
			Subject:          policy.Subject{ID: p.Subject, Role: string(p.Role), Org: p.Org},
			Action:           q.action,
			Resource:         policy.Resource{PatientID: r.GetPatientId(), Category: r.GetCategory(), RecordID: r.GetRecordId()},
			Purpose:          q.purpose,
			BreakGlassReason: q.breakGlass,
			Time:             ledgerapi.FormatTime(now),
			Consents:         policyConsents(a.view.Matching(r.GetPatientId(), p.Subject, p.Org)),
		}
		var err error
		if d, err = a.policy.Decide(ctx, in); err != nil {
			// Whatever the engine handed back with its error, it is a deny.
			a.log.ErrorContext(ctx, "policy evaluation failed; denied", "err", err)
			d = policy.Decision{Allow: false, Reasons: []string{"policy evaluation failed: access denied"}}
		}
	}
	resource := "category/" + r.GetCategory()
	if r.GetRecordId() != "" {
		resource = "record/" + r.GetRecordId()
	}
	decision := ledgerapi.DecisionDeny
	if d.Allow {
		decision = ledgerapi.DecisionAllow
	}
	reason := strings.Join(d.Reasons, "; ")
	if q.breakGlass != "" {
		// The clinician's words may describe the patient's condition: they
		// stay in this service's log; the ledger gets their hash, which
		// proves later which words were given.
		sum := sha256.Sum256([]byte(q.breakGlass))
		reason = "break-glass reason sha256:" + hex.EncodeToString(sum[:]) + "; " + reason
		a.log.WarnContext(ctx, "break-glass access requested", "subject", p.Subject, "patient", r.GetPatientId(),
			"allow", d.Allow, "reason", q.breakGlass)
	}
	event := ledgerapi.AccessEvent{
		EventID: newID("ev"), Actor: p.Subject, ActorOrg: p.Org, PatientID: r.GetPatientId(),
		Action: q.action, Resource: resource, Purpose: q.purpose, Decision: decision,
		BreakGlass: q.breakGlass != "", Reason: truncate(reason, maxEventReason), Time: ledgerapi.FormatTime(now),
	}
	a.log.InfoContext(ctx, "access decision", "allow", d.Allow, "subject", p.Subject, "role", p.Role,
		"patient", r.GetPatientId(), "resource", resource, "purpose", q.purpose, "break_glass", event.BreakGlass, "event", event.EventID)
	return &consentv1.Decision{
		Allow: d.Allow, Reasons: d.Reasons, Obligations: d.Obligations, ConsentId: d.ConsentID,
		EventId: event.EventID, Resource: r,
	}, event
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
