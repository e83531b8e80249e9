package ingest

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/ledger"
	"healthexchange/services/pep"
	"healthexchange/services/serving"
)

// statusCodes maps domain errors to gRPC codes; the first match wins.
var statusCodes = []serving.StatusCode{
	{Err: ErrInvalid, Code: codes.InvalidArgument},
	{Err: pep.ErrInvalid, Code: codes.InvalidArgument},
	{Err: ledgerapi.ErrInvalid, Code: codes.InvalidArgument},
	{Err: ErrDenied, Code: codes.PermissionDenied},
	{Err: ErrTampered, Code: codes.DataLoss},
	{Err: ErrNotAnchored, Code: codes.FailedPrecondition},
	{Err: ErrNotFound, Code: codes.NotFound},
	{Err: ledgerapi.ErrNotFound, Code: codes.NotFound},
	{Err: ledger.ErrUnavailable, Code: codes.Unavailable},
	{Err: pep.ErrUnavailable, Code: codes.Unavailable},
	{Err: ErrUnavailable, Code: codes.Unavailable},
}

// Error reasons in the google.rpc.ErrorInfo detail of a status.
const (
	errorDomain      = "ingest.healthexchange"
	reasonDenied     = "ACCESS_DENIED"
	reasonTampered   = "TAMPER_DETECTED"
	reasonUnanchored = "NOT_ANCHORED_YET"
)

func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	return serving.ToStatus(ctx, log, err, statusCodes, errorInfo)
}

// errorInfo is the machine-readable detail of the errors a client acts on.
func errorInfo(err error) proto.Message {
	var denied *DeniedError
	switch {
	case errors.As(err, &denied):
		return &errdetails.ErrorInfo{Reason: reasonDenied, Domain: errorDomain, Metadata: map[string]string{
			"reasons": strings.Join(denied.Reasons, "\n"), "access_event_id": denied.EventID,
		}}
	case errors.Is(err, ErrTampered):
		return &errdetails.ErrorInfo{Reason: reasonTampered, Domain: errorDomain}
	case errors.Is(err, ErrNotAnchored):
		return &errdetails.ErrorInfo{Reason: reasonUnanchored, Domain: errorDomain}
	}
	return nil
}
