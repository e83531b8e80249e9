package serving

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/mtls"
)

// NewGRPCServer is a service's gRPC server: mutual TLS with the service's
// files, traced, and every call authenticated by verifier except the health
// checks and the public methods (full method names). The health service is
// registered; the caller registers its own and hands both to Serve.
func NewGRPCServer(tls TLSFiles, verifier *auth.Verifier, public []string, opts ...grpc.ServerOption) (*grpc.Server, *health.Server, error) {
	h := health.NewServer()
	g, err := NewGRPCServerWithHealth(tls, verifier, h, public, opts...)
	return g, h, err
}

// NewGRPCServerWithHealth is NewGRPCServer with a health service the caller
// made (and may set NOT_SERVING while the service is not ready).
func NewGRPCServerWithHealth(tls TLSFiles, verifier *auth.Verifier, h *health.Server, public []string, opts ...grpc.ServerOption) (*grpc.Server, error) {
	serverTLS, err := mtls.ServerConfig(tls.CertFile, tls.KeyFile, tls.CAFile)
	if err != nil {
		return nil, err
	}
	publicMethods := auth.WithPublicMethods(append([]string{
		healthpb.Health_Check_FullMethodName, healthpb.Health_Watch_FullMethodName,
	}, public...)...)
	g := grpc.NewServer(append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(serverTLS)),
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(verifier, publicMethods)),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(verifier, publicMethods)),
	}, opts...)...)
	healthpb.RegisterHealthServer(g, h)
	return g, nil
}
