package records

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	consentv1 "healthexchange/proto/consent/v1"
	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/auth"
	"healthexchange/services/ledger"
	"healthexchange/services/mtls"
	"healthexchange/services/objectstore"
	"healthexchange/services/telemetry"
	"healthexchange/services/vault"
)

// Run serves the records service until ctx ends, then stops cleanly: no new
// calls, calls in flight finish.
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
	kek, err := vault.NewFileKEK(cfg.KEKFile)
	if err != nil {
		return err
	}
	keys, err := vault.OpenFileKeyStore(cfg.KeyDir)
	if err != nil {
		return err
	}
	v, err := vault.New(kek, keys)
	if err != nil {
		return err
	}
	defer v.Close()
	mc, err := objectstore.New(cfg.Store)
	if err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, cfg.StoreTimeout)
	err = objectstore.EnsureBucket(startCtx, mc, cfg.Bucket)
	cancel()
	if err != nil {
		return fmt.Errorf("records: %w (is MinIO up? make minio-up)", err)
	}
	lc, err := ledger.Dial(cfg.Ledger)
	if err != nil {
		return err
	}
	defer lc.Close()

	clientTLS, err := mtls.ClientConfig(cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile, "")
	if err != nil {
		return err
	}
	consentConn, err := grpc.NewClient(cfg.ConsentAddr,
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)),
		grpc.WithPerRPCCredentials(auth.ForwardBearer()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
	)
	if err != nil {
		return fmt.Errorf("records: consent service: %w", err)
	}
	defer consentConn.Close()

	svc := NewService(lc, consentv1.NewDecisionServiceClient(consentConn),
		NewMinIOObjects(mc, cfg.Bucket, cfg.StoreTimeout), v, cfg.Log)
	svc.pendingAfter, svc.hooks = cfg.PendingAfter, cfg.hooks

	serverTLS, err := mtls.ServerConfig(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.CAFile)
	if err != nil {
		return err
	}
	public := auth.WithPublicMethods(healthpb.Health_Check_FullMethodName, healthpb.Health_Watch_FullMethodName,
		recordsv1.RecordService_VerifyRecord_FullMethodName)
	grpcServer := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(serverTLS)),
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(verifier, public)),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(verifier, public)),
		// A resource is at most 1 MiB, base64 in JSON through the gateway.
		grpc.MaxRecvMsgSize(2<<20),
	)
	recordsv1.RegisterRecordServiceServer(grpcServer, &api{svc: svc})
	healthServer := health.NewServer()
	healthpb.RegisterHealthServer(grpcServer, healthServer)

	grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	httpServer, err := gateway(ctx, cfg)
	if err != nil {
		grpcLis.Close()
		return err
	}
	httpLis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("records: %w", err)
	}
	cfg.Log.Info("records service starting", "grpc", cfg.GRPCAddr, "http", cfg.HTTPAddr,
		"consent", cfg.ConsentAddr, "bucket", cfg.Bucket, "store", cfg.Store.Endpoint)

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { svc.sweepEvery(bg, cfg.SweepEvery) })

	errc := make(chan error, 2)
	go func() { errc <- grpcServer.Serve(grpcLis) }()
	go func() { errc <- httpServer.ServeTLS(httpLis, "", "") }()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		runErr = fmt.Errorf("records: server stopped: %w", runErr)
	}
	cfg.Log.Info("records service stopping")
	healthServer.Shutdown()
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	httpServer.Shutdown(shutdownCtx)
	grpcServer.GracefulStop()
	stopBackground()
	wg.Wait()
	return runErr
}

// gateway is the HTTP/JSON face of the service: it calls the gRPC server
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
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(2 << 20)),
	}
	if err := recordsv1.RegisterRecordServiceHandlerFromEndpoint(ctx, mux, cfg.GRPCAddr, opts); err != nil {
		return nil, fmt.Errorf("records gateway: %w", err)
	}
	root := http.NewServeMux()
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(recordsv1.OpenAPI)
	})
	// A 1 MiB resource is about 1.4 MB in base64; nothing larger is read.
	root.Handle("/", http.MaxBytesHandler(mux, 3<<20))
	return &http.Server{Handler: root, TLSConfig: serverTLS, ReadHeaderTimeout: 10 * time.Second}, nil
}
