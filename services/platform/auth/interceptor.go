package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// InterceptorOption configures the server interceptors.
type InterceptorOption func(*interceptorOptions) error

type interceptorOptions struct {
	public    map[string]bool
	delegated map[string]bool
	delegate  func(context.Context) bool
}

var fullMethodPattern = regexp.MustCompile(`^/[^/\s]+/[^/\s]+$`)

// WithPublicMethods lists full method names ("/grpc.health.v1.Health/Check")
// that are served without a token. The interceptor does not look at the
// token of a public call at all, so its handler sees no Principal.
func WithPublicMethods(fullMethods ...string) InterceptorOption {
	return func(o *interceptorOptions) error {
		for _, m := range fullMethods {
			if !fullMethodPattern.MatchString(m) {
				return fmt.Errorf("auth: public method %q is not a full method name like /package.Service/Method", m)
			}
			o.public[m] = true
		}
		return nil
	}
}

// WithDelegatedMethods lists full method names that a trusted service may
// call on behalf of a person it has authenticated itself, without a token:
// a call to one of them with no authorization header, from a caller that
// trusted says is such a service, reaches the handler without a Principal,
// and the handler takes who is acting from the request. Any other call,
// and any call that does send a token, is authenticated as usual.
func WithDelegatedMethods(trusted func(ctx context.Context) bool, fullMethods ...string) InterceptorOption {
	return func(o *interceptorOptions) error {
		if trusted == nil {
			return errors.New("auth: delegated methods need a trust check")
		}
		for _, m := range fullMethods {
			if !fullMethodPattern.MatchString(m) {
				return fmt.Errorf("auth: delegated method %q is not a full method name like /package.Service/Method", m)
			}
			o.delegated[m] = true
		}
		o.delegate = trusted
		return nil
	}
}

// delegatedCall reports whether a call may go on without a token: a
// delegated method, no authorization header, a trusted caller.
func (o *interceptorOptions) delegatedCall(ctx context.Context, method string) bool {
	if !o.delegated[method] {
		return false
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return len(md.Get(MetadataKey)) == 0 && o.delegate(ctx)
}

func newInterceptorOptions(v *Verifier, opts []InterceptorOption) *interceptorOptions {
	if v == nil {
		panic("auth: interceptor needs a Verifier")
	}
	o := &interceptorOptions{public: map[string]bool{}, delegated: map[string]bool{}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			panic(err)
		}
	}
	return o
}

// UnaryServerInterceptor verifies each call's bearer token and puts the
// Principal into the handler's context (see FromContext). A call without a
// valid token fails with codes.Unauthenticated and never reaches the handler,
// unless its method is public (WithPublicMethods). It panics on a nil
// Verifier or a bad option, so a misconfigured server stops at start-up.
func UnaryServerInterceptor(v *Verifier, opts ...InterceptorOption) grpc.UnaryServerInterceptor {
	o := newInterceptorOptions(v, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if o.public[info.FullMethod] || o.delegatedCall(ctx, info.FullMethod) {
			return handler(ctx, req)
		}
		ctx, err := authenticate(ctx, v)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls: the
// token is checked once, when the stream opens.
func StreamServerInterceptor(v *Verifier, opts ...InterceptorOption) grpc.StreamServerInterceptor {
	o := newInterceptorOptions(v, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if o.public[info.FullMethod] || o.delegatedCall(ss.Context(), info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, err := authenticate(ss.Context(), v)
		if err != nil {
			return err
		}
		return handler(srv, &principalStream{ServerStream: ss, ctx: ctx})
	}
}

type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *principalStream) Context() context.Context { return s.ctx }

// authenticate is the one place where a missing or bad token becomes a gRPC
// status: every failure, of any kind, is Unauthenticated.
func authenticate(ctx context.Context, v *Verifier) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	token, err := bearerFromMetadata(md)
	if err == nil {
		var p Principal
		if p, err = v.Verify(token); err == nil {
			return NewContext(ctx, p), nil
		}
	}
	if errors.Is(err, ErrMissingToken) {
		return nil, status.Errorf(codes.Unauthenticated, "%v; send metadata \"authorization: Bearer <jwt>\"", err)
	}
	return nil, status.Errorf(codes.Unauthenticated, "%v", err)
}
