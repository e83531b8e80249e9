package consent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/auth"
	"healthexchange/services/durable"
	"healthexchange/services/ledger"
	"healthexchange/services/mtls"
	"healthexchange/services/policy"
	"healthexchange/services/telemetry"
)

// Run serves the consent service until ctx ends, then stops cleanly: no new
// calls, calls in flight finish, access events are flushed (or stay in the
// journal for the next start), the view's snapshot is saved.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
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
	engine, err := policy.New(ctx)
	if err != nil {
		return err
	}
	lc, err := ledger.Dial(cfg.Ledger)
	if err != nil {
		return err
	}
	defer lc.Close()

	view := NewView()
	if err := loadSnapshot(filepath.Join(cfg.StateDir, "view.json"), view); err != nil {
		return err
	}
	journal, err := durable.OpenJournal[ledgerapi.AccessEvent](filepath.Join(cfg.StateDir, "access-events"))
	if err != nil {
		return err
	}
	defer journal.Close()
	requests, err := openRequests(filepath.Join(cfg.StateDir, "access-requests.json"))
	if err != nil {
		return err
	}
	svc := &service{
		ledger: lc, view: view, policy: engine, journal: journal, requests: requests,
		now: time.Now, log: cfg.Log, awaitView: cfg.AwaitView,
		shipper: &shipper{journal: journal, sink: lc, every: cfg.FlushEvery, batch: cfg.EventBatch, kick: make(chan struct{}, 1), log: cfg.Log},
	}
	cfg.Log.Info("consent service starting", "grpc", cfg.GRPCAddr, "http", cfg.HTTPAddr,
		"view_next_block", view.Checkpoint().Next, "pending_access_events", journal.Len())

	serverTLS, err := mtls.ServerConfig(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.CAFile)
	if err != nil {
		return err
	}
	public := auth.WithPublicMethods(healthpb.Health_Check_FullMethodName, healthpb.Health_Watch_FullMethodName)
	grpcServer := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(serverTLS)),
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(verifier, public)),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(verifier, public)),
	)
	consentv1.RegisterConsentServiceServer(grpcServer, &patientAPI{service: svc})
	consentv1.RegisterDecisionServiceServer(grpcServer, &decisionAPI{service: svc})
	healthServer := health.NewServer()
	healthpb.RegisterHealthServer(grpcServer, healthServer)

	grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("consent: %w", err)
	}
	httpServer, err := gateway(ctx, cfg)
	if err != nil {
		grpcLis.Close()
		return err
	}
	httpLis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("consent: %w", err)
	}

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	f := &follower{src: lc, view: view, snapshotPath: filepath.Join(cfg.StateDir, "view.json"),
		retry: cfg.Retry, saveEvery: cfg.SaveViewEvery, log: cfg.Log}
	wg.Go(func() { f.run(bg) })
	wg.Go(func() { svc.shipper.run(bg) })

	errc := make(chan error, 2)
	go func() { errc <- grpcServer.Serve(grpcLis) }()
	go func() { errc <- httpServer.ServeTLS(httpLis, "", "") }()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		runErr = fmt.Errorf("consent: server stopped: %w", runErr)
	}
	cfg.Log.Info("consent service stopping")
	healthServer.Shutdown()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	httpServer.Shutdown(shutdownCtx)
	grpcServer.GracefulStop()
	stopBackground()
	wg.Wait()
	return runErr
}

// gateway is the HTTP/JSON face of both services: it calls the gRPC server
// over loopback with the service's own client certificate, forwarding the
// caller's Authorization header, and serves the OpenAPI document.
func gateway(ctx context.Context, cfg Config) (*http.Server, error) {
	serverTLS, err := mtls.ServerConfig(cfg.TLS.CertFile, cfg.TLS.KeyFile, "")
	if err != nil {
		return nil, err
	}
	clientTLS, err := mtls.ClientConfig(cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile, "")
	if err != nil {
		return nil, err
	}
	mux := runtime.NewServeMux()
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
	}
	if err := consentv1.RegisterConsentServiceHandlerFromEndpoint(ctx, mux, cfg.GRPCAddr, opts); err != nil {
		return nil, fmt.Errorf("consent gateway: %w", err)
	}
	if err := consentv1.RegisterDecisionServiceHandlerFromEndpoint(ctx, mux, cfg.GRPCAddr, opts); err != nil {
		return nil, fmt.Errorf("consent gateway: %w", err)
	}
	root := http.NewServeMux()
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(consentv1.OpenAPI)
	})
	root.Handle("/", mux)
	return &http.Server{Handler: root, TLSConfig: serverTLS, ReadHeaderTimeout: 10 * time.Second}, nil
}
