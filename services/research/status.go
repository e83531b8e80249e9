package research

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"healthexchange/services/platform/serving"
)

// statusCodes maps domain errors to gRPC codes; the first match wins.
var statusCodes = []serving.StatusCode{
	{Err: ErrInvalid, Code: codes.InvalidArgument},
	{Err: ErrDenied, Code: codes.PermissionDenied},
	{Err: ErrNotFound, Code: codes.NotFound},
	{Err: ErrNotReleased, Code: codes.FailedPrecondition},
	{Err: ErrUnavailable, Code: codes.Unavailable},
}

const (
	errorDomain  = "research.healthexchange"
	reasonDenied = "ACCESS_DENIED"
)

func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	return serving.ToStatus(ctx, log, err, statusCodes, func(err error) proto.Message {
		if errors.Is(err, ErrDenied) {
			return &errdetails.ErrorInfo{Reason: reasonDenied, Domain: errorDomain}
		}
		return nil
	})
}
