package research

import (
	"errors"
	"log/slog"

	"healthexchange/services/auth"
	"healthexchange/services/backends"
	"healthexchange/services/serving"
	"healthexchange/services/telemetry"
)

// Config is everything the research service needs.
type Config struct {
	// GRPCAddr serves gRPC with mutual TLS; HTTPAddr the HTTP/JSON gateway
	// and /openapi.json.
	GRPCAddr, HTTPAddr string
	// Settings are the ledger (as the research organisation), the vault (the
	// same data keys as the records and ingest services) and the datasets
	// bucket. The consent address is not used: the research service decides
	// with its own policy engine and the ledger's consents.
	backends.Settings
	// RecordsBucket and WearablesBucket are read, never written.
	RecordsBucket, WearablesBucket string
	Auth                           auth.Config
	Tracing                        telemetry.Config
	Log                            *slog.Logger
}

// Default addresses and buckets of the research service.
const (
	DefaultGRPCAddr = "127.0.0.1:27131"
	DefaultHTTPAddr = "127.0.0.1:27132"
	DefaultBucket   = "datasets"
)

// NewConfig returns the defaults; the caller fills in TLS, ledger, auth,
// store and keys.
func NewConfig() Config {
	return Config{
		GRPCAddr: DefaultGRPCAddr, HTTPAddr: DefaultHTTPAddr, Settings: backends.NewSettings(DefaultBucket),
		RecordsBucket: "records", WearablesBucket: "wearables",
		Auth: auth.NewConfig(), Tracing: telemetry.NewConfig("research", ""), Log: slog.Default(),
	}
}

// Validate reports every missing or impossible setting at once.
func (c Config) Validate() error {
	errs := []error{
		serving.CheckLoopback("research",
			serving.NamedAddr{Name: "grpc address", Addr: c.GRPCAddr},
			serving.NamedAddr{Name: "http address", Addr: c.HTTPAddr}),
		c.Settings.Validate("research"),
	}
	if c.RecordsBucket == "" || c.WearablesBucket == "" {
		errs = append(errs, errors.New("research config: the records and wearables buckets are both required"))
	}
	if c.Log == nil {
		errs = append(errs, errors.New("research config: no logger"))
	}
	errs = append(errs, c.Auth.Validate(), c.Tracing.Validate())
	return errors.Join(errs...)
}
