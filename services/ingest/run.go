package ingest

import (
	"context"
	"fmt"
	"os"

	"google.golang.org/grpc"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/services/auth"
	"healthexchange/services/backends"
	"healthexchange/services/serving"
	"healthexchange/services/telemetry"
	"healthexchange/wearables/mhealth"
)

// Run serves the ingest service until ctx ends, then stops cleanly: uploads
// in flight finish, and what is stored is anchored once more (what is not
// stays in the journal for the next start).
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
	b, err := backends.Open(ctx, "ingest", cfg.Settings)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	svc, err := newService(b.Ledger, b.Decisions, b.Bucket, b.Vault, cfg.StateDir, cfg.Instance, cfg.Limits, cfg.Log)
	if err != nil {
		return err
	}
	defer svc.Close()

	grpcServer, healthServer, err := serving.NewGRPCServer(cfg.TLS, verifier,
		// Devices have no bearer token: each batch is signed by a key the
		// patient registered on the ledger.
		[]string{ingestv1.IngestService_Upload_FullMethodName},
		grpc.MaxRecvMsgSize(2*mhealth.MaxPayloadBytes),
	)
	if err != nil {
		return err
	}
	ingestv1.RegisterIngestServiceServer(grpcServer, &api{svc: svc})
	httpServer, err := serving.Gateway(ctx, serving.GatewayConfig{
		Name: "ingest", TLS: cfg.TLS, GRPCAddr: cfg.GRPCAddr, OpenAPI: ingestv1.OpenAPI,
		Register: []serving.RegisterFunc{ingestv1.RegisterIngestServiceHandlerFromEndpoint},
	})
	if err != nil {
		return err
	}
	return serving.Serve(ctx, serving.Servers{
		Name: "ingest", Log: cfg.Log,
		GRPC: grpcServer, Health: healthServer, GRPCAddr: cfg.GRPCAddr,
		HTTP: httpServer, HTTPAddr: cfg.HTTPAddr,
		Listening: func() {
			cfg.Log.Info("ingest service starting", "grpc", cfg.GRPCAddr, "http", cfg.HTTPAddr, "bucket", cfg.Bucket,
				"pending_batches", svc.journal.Len(), "anchor_every", cfg.Limits.AnchorEvery.String())
		},
		Background: []func(context.Context){svc.anchorEvery},
	})
}
