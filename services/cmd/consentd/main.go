// Command consentd runs the consent service (patient API and decision point)
// against the test network that test-network/network.sh started.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"healthexchange/services/consent"
	"healthexchange/services/devenv"
	"healthexchange/services/serving"
	"healthexchange/services/telemetry"
)

func main() {
	cfg := consent.NewConfig()
	envPath := flag.String("env", devenv.DefaultPath(), "the environment file written by test-network/network.sh up")
	flag.StringVar(&cfg.StateDir, "state", "", "state folder (view snapshot, access-event journal, access requests); default: consent/ beside the environment file")
	flag.StringVar(&cfg.GRPCAddr, "grpc", cfg.GRPCAddr, "gRPC listen address (mutual TLS)")
	flag.StringVar(&cfg.HTTPAddr, "http", cfg.HTTPAddr, "HTTP/JSON gateway listen address (TLS)")
	org := flag.String("org", "providers", "the organisation whose client identity the service uses on the ledger")
	otlp := flag.String("otlp-endpoint", os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTLP/gRPC collector host:port for traces (empty: traces not exported)")
	traceStdout := flag.Bool("trace-stdout", false, "write spans to standard output")
	flag.DurationVar(&cfg.FlushEvery, "flush-every", cfg.FlushEvery, "how often access events are written to the ledger")
	flag.Parse()

	log := telemetry.NewLogger(os.Stderr, slog.LevelInfo)
	if err := configure(&cfg, *envPath, *org, *otlp, *traceStdout); err != nil {
		fmt.Fprintln(os.Stderr, "consentd:", err)
		os.Exit(2)
	}
	cfg.Log = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := consent.Run(ctx, cfg); err != nil {
		log.Error("consentd stopped", "err", err)
		os.Exit(1)
	}
}

func configure(cfg *consent.Config, envPath, org, otlp string, traceStdout bool) error {
	env, err := devenv.Load(envPath)
	if err != nil {
		return err
	}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(filepath.Dir(envPath), "consent")
	}
	if cfg.Ledger, err = env.Ledger(org); err != nil {
		return err
	}
	cfg.TLS = serving.TLSFiles(env.TLS("consent"))
	env.TrustIdP(&cfg.Auth)
	cfg.Tracing = telemetry.NewConfig("consent", otlp)
	if traceStdout {
		cfg.Tracing.Exporter, cfg.Tracing.Stdout = telemetry.ExporterStdout, os.Stdout
	}
	return os.MkdirAll(cfg.StateDir, 0o700)
}
