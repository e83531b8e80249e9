package records

import (
	"context"

	"google.golang.org/grpc"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/auth"
	"healthexchange/services/backends"
	"healthexchange/services/serving"
	"healthexchange/services/telemetry"
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
	b, err := backends.Open(ctx, "records", cfg.Settings)
	if err != nil {
		return err
	}
	defer b.Close()

	svc := NewService(b.Ledger, b.Decisions, b.Bucket, b.Vault, cfg.Log)
	svc.pendingAfter, svc.hooks = cfg.PendingAfter, cfg.hooks

	grpcServer, healthServer, err := serving.NewGRPCServer(cfg.TLS, verifier,
		[]string{recordsv1.RecordService_VerifyRecord_FullMethodName},
		// A resource is at most 1 MiB, base64 in JSON through the gateway.
		grpc.MaxRecvMsgSize(2<<20),
	)
	if err != nil {
		return err
	}
	recordsv1.RegisterRecordServiceServer(grpcServer, &api{svc: svc})
	httpServer, err := serving.Gateway(ctx, serving.GatewayConfig{
		Name: "records", TLS: cfg.TLS, GRPCAddr: cfg.GRPCAddr, OpenAPI: recordsv1.OpenAPI,
		Register: []serving.RegisterFunc{recordsv1.RegisterRecordServiceHandlerFromEndpoint},
		// A 1 MiB resource is about 1.4 MB in base64; nothing larger is read,
		// nor sent on to the gRPC server than it takes.
		MaxBody: 3 << 20,
		MaxSend: 2 << 20,
	})
	if err != nil {
		return err
	}

	return serving.Serve(ctx, serving.Servers{
		Name: "records", Log: cfg.Log,
		GRPC: grpcServer, Health: healthServer, GRPCAddr: cfg.GRPCAddr,
		HTTP: httpServer, HTTPAddr: cfg.HTTPAddr,
		Listening: func() {
			cfg.Log.Info("records service starting", "grpc", cfg.GRPCAddr, "http", cfg.HTTPAddr,
				"consent", cfg.ConsentAddr, "bucket", cfg.Bucket, "store", cfg.Store.Endpoint)
		},
		Background: []func(context.Context){func(ctx context.Context) { svc.sweepEvery(ctx, cfg.SweepEvery) }},
	})
}
