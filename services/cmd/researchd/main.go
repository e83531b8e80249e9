// Command researchd runs the research service (anonymized datasets from the
// patients who consented to research) against the test network and MinIO.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"healthexchange/services/devenv"
	"healthexchange/services/objectstore"
	"healthexchange/services/research"
	"healthexchange/services/telemetry"
)

func main() {
	cfg := research.NewConfig()
	envPath := flag.String("env", devenv.DefaultPath(), "the environment file written by test-network/network.sh up")
	minioPath := flag.String("minio", objectstore.DefaultConfigPath(), "the MinIO client configuration written by test-network/minio/minio.sh up")
	flag.StringVar(&cfg.GRPCAddr, "grpc", cfg.GRPCAddr, "gRPC listen address (mutual TLS)")
	flag.StringVar(&cfg.HTTPAddr, "http", cfg.HTTPAddr, "HTTP/JSON gateway listen address (TLS)")
	flag.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "the MinIO bucket of the released datasets (made if missing)")
	flag.StringVar(&cfg.RecordsBucket, "records-bucket", cfg.RecordsBucket, "the records service's bucket (read only)")
	flag.StringVar(&cfg.WearablesBucket, "wearables-bucket", cfg.WearablesBucket, "the ingest service's bucket (read only)")
	otlp := flag.String("otlp-endpoint", os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTLP/gRPC collector host:port for traces (empty: traces not exported)")
	flag.Parse()

	log := telemetry.NewLogger(os.Stderr, slog.LevelInfo)
	if err := configure(&cfg, *envPath, *minioPath, *otlp); err != nil {
		fmt.Fprintln(os.Stderr, "researchd:", err)
		os.Exit(2)
	}
	cfg.Log = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := research.Run(ctx, cfg); err != nil {
		log.Error("researchd stopped", "err", err)
		os.Exit(1)
	}
}

func configure(cfg *research.Config, envPath, minioPath, otlp string) error {
	env, err := devenv.Load(envPath)
	if err != nil {
		return err
	}
	// The research organisation's identity: dataset releases are its
	// transactions, and the chaincode accepts them from it only.
	if err := cfg.FromDevEnv(env, "research", "research", minioPath); err != nil {
		return err
	}
	env.TrustIdP(&cfg.Auth)
	cfg.Tracing = telemetry.NewConfig("research", otlp)
	return nil
}
