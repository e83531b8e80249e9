package records

import (
	"context"
	"fmt"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/pep"
)

// Actions the consent service decides.
const (
	actionRead  = "read"
	actionWrite = "write"
)

// authorize asks the consent service about the caller p; see pep.Authorize.
func (s *Service) authorize(ctx context.Context, p auth.Principal, a pep.Access) ([]string, error) {
	ctx, span := tracer.Start(ctx, "authorize")
	defer span.End()
	return pep.Authorize(ctx, s.decider, p, a)
}

// manyQuery is what authorizeMany asks about every resource.
type manyQuery struct {
	action, purpose, resourceType, interaction string
}

// SMART permissions of the interactions (pep.Access.Interaction).
const (
	interactionCreate = "c"
	interactionRead   = "r"
	interactionUpdate = "u"
	interactionSearch = "s"
)

// fhirTypeKey carries the FHIR type a request of the FHIR API names.
type fhirTypeKey struct{}

// withFHIRType marks ctx as a request of the FHIR API for type typ: the
// decisions it asks for name the type, for SMART scopes to match.
func withFHIRType(ctx context.Context, typ string) context.Context {
	return context.WithValue(ctx, fhirTypeKey{}, typ)
}

// fhirType is the FHIR type of the request, "" outside the FHIR API.
func fhirType(ctx context.Context) string {
	typ, _ := ctx.Value(fhirTypeKey{}).(string)
	return typ
}

// authorizeMany decides one action for many resources in batches of the
// consent service's limit; allowed[i] answers resources[i], and denied holds
// the first denial.
func (s *Service) authorizeMany(ctx context.Context, p auth.Principal, q manyQuery, resources []*consentv1.Resource) (allowed []bool, denied *pep.DeniedError, err error) {
	ctx, span := tracer.Start(ctx, "authorize-many")
	defer span.End()
	const batch = 100
	who := pep.Subject(p)
	allowed = make([]bool, 0, len(resources))
	for start := 0; start < len(resources); start += batch {
		part := resources[start:min(start+batch, len(resources))]
		resp, err := s.decider.BatchAuthorize(ctx, &consentv1.BatchAuthorizeRequest{Action: q.action, Purpose: q.purpose, Resources: part,
			OnBehalfOf: who, FhirResourceType: q.resourceType, FhirInteraction: q.interaction})
		if err != nil {
			return nil, nil, pep.FromStatus(err)
		}
		if len(resp.GetDecisions()) != len(part) {
			return nil, nil, fmt.Errorf("%w: the consent service answered %d decisions for %d resources", pep.ErrUnavailable, len(resp.GetDecisions()), len(part))
		}
		for _, d := range resp.GetDecisions() {
			_, err := pep.Allowed(d)
			allowed = append(allowed, err == nil)
			if err != nil && denied == nil {
				denied = err.(*pep.DeniedError)
			}
		}
	}
	return allowed, denied, nil
}
