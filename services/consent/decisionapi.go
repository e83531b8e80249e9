package consent

import (
	"context"
	"fmt"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/serving"
)

// decisionAPI serves consent.v1.DecisionService: messages in and out, the
// verified caller, and errors to statuses; the work is the service's
// (decide.go).
type decisionAPI struct {
	consentv1.UnimplementedDecisionServiceServer
	*service
}

// Delegates are the services that may ask on another person's behalf (with
// their own certificate, no token): the enforcement points.
var Delegates = []string{"records", "ingest", "research"}

func (a *decisionAPI) Authorize(ctx context.Context, req *consentv1.AuthorizeRequest) (*consentv1.AuthorizeResponse, error) {
	ds, err := a.decideMessages(ctx, req.GetOnBehalfOf(), query{action: req.GetAction(), purpose: req.GetPurpose(), breakGlass: req.GetBreakGlassReason(),
		resourceType: req.GetFhirResourceType(), interaction: req.GetFhirInteraction()}, []*consentv1.Resource{req.GetResource()})
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.AuthorizeResponse{Decision: ds[0]}, nil
}

func (a *decisionAPI) BatchAuthorize(ctx context.Context, req *consentv1.BatchAuthorizeRequest) (*consentv1.BatchAuthorizeResponse, error) {
	if n := len(req.GetResources()); n == 0 || n > maxBatch {
		return nil, toStatus(ctx, a.log, fmt.Errorf("%w: 1 to %d resources per call", ErrInvalid, maxBatch))
	}
	ds, err := a.decideMessages(ctx, req.GetOnBehalfOf(), query{action: req.GetAction(), purpose: req.GetPurpose(), breakGlass: req.GetBreakGlassReason(),
		resourceType: req.GetFhirResourceType(), interaction: req.GetFhirInteraction()}, req.GetResources())
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.BatchAuthorizeResponse{Decisions: ds}, nil
}

// actor is who a decision is for: the caller's verified token; or, when an
// enforcement point (Delegates, by its certificate) asks without a token,
// the person it verified and names, if this service's issuers vouch for
// them. A token and a named person together are refused: one caller, one
// answer to who is acting.
func (a *decisionAPI) actor(ctx context.Context, onBehalf *consentv1.Subject) (auth.Principal, error) {
	if p, ok := auth.FromContext(ctx); ok {
		if onBehalf != nil {
			return auth.Principal{}, fmt.Errorf("%w: send the person's token or on_behalf_of, not both", ErrInvalid)
		}
		return p, nil
	}
	if onBehalf == nil {
		return auth.Principal{}, fmt.Errorf("%w: send the person's token (authorization: Bearer <jwt>)", ErrUnauthenticated)
	}
	if !serving.IsCalledBy(Delegates...)(ctx) {
		return auth.Principal{}, fmt.Errorf("%w: only the %v services may ask on another person's behalf", ErrPermission, Delegates)
	}
	p := auth.Principal{Subject: onBehalf.GetId(), Role: auth.Role(onBehalf.GetRole()), Org: onBehalf.GetOrg(),
		Issuer: onBehalf.GetIssuer(), StudyID: onBehalf.GetStudyId(),
		Scoped: onBehalf.GetScoped(), Scopes: onBehalf.GetScopes(), LaunchPatient: onBehalf.GetLaunchPatient()}
	if a.verifier == nil {
		return auth.Principal{}, fmt.Errorf("%w: no issuers to vouch for %s", ErrPermission, p.Subject)
	}
	if err := a.verifier.Vouch(p); err != nil {
		return auth.Principal{}, fmt.Errorf("%w: %w", ErrPermission, err)
	}
	return p, nil
}

// decideMessages decides one query per resource for who is acting.
func (a *decisionAPI) decideMessages(ctx context.Context, onBehalf *consentv1.Subject, asked query, resources []*consentv1.Resource) ([]*consentv1.Decision, error) {
	p, err := a.actor(ctx, onBehalf)
	if err != nil {
		return nil, err
	}
	if a.decisionLimit != nil {
		if err := a.decisionLimit.Throttle(ctx, p.Key(), "decisions"); err != nil {
			return nil, err
		}
	}
	queries := make([]query, len(resources))
	for i, r := range resources {
		if r == nil {
			return nil, fmt.Errorf("%w: resource is required", ErrInvalid)
		}
		queries[i] = asked
		queries[i].resource = resource{patientID: r.GetPatientId(), category: r.GetCategory(), recordID: r.GetRecordId()}
	}
	ds, err := a.decideAll(ctx, p, queries)
	if err != nil {
		return nil, err
	}
	out := make([]*consentv1.Decision, len(ds))
	for i, d := range ds {
		out[i] = &consentv1.Decision{
			Allow: d.Allow, Reasons: d.Reasons, Obligations: d.Obligations, ConsentId: d.ConsentID, EventId: d.eventID, Fulfilled: d.fulfilled,
			Resource: &consentv1.Resource{PatientId: d.resource.patientID, Category: d.resource.category, RecordId: d.resource.recordID},
		}
	}
	return out, nil
}
