package consent

import (
	"context"
	"fmt"

	consentv1 "healthexchange/proto/consent/v1"
)

// decisionAPI serves consent.v1.DecisionService: messages in and out, the
// verified caller, and errors to statuses; the work is the service's
// (decide.go).
type decisionAPI struct {
	consentv1.UnimplementedDecisionServiceServer
	*service
}

func (a *decisionAPI) Authorize(ctx context.Context, req *consentv1.AuthorizeRequest) (*consentv1.AuthorizeResponse, error) {
	ds, err := a.decideMessages(ctx, req.GetAction(), req.GetPurpose(), req.GetBreakGlassReason(), []*consentv1.Resource{req.GetResource()})
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.AuthorizeResponse{Decision: ds[0]}, nil
}

func (a *decisionAPI) BatchAuthorize(ctx context.Context, req *consentv1.BatchAuthorizeRequest) (*consentv1.BatchAuthorizeResponse, error) {
	if n := len(req.GetResources()); n == 0 || n > maxBatch {
		return nil, toStatus(ctx, a.log, fmt.Errorf("%w: 1 to %d resources per call", ErrInvalid, maxBatch))
	}
	ds, err := a.decideMessages(ctx, req.GetAction(), req.GetPurpose(), req.GetBreakGlassReason(), req.GetResources())
	if err != nil {
		return nil, toStatus(ctx, a.log, err)
	}
	return &consentv1.BatchAuthorizeResponse{Decisions: ds}, nil
}

// decideMessages decides one query per resource for the verified caller.
func (a *decisionAPI) decideMessages(ctx context.Context, action, purpose, breakGlass string, resources []*consentv1.Resource) ([]*consentv1.Decision, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	queries := make([]query, len(resources))
	for i, r := range resources {
		if r == nil {
			return nil, fmt.Errorf("%w: resource is required", ErrInvalid)
		}
		queries[i] = query{action: action, purpose: purpose, breakGlass: breakGlass,
			resource: resource{patientID: r.GetPatientId(), category: r.GetCategory(), recordID: r.GetRecordId()}}
	}
	ds, err := a.decideAll(ctx, p, queries)
	if err != nil {
		return nil, err
	}
	out := make([]*consentv1.Decision, len(ds))
	for i, d := range ds {
		out[i] = &consentv1.Decision{
			Allow: d.Allow, Reasons: d.Reasons, Obligations: d.Obligations, ConsentId: d.ConsentID, EventId: d.eventID,
			Resource: &consentv1.Resource{PatientId: d.resource.patientID, Category: d.resource.category, RecordId: d.resource.recordID},
		}
	}
	return out, nil
}
