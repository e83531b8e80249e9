package consent

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/serving"
)

// statusCodes maps domain errors (this service's and the chaincode's, as the
// ledger client reports them) to gRPC codes. The first match wins.
var statusCodes = []serving.StatusCode{
	{Err: ErrInvalid, Code: codes.InvalidArgument},
	{Err: ledgerapi.ErrInvalid, Code: codes.InvalidArgument},
	{Err: ErrPermission, Code: codes.PermissionDenied},
	{Err: ledgerapi.ErrForbidden, Code: codes.PermissionDenied},
	{Err: ledgerapi.ErrSignature, Code: codes.PermissionDenied},
	{Err: ErrNotFound, Code: codes.NotFound},
	{Err: ledgerapi.ErrNotFound, Code: codes.NotFound},
	{Err: ledgerapi.ErrExists, Code: codes.AlreadyExists},
	{Err: ErrAnswered, Code: codes.FailedPrecondition},
	{Err: ledgerapi.ErrNonce, Code: codes.FailedPrecondition},
	{Err: ledgerapi.ErrConflict, Code: codes.FailedPrecondition},
	{Err: ledger.ErrConflict, Code: codes.Aborted},
	{Err: ledger.ErrUnavailable, Code: codes.Unavailable},
	{Err: ErrNotRecorded, Code: codes.Unavailable},
	{Err: ErrUnavailable, Code: codes.Unavailable},
	{Err: ErrUnauthenticated, Code: codes.Unauthenticated},
	{Err: ErrNotInForce, Code: codes.Unavailable},
}

// toStatus is the one place errors become gRPC statuses. Context errors pass
// through; anything unknown is Internal, logged here and not shown.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	return serving.ToStatus(ctx, log, err, statusCodes, nil)
}
