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

// authorizeMany decides one action for many resources in batches of the
// consent service's limit; allowed[i] answers resources[i], and denied holds
// the first denial.
func (s *Service) authorizeMany(ctx context.Context, p auth.Principal, action, purpose string, resources []*consentv1.Resource) (allowed []bool, denied *pep.DeniedError, err error) {
	ctx, span := tracer.Start(ctx, "authorize-many")
	defer span.End()
	const batch = 100
	who := pep.Subject(p)
	allowed = make([]bool, 0, len(resources))
	for start := 0; start < len(resources); start += batch {
		part := resources[start:min(start+batch, len(resources))]
		resp, err := s.decider.BatchAuthorize(ctx, &consentv1.BatchAuthorizeRequest{Action: action, Purpose: purpose, Resources: part, OnBehalfOf: who})
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
