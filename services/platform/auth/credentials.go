package auth

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// Bearer returns call credentials that send token as "authorization: Bearer
// <token>" on every call (grpc.WithPerRPCCredentials or grpc.PerRPCCredentials).
// They require transport security: gRPC refuses to send them over a
// connection without TLS, and so do they.
func Bearer(token string) credentials.PerRPCCredentials { return bearer{token: token} }

type bearer struct{ token string }

func (b bearer) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if err := requirePrivacy(ctx); err != nil {
		return nil, err
	}
	if b.token == "" {
		return nil, status.Error(codes.Unauthenticated, "auth: no bearer token to send")
	}
	if !isToken68(b.token) {
		return nil, status.Error(codes.Unauthenticated, "auth: bearer token has characters a JWT cannot have")
	}
	return map[string]string{MetadataKey: "Bearer " + b.token}, nil
}

func (bearer) RequireTransportSecurity() bool { return true }

// ForwardBearer returns call credentials that send, on each outgoing call,
// the bearer token of the incoming request whose context the call was made
// with, so a service can call the decision service as the user. A call
// made with a context that has no incoming token fails with
// codes.Unauthenticated. Like Bearer, they require transport security.
func ForwardBearer() credentials.PerRPCCredentials { return forwardBearer{} }

type forwardBearer struct{}

func (forwardBearer) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if err := requirePrivacy(ctx); err != nil {
		return nil, err
	}
	token, err := BearerFromContext(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "auth: forward bearer token: %v", err)
	}
	return map[string]string{MetadataKey: "Bearer " + token}, nil
}

func (forwardBearer) RequireTransportSecurity() bool { return true }

func requirePrivacy(ctx context.Context) error {
	ri, _ := credentials.RequestInfoFromContext(ctx)
	if err := credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
		return status.Errorf(codes.Unauthenticated, "auth: refusing to send a bearer token without transport security: %v", err)
	}
	return nil
}
