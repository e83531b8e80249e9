package ingest

import (
	"errors"
	"log/slog"
	"time"

	"healthexchange/services/auth"
	"healthexchange/services/ledger"
	"healthexchange/services/objectstore"
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
	// ConsentAddr is the consent service's gRPC address.
	ConsentAddr string
	TLS         serving.TLSFiles
	Ledger      ledger.Config
	Auth        auth.Config
	Tracing     telemetry.Config
	Log         *slog.Logger

	// Store, Bucket, StoreTimeout: where batches go (the bucket is made if
	// missing) and how long one storage call may take.
	Store        objectstore.Config
	Bucket       string
	StoreTimeout time.Duration
	// KEKFile and KeyDir: the vault's key-encryption key and data keys
	// (the same as the records service's: one data key per patient).
	KEKFile, KeyDir string
	// StateDir keeps the journal of batches not yet anchored and the
	// devices' last sequence numbers.
	StateDir string
	// Instance names this service's anchors on the ledger; two instances
	// sharing a ledger need different names.
	Instance string
	Limits   Limits

	hooks *hooks
}

// Default addresses and bucket of the ingest service.
const (
	DefaultGRPCAddr    = "127.0.0.1:27121"
	DefaultHTTPAddr    = "127.0.0.1:27122"
	DefaultConsentAddr = "127.0.0.1:27101"
	DefaultBucket      = "wearables"
)

// NewConfig returns the defaults; the caller fills in TLS, ledger, auth,
// store, keys and state.
func NewConfig() Config {
	return Config{
		GRPCAddr: DefaultGRPCAddr, HTTPAddr: DefaultHTTPAddr, ConsentAddr: DefaultConsentAddr,
		Ledger: ledger.NewConfig(), Auth: auth.NewConfig(), Tracing: telemetry.NewConfig("ingest", ""),
		Log: slog.Default(), Store: objectstore.NewConfig(), Bucket: DefaultBucket, StoreTimeout: 10 * time.Second,
		Instance: "ingest",
		Limits: Limits{MaxSkew: mhealth.DefaultMaxSkew, MaxAge: mhealth.DefaultMaxAge,
			AnchorEvery: time.Second, AnchorMax: 10000},
	}
}

// Validate reports every missing or impossible setting at once.
func (c Config) Validate() error {
	errs := []error{serving.CheckLoopback("ingest",
		serving.NamedAddr{Name: "grpc address", Addr: c.GRPCAddr},
		serving.NamedAddr{Name: "http address", Addr: c.HTTPAddr},
		serving.NamedAddr{Name: "consent address", Addr: c.ConsentAddr}),
		c.TLS.Check("ingest")}
	if c.Bucket == "" || c.StateDir == "" || c.KEKFile == "" || c.KeyDir == "" {
		errs = append(errs, errors.New("ingest config: bucket, state folder, KEK file and key folder are all required"))
	}
	if c.Instance == "" {
		errs = append(errs, errors.New("ingest config: instance name is empty"))
	}
	l := c.Limits
	if c.StoreTimeout <= 0 || l.AnchorEvery <= 0 || l.MaxAge <= 0 || l.MaxSkew < 0 {
		errs = append(errs, errors.New("ingest config: every interval must be positive (the skew may be 0)"))
	}
	if l.AnchorMax < 1 {
		errs = append(errs, errors.New("ingest config: an anchor covers at least one batch"))
	}
	if c.Log == nil {
		errs = append(errs, errors.New("ingest config: no logger"))
	}
	errs = append(errs, c.Ledger.Validate(), c.Auth.Validate(), c.Tracing.Validate(), c.Store.Validate())
	return errors.Join(errs...)
}
