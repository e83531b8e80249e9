package records

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/pep"
	"healthexchange/services/platform/serving"
	"healthexchange/services/platform/vault"
)

// statusCodes maps domain errors (this service's, the ledger's, the vault's)
// to gRPC codes. The first match wins.
var statusCodes = []serving.StatusCode{
	{Err: ErrInvalid, Code: codes.InvalidArgument},
	{Err: ledgerapi.ErrInvalid, Code: codes.InvalidArgument},
	{Err: ErrDenied, Code: codes.PermissionDenied},
	{Err: ledgerapi.ErrForbidden, Code: codes.PermissionDenied},
	{Err: ledgerapi.ErrSignature, Code: codes.PermissionDenied},
	{Err: ledgerapi.ErrNonce, Code: codes.FailedPrecondition},
	{Err: ErrTampered, Code: codes.DataLoss},
	{Err: ErrErased, Code: codes.NotFound},
	{Err: vault.ErrErased, Code: codes.NotFound},
	{Err: ErrNotFound, Code: codes.NotFound},
	{Err: ledgerapi.ErrNotFound, Code: codes.NotFound},
	{Err: ErrIdempotencyKey, Code: codes.FailedPrecondition},
	{Err: ErrStale, Code: codes.Aborted},
	{Err: ledgerapi.ErrExists, Code: codes.AlreadyExists},
	{Err: ledgerapi.ErrConflict, Code: codes.FailedPrecondition},
	{Err: ledger.ErrConflict, Code: codes.Aborted},
	{Err: ledger.ErrUnavailable, Code: codes.Unavailable},
	{Err: ErrUnavailable, Code: codes.Unavailable},
	{Err: pep.ErrInvalid, Code: codes.InvalidArgument},
	{Err: pep.ErrUnavailable, Code: codes.Unavailable},
}

// Error reasons in the google.rpc.ErrorInfo detail of a status.
const (
	errorDomain        = "records.healthexchange"
	reasonTampered     = "TAMPER_DETECTED"
	reasonErased       = "PATIENT_ERASED"
	reasonIdempotency  = "IDEMPOTENCY_KEY_REUSED"
	reasonStaleVersion = "STALE_VERSION"
)

// toStatus is the one place errors become gRPC statuses. Context errors pass
// through; anything unknown is Internal, logged here and not shown. A
// denial carries the policy's reasons and its access event id in an
// ErrorInfo detail.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	return serving.ToStatus(ctx, log, err, statusCodes, errorInfo)
}

// errorInfo is the machine-readable detail of the errors a client acts on.
func errorInfo(err error) proto.Message {
	if info := pep.ErrorInfo(errorDomain, err); info != nil {
		return info
	}
	switch {
	case errors.Is(err, ErrTampered):
		return &errdetails.ErrorInfo{Reason: reasonTampered, Domain: errorDomain}
	case errors.Is(err, ErrErased), errors.Is(err, vault.ErrErased):
		return &errdetails.ErrorInfo{Reason: reasonErased, Domain: errorDomain}
	case errors.Is(err, ErrIdempotencyKey):
		return &errdetails.ErrorInfo{Reason: reasonIdempotency, Domain: errorDomain}
	case errors.Is(err, ErrStale):
		return &errdetails.ErrorInfo{Reason: reasonStaleVersion, Domain: errorDomain}
	}
	return nil
}
