package pep

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
)

type fakeDecider struct {
	decision *consentv1.Decision
	err      error
	got      *consentv1.AuthorizeRequest
}

func (f *fakeDecider) Authorize(_ context.Context, in *consentv1.AuthorizeRequest, _ ...grpc.CallOption) (*consentv1.AuthorizeResponse, error) {
	f.got = in
	if f.err != nil {
		return nil, f.err
	}
	return &consentv1.AuthorizeResponse{Decision: f.decision}, nil
}

func TestAuthorize(t *testing.T) {
	who := auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "StMarysMSP", Issuer: "https://idp.stmarys"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	access := Access{Action: "read", Purpose: "treatment", PatientID: "alice", Category: "vitals", RecordID: "r1"}
	for _, tc := range []struct {
		name        string
		decider     *fakeDecider
		wantErr     error
		obligations int
	}{
		{"allowed", &fakeDecider{decision: &consentv1.Decision{Allow: true, Obligations: []string{"log-access"}, Fulfilled: []string{"log-access"}}}, nil, 1},
		{"allowed, an obligation not carried out", &fakeDecider{decision: &consentv1.Decision{Allow: true,
			Obligations: []string{"log-access", "notify-patient"}, Fulfilled: []string{"log-access"}}}, ErrDenied, 0},
		{"allowed, an obligation nobody knows", &fakeDecider{decision: &consentv1.Decision{Allow: true,
			Obligations: []string{"log-access", "wire-money"}, Fulfilled: []string{"log-access"}}}, ErrDenied, 0},
		{"denied", &fakeDecider{decision: &consentv1.Decision{Reasons: []string{"no consent"}, EventId: "ev1"}}, ErrDenied, 0},
		{"no decision in the answer", &fakeDecider{decision: nil}, ErrDenied, 0},
		{"unreachable", &fakeDecider{err: status.Error(codes.Unavailable, "connection refused")}, ErrUnavailable, 0},
		{"not recorded", &fakeDecider{err: status.Error(codes.Unavailable, "the access event could not be recorded")}, ErrUnavailable, 0},
		{"internal", &fakeDecider{err: status.Error(codes.Internal, "internal error")}, ErrUnavailable, 0},
		{"token refused", &fakeDecider{err: status.Error(codes.Unauthenticated, "token expired")}, ErrDenied, 0},
		{"malformed question", &fakeDecider{err: status.Error(codes.InvalidArgument, "bad category")}, ErrInvalid, 0},
		{"deadline", &fakeDecider{err: status.Error(codes.DeadlineExceeded, "deadline")}, context.DeadlineExceeded, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obligations, err := Authorize(ctx, tc.decider, who, access)
			if tc.wantErr == nil {
				if err != nil || len(obligations) != tc.obligations {
					t.Fatalf("Authorize = %v, %v; want allowed with %d obligations", obligations, err, tc.obligations)
				}
			} else if !errors.Is(err, tc.wantErr) || obligations != nil {
				t.Fatalf("Authorize = %v, %v; want %v and nothing allowed", obligations, err, tc.wantErr)
			}
			r, on := tc.decider.got.GetResource(), tc.decider.got.GetOnBehalfOf()
			if tc.decider.got.GetAction() != "read" || r.GetPatientId() != "alice" || r.GetCategory() != "vitals" || r.GetRecordId() != "r1" {
				t.Errorf("asked %v", tc.decider.got)
			}
			if on.GetId() != who.Subject || on.GetOrg() != who.Org || on.GetRole() != string(who.Role) || on.GetIssuer() != who.Issuer {
				t.Errorf("on behalf of %v, want the verified caller %+v", on, who)
			}
		})
	}
	var denied *DeniedError
	_, err := Authorize(ctx, &fakeDecider{decision: &consentv1.Decision{Reasons: []string{"a", "b"}, EventId: "ev9"}}, who, access)
	if !errors.As(err, &denied) || denied.EventID != "ev9" || err.Error() != "access denied: a; b" {
		t.Fatalf("denial = %v", err)
	}
}

// Without a verified caller there is no one to ask for: denied, and the
// consent service is not asked at all.
func TestAuthorizeWithoutCaller(t *testing.T) {
	d := &fakeDecider{decision: &consentv1.Decision{Allow: true}}
	_, err := Authorize(context.Background(), d, auth.Principal{}, Access{Action: "read", PatientID: "alice", Category: "labs", Purpose: "treatment"})
	if !errors.Is(err, ErrDenied) || d.got != nil {
		t.Fatalf("Authorize = %v, asked %v; want denied without asking", err, d.got)
	}
}
