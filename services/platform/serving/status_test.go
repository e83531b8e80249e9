package serving

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

var (
	errInvalid  = errors.New("invalid")
	errNotFound = errors.New("not found")
	errGone     = errors.New("gone")
)

// table maps errGone twice: the first entry must win.
var table = []StatusCode{
	{Err: errInvalid, Code: codes.InvalidArgument},
	{Err: errGone, Code: codes.NotFound},
	{Err: errNotFound, Code: codes.NotFound},
	{Err: errGone, Code: codes.FailedPrecondition},
}

// goneInfo details errGone only.
func goneInfo(err error) proto.Message {
	if errors.Is(err, errGone) {
		return &errdetails.ErrorInfo{Reason: "GONE", Domain: "test"}
	}
	return nil
}

func TestToStatus(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		details  func(error) proto.Message
		wantCode codes.Code
		// wantMsg is the status message exactly; wantReason the ErrorInfo
		// detail's reason (empty: no detail).
		wantMsg    string
		wantReason string
	}{
		{"mapped", fmt.Errorf("%w: page size 0", errInvalid), nil, codes.InvalidArgument, "invalid: page size 0", ""},
		{"mapped through wrapping", fmt.Errorf("get: %w", fmt.Errorf("%w: record r1", errNotFound)), nil, codes.NotFound, "get: not found: record r1", ""},
		{"first match wins", errGone, nil, codes.NotFound, "gone", ""},
		{"first of several sentinels in the table wins", fmt.Errorf("%w: %w", errNotFound, errInvalid), nil, codes.InvalidArgument, "not found: invalid", ""},
		{"canceled", fmt.Errorf("ledger: %w", context.Canceled), nil, codes.Canceled, "canceled", ""},
		{"deadline", fmt.Errorf("ledger: %w", context.DeadlineExceeded), nil, codes.DeadlineExceeded, "deadline exceeded", ""},
		{"context error wins over a mapped one", fmt.Errorf("%w: %w", errInvalid, context.Canceled), nil, codes.Canceled, "canceled", ""},
		{"detail attached", fmt.Errorf("%w: patient p1", errGone), goneInfo, codes.NotFound, "gone: patient p1", "GONE"},
		{"no detail for this error", errInvalid, goneInfo, codes.InvalidArgument, "invalid", ""},
		{"unknown is internal", errors.New("open /var/lib/secret-path: permission denied"), goneInfo, codes.Internal, "internal error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			got := ToStatus(context.Background(), log, tt.err, table, tt.details)
			st, ok := status.FromError(got)
			if !ok {
				t.Fatalf("ToStatus = %v, not a gRPC status", got)
			}
			if st.Code() != tt.wantCode || st.Message() != tt.wantMsg {
				t.Errorf("ToStatus = %v %q, want %v %q", st.Code(), st.Message(), tt.wantCode, tt.wantMsg)
			}
			var reason string
			for _, d := range st.Details() {
				if info, ok := d.(*errdetails.ErrorInfo); ok {
					reason = info.GetReason()
				}
			}
			if reason != tt.wantReason {
				t.Errorf("detail reason = %q, want %q", reason, tt.wantReason)
			}
			logged := strings.Contains(logs.String(), tt.err.Error())
			if internal := tt.wantCode == codes.Internal; logged != internal {
				t.Errorf("logged the error: %v, want %v; log: %q", logged, internal, logs.String())
			}
		})
	}
	t.Run("nil is nil", func(t *testing.T) {
		if err := ToStatus(context.Background(), slog.New(slog.DiscardHandler), nil, table, goneInfo); err != nil {
			t.Fatalf("ToStatus(nil) = %v", err)
		}
	})
}
