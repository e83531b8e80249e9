// Command recordsd runs the records service against the test network that
// test-network/network.sh started, the MinIO server that
// test-network/minio/minio.sh started and the consent service (consentd).
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
	"healthexchange/services/records"
	"healthexchange/services/telemetry"
)

func main() {
	cfg := records.NewConfig()
	envPath := flag.String("env", devenv.DefaultPath(), "the environment file written by test-network/network.sh up")
	minioPath := flag.String("minio", objectstore.DefaultConfigPath(), "the MinIO client configuration written by test-network/minio/minio.sh up")
	flag.StringVar(&cfg.GRPCAddr, "grpc", cfg.GRPCAddr, "gRPC listen address (mutual TLS)")
	flag.StringVar(&cfg.HTTPAddr, "http", cfg.HTTPAddr, "HTTP/JSON gateway listen address (TLS)")
	flag.StringVar(&cfg.ConsentAddr, "consent", cfg.ConsentAddr, "the consent service's gRPC address")
	flag.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "the MinIO bucket of the records (made if missing)")
	org := flag.String("org", "providers", "the organisation whose client identity the service uses on the ledger")
	otlp := flag.String("otlp-endpoint", os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTLP/gRPC collector host:port for traces (empty: traces not exported)")
	traceStdout := flag.Bool("trace-stdout", false, "write spans to standard output")
	flag.DurationVar(&cfg.SweepEvery, "sweep-every", cfg.SweepEvery, "how often unfinished puts are looked for")
	flag.DurationVar(&cfg.PendingAfter, "pending-after", cfg.PendingAfter, "how old an unfinished put must be before the sweeper removes it")
	flag.Parse()

	log := telemetry.NewLogger(os.Stderr, slog.LevelInfo)
	if err := configure(&cfg, *envPath, *minioPath, *org, *otlp, *traceStdout); err != nil {
		fmt.Fprintln(os.Stderr, "recordsd:", err)
		os.Exit(2)
	}
	cfg.Log = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := records.Run(ctx, cfg); err != nil {
		log.Error("recordsd stopped", "err", err)
		os.Exit(1)
	}
}

func configure(cfg *records.Config, envPath, minioPath, org, otlp string, traceStdout bool) error {
	env, err := devenv.Load(envPath)
	if err != nil {
		return err
	}
	if err := cfg.FromDevEnv(env, "records", org, minioPath); err != nil {
		return err
	}
	env.TrustIdP(&cfg.Auth)
	cfg.Tracing = telemetry.NewConfig("records", otlp)
	if traceStdout {
		cfg.Tracing.Exporter, cfg.Tracing.Stdout = telemetry.ExporterStdout, os.Stdout
	}
	return nil
}
