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

func requirePrivacy(ctx context.Context) error {
	ri, _ := credentials.RequestInfoFromContext(ctx)
	if err := credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
		return status.Errorf(codes.Unauthenticated, "auth: refusing to send a bearer token without transport security: %v", err)
	}
	return nil
}
