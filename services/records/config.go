package records

import (
	"errors"
	"log/slog"
	"time"

	"healthexchange/services/auth"
	"healthexchange/services/backends"
	"healthexchange/services/serving"
	"healthexchange/services/telemetry"
)

// Config is everything the records service needs.
type Config struct {
	// GRPCAddr serves gRPC, with mutual TLS.
	GRPCAddr string
	// HTTPAddr serves the HTTP/JSON gateway (TLS, no client certificate)
	// and the OpenAPI document at /openapi.json.
	HTTPAddr string
	// Settings are the ledger, the bucket of the records, the vault and
	// the consent service (with this service's TLS files).
	backends.Settings
	Auth    auth.Config
	Tracing telemetry.Config
	Log     *slog.Logger

	// SweepEvery is how often unfinished puts older than PendingAfter are
	// removed.
	SweepEvery   time.Duration
	PendingAfter time.Duration

	// hooks are test-only points inside a put (nil in production).
	hooks *hooks
}

// Default addresses and bucket of the records service.
const (
	DefaultGRPCAddr = "127.0.0.1:27111"
	DefaultHTTPAddr = "127.0.0.1:27112"
	DefaultBucket   = "records"
)

// NewConfig returns the defaults; the caller fills in TLS, ledger, auth,
// store and keys.
func NewConfig() Config {
	return Config{
		GRPCAddr:     DefaultGRPCAddr,
		HTTPAddr:     DefaultHTTPAddr,
		Settings:     backends.NewSettings(DefaultBucket),
		Auth:         auth.NewConfig(),
		Tracing:      telemetry.NewConfig("records", ""),
		Log:          slog.Default(),
		SweepEvery:   10 * time.Minute,
		PendingAfter: time.Hour,
	}
}

// Validate reports every missing or impossible setting at once.
func (c Config) Validate() error {
	errs := []error{
		serving.CheckLoopback("records",
			serving.NamedAddr{Name: "grpc address", Addr: c.GRPCAddr},
			serving.NamedAddr{Name: "http address", Addr: c.HTTPAddr}),
		c.Settings.Validate("records"),
	}
	if c.SweepEvery <= 0 || c.PendingAfter <= 0 {
		errs = append(errs, errors.New("records config: every interval must be positive"))
	}
	if c.Log == nil {
		errs = append(errs, errors.New("records config: no logger"))
	}
	errs = append(errs, c.Auth.Validate(), c.Tracing.Validate())
	return errors.Join(errs...)
}
