package records

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	consentv1 "healthexchange/proto/consent/v1"
)

// Actions the consent service decides.
const (
	actionRead  = "read"
	actionWrite = "write"
)

// access is one request for a decision.
type access struct {
	action, purpose, breakGlass   string
	patientID, category, recordID string
}

// authorize asks the consent service, as the caller (their token is
// forwarded), and returns the decision's obligations on allow, a
// *DeniedError on deny. A consent service that cannot be reached or cannot
// record the decision is a deny (ErrUnavailable): nothing is served or
// stored without a recorded decision.
func (s *Service) authorize(ctx context.Context, a access) ([]string, error) {
	ctx, span := tracer.Start(ctx, "authorize")
	defer span.End()
	resp, err := s.decider.Authorize(ctx, &consentv1.AuthorizeRequest{
		Action:           a.action,
		Resource:         &consentv1.Resource{PatientId: a.patientID, Category: a.category, RecordId: a.recordID},
		Purpose:          a.purpose,
		BreakGlassReason: a.breakGlass,
	})
	if err != nil {
		return nil, decisionError(err)
	}
	d := resp.GetDecision()
	if !d.GetAllow() {
		return nil, &DeniedError{Reasons: d.GetReasons(), EventID: d.GetEventId()}
	}
	return d.GetObligations(), nil
}

// authorizeMany decides one action for many resources in batches of the
// consent service's limit; allowed[i] answers resources[i], and denied holds
// the first denial.
func (s *Service) authorizeMany(ctx context.Context, action, purpose string, resources []*consentv1.Resource) (allowed []bool, denied *DeniedError, err error) {
	ctx, span := tracer.Start(ctx, "authorize-many")
	defer span.End()
	const batch = 100
	allowed = make([]bool, 0, len(resources))
	for start := 0; start < len(resources); start += batch {
		part := resources[start:min(start+batch, len(resources))]
		resp, err := s.decider.BatchAuthorize(ctx, &consentv1.BatchAuthorizeRequest{Action: action, Purpose: purpose, Resources: part})
		if err != nil {
			return nil, nil, decisionError(err)
		}
		if len(resp.GetDecisions()) != len(part) {
			return nil, nil, fmt.Errorf("%w: the consent service answered %d decisions for %d resources", ErrUnavailable, len(resp.GetDecisions()), len(part))
		}
		for _, d := range resp.GetDecisions() {
			allowed = append(allowed, d.GetAllow())
			if !d.GetAllow() && denied == nil {
				denied = &DeniedError{Reasons: d.GetReasons(), EventID: d.GetEventId()}
			}
		}
	}
	return allowed, denied, nil
}

// decisionError is what a failed call to the consent service means here.
// Its refusals of the request or the caller keep their meaning; anything
// else is unavailability, and so a deny.
func decisionError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.InvalidArgument:
		return fmt.Errorf("%w: %s", ErrInvalid, st.Message())
	case codes.PermissionDenied, codes.Unauthenticated:
		return &DeniedError{Reasons: []string{st.Message()}}
	case codes.Canceled:
		return context.Canceled
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	}
	return fmt.Errorf("%w: consent service: %s: %s", ErrUnavailable, st.Code(), st.Message())
}
