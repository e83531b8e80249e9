package consent

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/ledger"
)

// statusCodes maps domain errors (this service's and the chaincode's, as the
// ledger client reports them) to gRPC codes. The first match wins.
var statusCodes = []struct {
	err  error
	code codes.Code
}{
	{ErrInvalid, codes.InvalidArgument},
	{ledgerapi.ErrInvalid, codes.InvalidArgument},
	{ErrPermission, codes.PermissionDenied},
	{ledgerapi.ErrForbidden, codes.PermissionDenied},
	{ledgerapi.ErrSignature, codes.PermissionDenied},
	{ErrNotFound, codes.NotFound},
	{ledgerapi.ErrNotFound, codes.NotFound},
	{ledgerapi.ErrExists, codes.AlreadyExists},
	{ErrAnswered, codes.FailedPrecondition},
	{ledgerapi.ErrNonce, codes.FailedPrecondition},
	{ledgerapi.ErrConflict, codes.FailedPrecondition},
	{ledger.ErrConflict, codes.Aborted},
	{ledger.ErrUnavailable, codes.Unavailable},
	{ErrNotRecorded, codes.Unavailable},
}

// toStatus is the one place errors become gRPC statuses. Context errors pass
// through; anything unknown is Internal, logged here and not shown.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	for _, m := range statusCodes {
		if errors.Is(err, m.err) {
			return status.Error(m.code, err.Error())
		}
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}
