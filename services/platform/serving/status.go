package serving

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// StatusCode maps a domain error (and whatever wraps it) to a gRPC code.
type StatusCode struct {
	Err  error
	Code codes.Code
}

// ToStatus is how a service's errors become gRPC statuses, at the server
// edge. Context errors pass through as Canceled and DeadlineExceeded, a
// rate limit's ResourceExhausted as it is; else
// the first entry of table that err matches (errors.Is) gives the code, the
// message is err's, and details (if not nil) may add a machine-readable
// detail (nil: none). Anything else is Internal: logged here, and the
// caller is told only "internal error".
func ToStatus(ctx context.Context, log *slog.Logger, err error, table []StatusCode, details func(error) proto.Message) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case status.Code(err) == codes.ResourceExhausted:
		return err // a rate limit's answer (Limiter.Throttle), as it is
	}
	for _, m := range table {
		if !errors.Is(err, m.Err) {
			continue
		}
		st := status.New(m.Code, err.Error())
		if details != nil {
			if d := details(err); d != nil {
				if withDetail, derr := st.WithDetails(protoadapt.MessageV1Of(d)); derr == nil {
					st = withDetail
				}
			}
		}
		return st.Err()
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}
