package ingest

import (
	"errors"
	"log/slog"
	"time"

	"healthexchange/services/auth"
	"healthexchange/services/backends"
	"healthexchange/services/serving"
	"healthexchange/services/telemetry"
	"healthexchange/wearables/mhealth"
)

// Config is everything the ingest service needs.
type Config struct {
	// GRPCAddr serves gRPC (devices upload here), with mutual TLS.
	GRPCAddr string
	// HTTPAddr serves the HTTP/JSON gateway of the read calls and
	// /openapi.json.
	HTTPAddr string
	// Settings are the ledger, the bucket of the readings, the vault (the
	// same as the records service's: one data key per patient) and the
	// consent service (with this service's TLS files).
	backends.Settings
	Auth    auth.Config
	Tracing telemetry.Config
	Log     *slog.Logger

	// StateDir keeps the journal of batches not yet anchored and the
	// devices' last sequence numbers.
	StateDir string
	// Instance names this service's anchors on the ledger; two instances
	// sharing a ledger need different names.
	Instance string
	Limits   Limits
}

// Default addresses and bucket of the ingest service.
const (
	DefaultGRPCAddr = "127.0.0.1:27121"
	DefaultHTTPAddr = "127.0.0.1:27122"
	DefaultBucket   = "wearables"
)

// NewConfig returns the defaults; the caller fills in TLS, ledger, auth,
// store, keys and state.
func NewConfig() Config {
	return Config{
		GRPCAddr: DefaultGRPCAddr, HTTPAddr: DefaultHTTPAddr, Settings: backends.NewSettings(DefaultBucket),
		Auth: auth.NewConfig(), Tracing: telemetry.NewConfig("ingest", ""), Log: slog.Default(),
		Instance: "ingest",
		Limits: Limits{MaxSkew: mhealth.DefaultMaxSkew, MaxAge: mhealth.DefaultMaxAge,
			AnchorEvery: time.Second, AnchorMax: 10000},
	}
}

// Validate reports every missing or impossible setting at once.
func (c Config) Validate() error {
	errs := []error{
		serving.CheckLoopback("ingest",
			serving.NamedAddr{Name: "grpc address", Addr: c.GRPCAddr},
			serving.NamedAddr{Name: "http address", Addr: c.HTTPAddr}),
		c.Settings.Validate("ingest"),
	}
	if c.StateDir == "" || c.Instance == "" {
		errs = append(errs, errors.New("ingest config: the state folder and the instance name are both required"))
	}
	l := c.Limits
	if l.AnchorEvery <= 0 || l.MaxAge <= 0 || l.MaxSkew < 0 {
		errs = append(errs, errors.New("ingest config: every interval must be positive (the skew may be 0)"))
	}
	if l.AnchorMax < 1 {
		errs = append(errs, errors.New("ingest config: an anchor covers at least one batch"))
	}
	if c.Log == nil {
		errs = append(errs, errors.New("ingest config: no logger"))
	}
	errs = append(errs, c.Auth.Validate(), c.Tracing.Validate())
	return errors.Join(errs...)
}
