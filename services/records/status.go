package records

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/ledger"
	"healthexchange/services/vault"
)

// statusCodes maps domain errors (this service's, the ledger's, the vault's)
// to gRPC codes. The first match wins.
var statusCodes = []struct {
	err  error
	code codes.Code
}{
	{ErrInvalid, codes.InvalidArgument},
	{ledgerapi.ErrInvalid, codes.InvalidArgument},
	{ErrDenied, codes.PermissionDenied},
	{ledgerapi.ErrForbidden, codes.PermissionDenied},
	{ErrTampered, codes.DataLoss},
	{ErrErased, codes.NotFound},
	{vault.ErrErased, codes.NotFound},
	{ErrNotFound, codes.NotFound},
	{ledgerapi.ErrNotFound, codes.NotFound},
	{ErrIdempotencyKey, codes.FailedPrecondition},
	{ErrStale, codes.Aborted},
	{ledgerapi.ErrExists, codes.AlreadyExists},
	{ledgerapi.ErrConflict, codes.FailedPrecondition},
	{ledger.ErrConflict, codes.Aborted},
	{ledger.ErrUnavailable, codes.Unavailable},
	{ErrUnavailable, codes.Unavailable},
}

// Error reasons in the google.rpc.ErrorInfo detail of a status.
const (
	errorDomain        = "records.healthexchange"
	reasonDenied       = "ACCESS_DENIED"
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
		if !errors.Is(err, m.err) {
			continue
		}
		st := status.New(m.code, err.Error())
		if info := errorInfo(err); info != nil {
			if withInfo, derr := st.WithDetails(info); derr == nil {
				st = withInfo
			}
		}
		return st.Err()
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}

// errorInfo is the machine-readable detail of the errors a client acts on.
func errorInfo(err error) *errdetails.ErrorInfo {
	var denied *DeniedError
	switch {
	case errors.As(err, &denied):
		return &errdetails.ErrorInfo{Reason: reasonDenied, Domain: errorDomain, Metadata: map[string]string{
			"reasons": strings.Join(denied.Reasons, "\n"), "access_event_id": denied.EventID,
		}}
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
