package serving

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"healthexchange/services/platform/mtls"
)

// RegisterFunc registers a gRPC service's HTTP/JSON handlers on the
// gateway: a generated Register...HandlerFromEndpoint.
type RegisterFunc func(ctx context.Context, mux *runtime.ServeMux, endpoint string, opts []grpc.DialOption) error

// GatewayConfig is a service's HTTP/JSON gateway.
type GatewayConfig struct {
	// Name is the service's name, in errors.
	Name string
	// TLS are the service's files: the gateway serves TLS with its
	// certificate (no client certificate asked) and calls the gRPC server
	// with it as a client certificate.
	TLS TLSFiles
	// GRPCAddr is the service's own gRPC server.
	GRPCAddr string
	// OpenAPI is served at GET /openapi.json.
	OpenAPI []byte
	// Register are the service's gRPC services, served as HTTP/JSON.
	Register []RegisterFunc
	// Limits bound a request's body, the message sent on and the
	// connection's timeouts.
	Limits Limits
	// PublicPaths are the paths served without a token (exact, e.g.
	// /v1/records:verify). Every other request without an Authorization
	// header is refused (401) before its body is read.
	PublicPaths []string
	// Routes are handlers of the service's own beside the gateway's, by
	// http.ServeMux pattern ("GET /v1/notifications/events"); each checks
	// its caller itself.
	Routes map[string]http.Handler
}

// Gateway is the HTTP/JSON face of a service: it calls the gRPC server over
// loopback with the service's own client certificate, forwarding the
// caller's Authorization header, and serves the OpenAPI document. Serve
// serves it.
func Gateway(ctx context.Context, c GatewayConfig) (*http.Server, error) {
	if err := c.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("%s gateway: %w", c.Name, err)
	}
	serverTLS, err := mtls.ServerConfig(c.TLS.CertFile, c.TLS.KeyFile, "")
	if err != nil {
		return nil, err
	}
	clientTLS, err := mtls.ClientConfig(c.TLS.CAFile, c.TLS.CertFile, c.TLS.KeyFile, "")
	if err != nil {
		return nil, err
	}
	mux := runtime.NewServeMux(runtime.WithOutgoingHeaderMatcher(func(key string) (string, bool) {
		if key == "retry-after" { // a rate limit's wait, as HTTP says it
			return "Retry-After", true
		}
		return runtime.MetadataHeaderPrefix + key, true
	}))
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(c.Limits.MaxGatewaySend)),
	}
	for _, register := range c.Register {
		if err := register(ctx, mux, c.GRPCAddr, opts); err != nil {
			return nil, fmt.Errorf("%s gateway: %w", c.Name, err)
		}
	}
	root := http.NewServeMux()
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(c.OpenAPI)
	})
	for pattern, h := range c.Routes {
		root.Handle(pattern, h)
	}
	root.Handle("/", requireBearer(c.PublicPaths, http.MaxBytesHandler(mux, c.Limits.MaxBody)))
	return &http.Server{
		Handler:           root,
		TLSConfig:         serverTLS,
		ReadHeaderTimeout: c.Limits.ReadHeaderTimeout,
		ReadTimeout:       c.Limits.ReadTimeout,
		IdleTimeout:       c.Limits.IdleTimeout,
	}, nil
}

// requireBearer refuses, with 401 and before reading a byte of the body, a
// request for a path not in public that carries no bearer token: a caller
// without one cannot make the gateway buffer anything. The token itself is
// verified by the gRPC server behind.
func requireBearer(public []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(public, r.URL.Path) {
			scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
				w.Header().Set("WWW-Authenticate", "Bearer")
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"code":16,"message":"a bearer token is required (Authorization: Bearer <jwt>)","details":[]}`))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
