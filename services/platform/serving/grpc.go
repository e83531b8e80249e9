package serving

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/mtls"
)

// Access is who may call a service's gRPC methods, and how.
type Access struct {
	// Public are full method names served without a token (the health
	// checks always are); PublicPaths their HTTP/JSON paths on the gateway.
	Public      []string
	PublicPaths []string
	// Callers are the certificate holders allowed per method (nil:
	// DefaultCallers).
	Callers Callers
	// Delegated are full method names that the services in Delegates may
	// call without a token, on behalf of a person they authenticated (see
	// auth.WithDelegatedMethods); Delegates are those services' names.
	Delegated []string
	Delegates []string
}

// NewGRPCServer is a service's gRPC server: mutual TLS with the service's
// files, traced, every call's caller checked against the access rules (by
// the identity its certificate names) and authenticated by verifier except
// the health checks, the public methods and the delegated calls. The health
// service is registered; the caller registers its own and hands both to
// Serve.
func NewGRPCServer(tls TLSFiles, verifier *auth.Verifier, access Access, opts ...grpc.ServerOption) (*grpc.Server, *health.Server, error) {
	h := health.NewServer()
	g, err := NewGRPCServerWithHealth(tls, verifier, h, access, opts...)
	return g, h, err
}

// NewGRPCServerWithHealth is NewGRPCServer with a health service the caller
// made (and may set NOT_SERVING while the service is not ready).
func NewGRPCServerWithHealth(tls TLSFiles, verifier *auth.Verifier, h *health.Server, access Access, opts ...grpc.ServerOption) (*grpc.Server, error) {
	serverTLS, err := mtls.ServerConfig(tls.CertFile, tls.KeyFile, tls.CAFile)
	if err != nil {
		return nil, err
	}
	self, err := mtls.FileIdentity(tls.CertFile)
	if err != nil {
		return nil, fmt.Errorf("the service's own certificate %s: %w", tls.CertFile, err)
	}
	callers := access.Callers
	if callers == nil {
		callers = DefaultCallers()
	}
	if err := callers.Validate(); err != nil {
		return nil, err
	}
	authOpts := []auth.InterceptorOption{auth.WithPublicMethods(append([]string{
		healthpb.Health_Check_FullMethodName, healthpb.Health_Watch_FullMethodName,
	}, access.Public...)...)}
	if len(access.Delegated) > 0 {
		authOpts = append(authOpts, auth.WithDelegatedMethods(IsCalledBy(access.Delegates...), access.Delegated...))
	}
	g := grpc.NewServer(append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(serverTLS)),
		// A client may ping every 10 s at most (a faster one is cut off);
		// idle connections close after 5 minutes, and a peer that stops
		// answering pings within 20 s is dropped.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute, Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.MaxConcurrentStreams(256),
		// Calls run on long-lived workers: a policy evaluation recurses
		// deeply, and a fresh goroutine per call spent a quarter of the
		// decision service's CPU growing its stack (runtime.copystack).
		grpc.NumStreamWorkers(streamWorkers()),
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(callers.unary(self), auth.UnaryServerInterceptor(verifier, authOpts...)),
		grpc.ChainStreamInterceptor(callers.stream(self), auth.StreamServerInterceptor(verifier, authOpts...)),
	}, opts...)...)
	healthpb.RegisterHealthServer(g, h)
	return g, nil
}

// IsCalledBy reports whether a call comes from one of the named services
// (by the identity its certificate names).
func IsCalledBy(services ...string) func(ctx context.Context) bool {
	return func(ctx context.Context) bool {
		id, err := mtls.PeerIdentity(ctx)
		return err == nil && id.Kind == mtls.KindService && slices.Contains(services, id.Name)
	}
}

// streamWorkers is how many goroutines serve calls (more calls than that
// get a goroutine of their own): enough for the concurrent calls of a busy
// enforcement point (32 in the decision benchmark) on every core.
func streamWorkers() uint32 {
	return uint32(64 * runtime.GOMAXPROCS(0))
}
