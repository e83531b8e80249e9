package research

import (
	"context"
	"errors"
	"fmt"

	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/auth"
	"healthexchange/services/ingest"
	"healthexchange/services/ledger"
	"healthexchange/services/objectstore"
	"healthexchange/services/policy"
	"healthexchange/services/records"
	"healthexchange/services/serving"
	"healthexchange/services/telemetry"
	"healthexchange/services/vault"
)

// Run serves the research service until ctx ends. Jobs interrupted by the
// stop are resolved at the next start.
func Run(ctx context.Context, cfg Config) (err error) {
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
	decider, err := policy.NewDatasetEngine(ctx)
	if err != nil {
		return err
	}
	v, err := vault.OpenFiles(cfg.KEKFile, cfg.KeyDir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, v.Close()) }()
	buckets := map[string]*objectstore.Bucket{}
	for _, name := range []string{cfg.Bucket, cfg.RecordsBucket, cfg.WearablesBucket} {
		if buckets[name], err = objectstore.OpenBucket(ctx, cfg.Store, name, cfg.StoreTimeout); err != nil {
			return fmt.Errorf("research: %w", err)
		}
	}
	l, err := ledger.Dial(cfg.Ledger)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.Close()) }()

	src := &storeSources{ledger: l, records: records.NewArchive(buckets[cfg.RecordsBucket], v),
		readings: ingest.NewArchive(buckets[cfg.WearablesBucket], v)}
	svc := newService(l, src, buckets[cfg.Bucket], decider, cfg.Log)

	grpcServer, healthServer, err := serving.NewGRPCServer(cfg.TLS, verifier, nil)
	if err != nil {
		return err
	}
	researchv1.RegisterResearchServiceServer(grpcServer, &api{svc: svc})
	httpServer, err := serving.Gateway(ctx, serving.GatewayConfig{
		Name: "research", TLS: cfg.TLS, GRPCAddr: cfg.GRPCAddr, OpenAPI: researchv1.OpenAPI,
		Register: []serving.RegisterFunc{researchv1.RegisterResearchServiceHandlerFromEndpoint},
	})
	if err != nil {
		return err
	}
	return serving.Serve(ctx, serving.Servers{
		Name: "research", Log: cfg.Log,
		GRPC: grpcServer, Health: healthServer, GRPCAddr: cfg.GRPCAddr,
		HTTP: httpServer, HTTPAddr: cfg.HTTPAddr,
		Listening: func() {
			cfg.Log.Info("research service starting", "grpc", cfg.GRPCAddr, "http", cfg.HTTPAddr, "bucket", cfg.Bucket,
				"reads", []string{cfg.RecordsBucket, cfg.WearablesBucket})
		},
		Background: []func(context.Context){svc.work},
	})
}
