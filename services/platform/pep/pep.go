// Package pep is the enforcement-point side of access decisions: a service
// (records, ingest) asks the consent service's DecisionService with its own
// certificate, naming the person it verified (never forwarding their
// token), and turns the answer into errors its callers can act on. It must
// never turn a failed or missing decision into an allow: an unreachable
// consent service, one that could not record the decision, or an allow
// whose obligations were not carried out, is a deny.
package pep

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
)

var (
	// ErrDenied: the decision was a deny (see DeniedError for why).
	ErrDenied = errors.New("access denied")
	// ErrInvalid: the consent service found the question malformed.
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: no decision could be had; nothing may be done.
	ErrUnavailable = errors.New("unavailable")
)

// DeniedError is a deny with the policy's reasons and the id of the access
// event that recorded it.
type DeniedError struct {
	Reasons []string
	EventID string
}

func (e *DeniedError) Error() string { return ErrDenied.Error() + ": " + strings.Join(e.Reasons, "; ") }

func (e *DeniedError) Unwrap() error { return ErrDenied }

// Authorizer is the part of consentv1.DecisionServiceClient that Authorize
// needs.
type Authorizer interface {
	Authorize(ctx context.Context, in *consentv1.AuthorizeRequest, opts ...grpc.CallOption) (*consentv1.AuthorizeResponse, error)
}

// Access is one question: may the caller do action on this resource for
// this purpose?
type Access struct {
	Action, Purpose, BreakGlass   string
	PatientID, Category, RecordID string
	// ResourceType is the FHIR type asked for, "" when not known;
	// Interaction the FHIR interaction as a SMART permission (c r u d s),
	// "" for r on a read and c on a write. A caller with SMART scopes is
	// matched against them.
	ResourceType, Interaction string
}

// Subject is a verified caller as the consent service takes them in
// on_behalf_of, with their SMART scopes.
func Subject(p auth.Principal) *consentv1.Subject {
	return &consentv1.Subject{Id: p.Subject, Role: string(p.Role), Org: p.Org, Issuer: p.Issuer, StudyId: p.StudyID,
		Scoped: p.Scoped, Scopes: p.Scopes, LaunchPatient: p.LaunchPatient}
}

// Authorize asks for one decision for the verified caller p. It returns
// the decision's obligations on allow, a *DeniedError on deny (also when p
// is no one, or an obligation was not carried out), and an error wrapping
// ErrUnavailable when there is no decision.
func Authorize(ctx context.Context, d Authorizer, p auth.Principal, a Access) ([]string, error) {
	if p.Subject == "" {
		return nil, &DeniedError{Reasons: []string{"no verified caller"}}
	}
	who := Subject(p)
	resp, err := d.Authorize(ctx, &consentv1.AuthorizeRequest{
		Action:           a.Action,
		Resource:         &consentv1.Resource{PatientId: a.PatientID, Category: a.Category, RecordId: a.RecordID},
		Purpose:          a.Purpose,
		BreakGlassReason: a.BreakGlass,
		OnBehalfOf:       who,
		FhirResourceType: a.ResourceType,
		FhirInteraction:  a.Interaction,
	})
	if err != nil {
		return nil, FromStatus(err)
	}
	return Allowed(resp.GetDecision())
}

// Allowed is what one decision lets an enforcement point do: its
// obligations on an allow whose every obligation the consent service carried
// out; a *DeniedError otherwise.
func Allowed(dec *consentv1.Decision) ([]string, error) {
	if !dec.GetAllow() {
		return nil, &DeniedError{Reasons: dec.GetReasons(), EventID: dec.GetEventId()}
	}
	for _, o := range dec.GetObligations() {
		if !slices.Contains(dec.GetFulfilled(), o) {
			return nil, &DeniedError{Reasons: []string{fmt.Sprintf("obligation %s was not carried out: access withheld", o)}, EventID: dec.GetEventId()}
		}
	}
	return dec.GetObligations(), nil
}

// FromStatus is what a failed call to the consent service means to an
// enforcement point: its refusals of the question or the caller keep their
// meaning (invalid, denied); cancellation stays cancellation; anything else
// is unavailability, and so a deny.
func FromStatus(err error) error {
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

// ReasonDenied is the ErrorInfo reason of a denial.
const ReasonDenied = "ACCESS_DENIED"

// ErrorInfo is the google.rpc.ErrorInfo detail of a denial, in domain: the
// policy's reasons (one per line) and the access event that recorded it; nil
// for any other error.
func ErrorInfo(domain string, err error) *errdetails.ErrorInfo {
	var denied *DeniedError
	if !errors.As(err, &denied) {
		return nil
	}
	return &errdetails.ErrorInfo{Reason: ReasonDenied, Domain: domain, Metadata: map[string]string{
		"reasons": strings.Join(denied.Reasons, "\n"), "access_event_id": denied.EventID,
	}}
}
