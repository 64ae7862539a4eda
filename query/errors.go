package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tapline/tapline/store"
)

// ClickHouse error codes the API maps to something better than Internal.
const (
	chTimeoutExceeded     = 159
	chTooManyRows         = 158
	chTooManyBytes        = 307
	chMemoryLimitExceeded = 241
	chQueryWasCancelled   = 394
	chNetworkError        = 210
	chSocketTimeout       = 209
)

// violations collects field violations of one request; err turns them into
// an InvalidArgument status with errdetails.BadRequest.
type violations []*errdetails.BadRequest_FieldViolation

func (v *violations) add(field, format string, args ...any) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	st := status.New(codes.InvalidArgument, "invalid request: "+v[0].Field+": "+v[0].Description)
	detailed, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: v})
	if err != nil {
		return st.Err()
	}
	return detailed.Err()
}

// invalid is a one-violation InvalidArgument error.
func invalid(field, format string, args ...any) error {
	var v violations
	v.add(field, format, args...)
	return v.err()
}

// engineError maps an error from the engine to a gRPC status; what is not
// the caller's fault is logged and reported without ClickHouse's words.
func engineError(ctx context.Context, logger *slog.Logger, what string, err error) error {
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
		return err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, what+": query took longer than the configured timeout")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, what+": canceled")
	case errors.Is(err, store.ErrClosed):
		return status.Error(codes.Unavailable, what+": storage is shutting down")
	}
	switch store.ErrorCode(err) {
	case chTimeoutExceeded:
		return status.Error(codes.DeadlineExceeded, what+": query took longer than the configured timeout")
	case chQueryWasCancelled:
		return status.Error(codes.Canceled, what+": canceled")
	case chTooManyRows, chTooManyBytes, chMemoryLimitExceeded:
		return status.Error(codes.ResourceExhausted, what+": query too expensive; narrow the time range or add filters")
	case chNetworkError, chSocketTimeout:
		return status.Error(codes.Unavailable, what+": storage unavailable")
	}
	logger.ErrorContext(ctx, "query failed", "what", what, "err", err)
	return status.Error(codes.Internal, what+": internal error")
}
