package records

import (
	"errors"
	"log/slog"
	"time"

	"healthexchange/services/auth"
	"healthexchange/services/ledger"
	"healthexchange/services/objectstore"
	"healthexchange/services/serving"
	"healthexchange/services/telemetry"
)

// TLSFiles is serving.TLSFiles under the name the integration tests use.
type TLSFiles = serving.TLSFiles

// Config is everything the records service needs.
type Config struct {
	// GRPCAddr serves gRPC, with mutual TLS.
	GRPCAddr string
	// HTTPAddr serves the HTTP/JSON gateway (TLS, no client certificate)
	// and the OpenAPI document at /openapi.json.
	HTTPAddr string
	// ConsentAddr is the consent service's gRPC address (its decision
	// point), reached with this service's certificate.
	ConsentAddr string
	TLS         TLSFiles
	Ledger      ledger.Config
	Auth        auth.Config
	Tracing     telemetry.Config
	Log         *slog.Logger

	// Store is the object storage; Bucket the bucket records go to (made
	// if missing); StoreTimeout bounds each storage call.
	Store        objectstore.Config
	Bucket       string
	StoreTimeout time.Duration

	// KEKFile is the key-encryption key (a 32-byte file, mode 0600);
	// KeyDir the folder of patients' wrapped data keys.
	KEKFile string
	KeyDir  string

	// SweepEvery is how often unfinished puts older than PendingAfter are
	// removed.
	SweepEvery   time.Duration
	PendingAfter time.Duration

	// hooks are test-only points inside a put (nil in production).
	hooks *hooks
}

// Default addresses and bucket of the records service.
const (
	DefaultGRPCAddr    = "127.0.0.1:27111"
	DefaultHTTPAddr    = "127.0.0.1:27112"
	DefaultConsentAddr = "127.0.0.1:27101"
	DefaultBucket      = "records"
)

// NewConfig returns the defaults; the caller fills in TLS, ledger, auth,
// store and keys.
func NewConfig() Config {
	return Config{
		GRPCAddr:     DefaultGRPCAddr,
		HTTPAddr:     DefaultHTTPAddr,
		ConsentAddr:  DefaultConsentAddr,
		Ledger:       ledger.NewConfig(),
		Auth:         auth.NewConfig(),
		Tracing:      telemetry.NewConfig("records", ""),
		Log:          slog.Default(),
		Store:        objectstore.NewConfig(),
		Bucket:       DefaultBucket,
		StoreTimeout: 10 * time.Second,
		SweepEvery:   10 * time.Minute,
		PendingAfter: time.Hour,
	}
}

// Validate reports every missing or impossible setting at once.
func (c Config) Validate() error {
	errs := []error{
		serving.CheckLoopback("records",
			serving.NamedAddr{Name: "grpc address", Addr: c.GRPCAddr},
			serving.NamedAddr{Name: "http address", Addr: c.HTTPAddr},
			serving.NamedAddr{Name: "consent address", Addr: c.ConsentAddr}),
		c.TLS.Check("records"),
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("records config: bucket is empty"))
	}
	if c.KEKFile == "" || c.KeyDir == "" {
		errs = append(errs, errors.New("records config: the KEK file and the key folder are both required"))
	}
	if c.StoreTimeout <= 0 || c.SweepEvery <= 0 || c.PendingAfter <= 0 {
		errs = append(errs, errors.New("records config: every interval must be positive"))
	}
	if c.Log == nil {
		errs = append(errs, errors.New("records config: no logger"))
	}
	errs = append(errs, c.Ledger.Validate(), c.Auth.Validate(), c.Tracing.Validate(), c.Store.Validate())
	return errors.Join(errs...)
}
