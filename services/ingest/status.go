package ingest

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
	reasonTampered   = "TAMPER_DETECTED"
	reasonUnanchored = "NOT_ANCHORED_YET"
)

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
	case errors.Is(err, ErrNotAnchored):
		return &errdetails.ErrorInfo{Reason: reasonUnanchored, Domain: errorDomain}
	}
	return nil
}
