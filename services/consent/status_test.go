package consent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/durable"
	"healthexchange/services/platform/ledger"
)

func rejected(reason error) error {
	return &ledger.Error{Function: "consents:Grant", Kind: ledger.ErrRejected, Reason: reason, Message: reason.Error() + ": details"}
}

func TestToStatus(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode codes.Code
		// wantMsg is a substring of the status message.
		wantMsg string
	}{
		{"service: invalid", fmt.Errorf("%w: page_size must be between 1 and 100", ErrInvalid), codes.InvalidArgument, "page_size"},
		{"service: permission", fmt.Errorf("%w: role clinician may not make this call", ErrPermission), codes.PermissionDenied, "role clinician"},
		{"service: not found", fmt.Errorf("%w: access request req-1", ErrNotFound), codes.NotFound, "req-1"},
		{"service: answered", fmt.Errorf("%w: req-1 is approved", ErrAnswered), codes.FailedPrecondition, "req-1 is approved"},
		{"service: not recorded", fmt.Errorf("%w: %w", ErrNotRecorded, durable.ErrClosed), codes.Unavailable, "could not be recorded"},
		{"payload: invalid", fmt.Errorf("%w: consentId must be ...", ledgerapi.ErrInvalid), codes.InvalidArgument, "consentId"},
		{"payload: bad signature", fmt.Errorf("%w: signature does not match", ledgerapi.ErrSignature), codes.PermissionDenied, "signature"},
		{"chaincode: invalid", rejected(ledgerapi.ErrInvalid), codes.InvalidArgument, "invalid input"},
		{"chaincode: signature", rejected(ledgerapi.ErrSignature), codes.PermissionDenied, "signature rejected"},
		{"chaincode: forbidden", rejected(ledgerapi.ErrForbidden), codes.PermissionDenied, "forbidden"},
		{"chaincode: not found", rejected(ledgerapi.ErrNotFound), codes.NotFound, "not found"},
		{"chaincode: exists", rejected(ledgerapi.ErrExists), codes.AlreadyExists, "already registered"},
		{"chaincode: nonce", rejected(ledgerapi.ErrNonce), codes.FailedPrecondition, "nonce"},
		{"chaincode: conflict", rejected(ledgerapi.ErrConflict), codes.FailedPrecondition, "conflicts with the ledger"},
		{"ledger: invalidated at commit", &ledger.Error{Function: "consents:Grant", Kind: ledger.ErrConflict, Message: "MVCC_READ_CONFLICT"}, codes.Aborted, "MVCC_READ_CONFLICT"},
		{"ledger: unavailable", &ledger.Error{Function: "consents:Grant", Kind: ledger.ErrUnavailable, Message: "connection refused"}, codes.Unavailable, "ledger unavailable"},
		{"wrapped ledger error", fmt.Errorf("grant: %w", rejected(ledgerapi.ErrNonce)), codes.FailedPrecondition, "nonce"},
		{"context canceled", fmt.Errorf("ledger: %w", context.Canceled), codes.Canceled, "canceled"},
		{"deadline exceeded", fmt.Errorf("consent view: waiting: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "deadline exceeded"},
		{"context error wins over a domain error", fmt.Errorf("%w: %w", ErrNotRecorded, context.Canceled), codes.Canceled, "canceled"},
		{"unknown error", errors.New("open /var/lib/consent/secret-path: permission denied"), codes.Internal, "internal error"},
		{"chaincode refusal without a known reason", &ledger.Error{Function: "consents:Grant", Kind: ledger.ErrRejected, Message: "Function Grnt not found"}, codes.Internal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := bufferLog()
			got := toStatus(context.Background(), log, tt.err)
			st, ok := status.FromError(got)
			if !ok {
				t.Fatalf("toStatus = %v, not a gRPC status", got)
			}
			if st.Code() != tt.wantCode {
				t.Errorf("code = %v, want %v (message %q)", st.Code(), tt.wantCode, st.Message())
			}
			if !strings.Contains(st.Message(), tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", st.Message(), tt.wantMsg)
			}
			if tt.wantCode == codes.Internal {
				if st.Message() != "internal error" {
					t.Errorf("internal message = %q, want exactly %q (no details leak)", st.Message(), "internal error")
				}
				if !strings.Contains(buf.String(), tt.err.Error()) {
					t.Errorf("the internal error was not logged with its cause; log: %q", buf.String())
				}
			}
		})
	}
	t.Run("nil is nil", func(t *testing.T) {
		if err := toStatus(context.Background(), discardLog(), nil); err != nil {
			t.Fatalf("toStatus(nil) = %v", err)
		}
	})
}
