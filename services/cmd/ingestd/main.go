// Command ingestd runs the ingest service (wearable batches in, readings and
// proofs out) against the test network, MinIO and the consent service.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"

	"healthexchange/services/devenv"
	"healthexchange/services/ingest"
	"healthexchange/services/objectstore"
	"healthexchange/services/telemetry"
)

func main() {
	cfg := ingest.NewConfig()
	envPath := flag.String("env", devenv.DefaultPath(), "the environment file written by test-network/network.sh up")
	minioPath := flag.String("minio", objectstore.DefaultConfigPath(), "the MinIO client configuration written by test-network/minio/minio.sh up")
	flag.StringVar(&cfg.StateDir, "state", "", "state folder (journal of batches not yet anchored, sequence numbers); default: ingest/ beside the environment file")
	flag.StringVar(&cfg.GRPCAddr, "grpc", cfg.GRPCAddr, "gRPC listen address (mutual TLS; devices upload here)")
	flag.StringVar(&cfg.HTTPAddr, "http", cfg.HTTPAddr, "HTTP/JSON gateway listen address (TLS)")
	flag.StringVar(&cfg.ConsentAddr, "consent", cfg.ConsentAddr, "the consent service's gRPC address")
	flag.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "the MinIO bucket of the readings (made if missing)")
	flag.StringVar(&cfg.Instance, "instance", cfg.Instance, "this service's name in its anchor ids")
	flag.DurationVar(&cfg.Limits.AnchorEvery, "anchor-every", cfg.Limits.AnchorEvery, "the anchoring period: one ledger transaction per period")
	flag.IntVar(&cfg.Limits.AnchorMax, "anchor-max", cfg.Limits.AnchorMax, "the most batches under one anchored root")
	org := flag.String("org", "providers", "the organisation whose client identity the service uses on the ledger")
	otlp := flag.String("otlp-endpoint", os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTLP/gRPC collector host:port for traces (empty: traces not exported)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (for make bench)")
	flag.Parse()

	log := telemetry.NewLogger(os.Stderr, slog.LevelInfo)
	if err := configure(&cfg, *envPath, *minioPath, *org, *otlp); err != nil {
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		os.Exit(2)
	}
	cfg.Log = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingestd: cpu profile:", err)
			os.Exit(2)
		}
	}
	err := ingest.Run(ctx, cfg)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		log.Error("ingestd stopped", "err", err)
		os.Exit(1)
	}
}

func configure(cfg *ingest.Config, envPath, minioPath, org, otlp string) error {
	env, err := devenv.Load(envPath)
	if err != nil {
		return err
	}
	if err := cfg.FromDevEnv(env, "ingest", org, minioPath); err != nil {
		return err
	}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(filepath.Dir(envPath), "ingest")
	}
	env.TrustIdP(&cfg.Auth)
	cfg.Tracing = telemetry.NewConfig("ingest", otlp)
	return nil
}
