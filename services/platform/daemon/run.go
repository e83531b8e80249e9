package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	runpprof "runtime/pprof"
	"time"

	"google.golang.org/grpc"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/serving"
	"healthexchange/services/platform/telemetry"
)

// Service is a built service: what the skeleton serves.
type Service struct {
	// Register registers the service's gRPC services on the server.
	Register func(grpc.ServiceRegistrar)
	// Gateway are their HTTP/JSON handlers (generated
	// Register...HandlerFromEndpoint); OpenAPI is served at /openapi.json.
	Gateway []serving.RegisterFunc
	OpenAPI []byte
	// Access is who may call which methods: public ones, the certificate
	// holders allowed (default: the service's gateway and the apps), and
	// the calls other services make on behalf of a person.
	Access serving.Access
	// Routes are HTTP handlers of the service's own on the gateway's server
	// (serving.GatewayConfig.Routes).
	Routes map[string]http.Handler
	// Limits, if set, replaces the daemon's size limits (a service that
	// takes larger messages says so here); the timeouts stay the daemon's.
	Limits *serving.Limits
	// Background run beside the servers, each in its own goroutine, until
	// the servers have stopped.
	Background []func(context.Context)
	// Close, if set, releases what the service holds, once the servers and
	// the background functions have stopped.
	Close func() error
	// Started are key-value pairs for the "service starting" log line.
	Started []any
	// NotReady starts the health service at NOT_SERVING; the service says
	// when it is ready with Platform.SetServing.
	NotReady bool
}

// BuildFunc builds a service from its platform. An error stops the start;
// what the platform opened is closed.
type BuildFunc func(ctx context.Context, p *Platform) (*Service, error)

// Run serves the service that build makes until ctx ends, then stops
// cleanly: health says NOT_SERVING, no new calls, calls in flight finish,
// the background functions stop, the service and its backends are closed.
func Run(ctx context.Context, cfg Config, build BuildFunc) (err error) {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("%s: cpu profile: %w", cfg.Name, err)
		}
		defer stop()
	}
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return fmt.Errorf("%s: %w", cfg.Name, err)
		}
	}
	shutdownTracing, err := telemetry.Setup(ctx, cfg.Tracing)
	if err != nil {
		return err
	}
	defer shutdownTracing(context.Background())
	verifier, err := auth.NewVerifier(cfg.Auth)
	if err != nil {
		return err
	}

	p := newPlatform(cfg, verifier)
	defer func() { err = errors.Join(err, p.close()) }()
	svc, err := build(ctx, p)
	if err != nil {
		return err
	}
	if svc.Close != nil {
		defer func() { err = errors.Join(err, svc.Close()) }()
	}
	if svc.NotReady {
		p.SetServing(false)
	}
	limits := cfg.Limits
	if svc.Limits != nil {
		// The service sizes its messages; the timeouts stay the daemon's.
		limits.MaxBody, limits.MaxRecvMsg, limits.MaxGatewaySend = svc.Limits.MaxBody, svc.Limits.MaxRecvMsg, svc.Limits.MaxGatewaySend
	}
	grpcServer, err := serving.NewGRPCServerWithHealth(cfg.TLS, verifier, p.health, svc.Access,
		grpc.MaxRecvMsgSize(limits.MaxRecvMsg))
	if err != nil {
		return err
	}
	svc.Register(grpcServer)
	httpServer, err := serving.Gateway(ctx, serving.GatewayConfig{
		Name: cfg.Name, TLS: cfg.TLS, GRPCAddr: cfg.GRPCAddr, OpenAPI: svc.OpenAPI,
		Register: svc.Gateway, Limits: limits, PublicPaths: svc.Access.PublicPaths, Routes: svc.Routes,
	})
	if err != nil {
		return err
	}
	background := svc.Background
	if verifier.FetchesKeys() {
		background = append(background, func(ctx context.Context) {
			verifier.RefreshKeysEvery(ctx, auth.DefaultJWKSRefresh, func(err error) {
				cfg.Log.Warn(cfg.Name+": token issuers' key sets not refreshed; the keys fetched before stay in use", "err", err)
			})
		})
	}
	if cfg.PprofAddr != "" {
		lis, err := net.Listen("tcp", cfg.PprofAddr)
		if err != nil {
			return fmt.Errorf("%s: pprof: %w", cfg.Name, err)
		}
		defer lis.Close()
		background = append(background, servePprof(lis))
	}
	return serving.Serve(ctx, serving.Servers{
		Name: cfg.Name, Log: cfg.Log,
		GRPC: grpcServer, Health: p.health, GRPCAddr: cfg.GRPCAddr,
		HTTP: httpServer, HTTPAddr: cfg.HTTPAddr,
		Listening: func() {
			cfg.Log.Info(cfg.Name+" service starting", append([]any{"grpc", cfg.GRPCAddr, "http", cfg.HTTPAddr}, svc.Started...)...)
		},
		Background: background,
	})
}

// startCPUProfile writes a CPU profile to path until the returned function
// is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := runpprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		runpprof.StopCPUProfile()
		f.Close()
	}, nil
}

// servePprof serves the profiling endpoints on lis until its context ends.
func servePprof(lis net.Listener) func(context.Context) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return func(ctx context.Context) {
		go func() {
			<-ctx.Done()
			srv.Close()
		}()
		srv.Serve(lis)
	}
}
