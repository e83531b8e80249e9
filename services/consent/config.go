package consent

import (
	"errors"
	"log/slog"
	"time"

	"healthexchange/services/auth"
	"healthexchange/services/ledger"
	"healthexchange/services/serving"
	"healthexchange/services/telemetry"
)

// Config is everything the consent service needs.
type Config struct {
	// GRPCAddr serves gRPC to the other services, with mutual TLS.
	GRPCAddr string
	// HTTPAddr serves the HTTP/JSON gateway for apps (TLS, no client
	// certificate) and the OpenAPI document at /openapi.json.
	HTTPAddr string
	// StateDir keeps the decision view's snapshot, the access-event journal
	// and the access requests.
	StateDir string
	TLS      serving.TLSFiles
	Ledger   ledger.Config
	Auth     auth.Config
	Tracing  telemetry.Config
	Log      *slog.Logger

	// FlushEvery is how often access events are written to the ledger;
	// EventBatch is the most per transaction.
	FlushEvery time.Duration
	EventBatch int
	// Retry is the pause before following the ledger again after a failure.
	Retry time.Duration
	// SaveViewEvery bounds how often the view's snapshot is written.
	SaveViewEvery time.Duration
	// AwaitView bounds how long a consent change waits for the decision view.
	AwaitView time.Duration
}

// Default addresses of the consent service.
const (
	DefaultGRPCAddr = "127.0.0.1:27101"
	DefaultHTTPAddr = "127.0.0.1:27102"
)

// NewConfig returns the defaults; the caller fills in state, TLS, ledger and
// auth.
func NewConfig() Config {
	return Config{
		GRPCAddr:      DefaultGRPCAddr,
		HTTPAddr:      DefaultHTTPAddr,
		Ledger:        ledger.NewConfig(),
		Auth:          auth.NewConfig(),
		Tracing:       telemetry.NewConfig("consent", ""),
		Log:           slog.Default(),
		FlushEvery:    200 * time.Millisecond,
		EventBatch:    500,
		Retry:         time.Second,
		SaveViewEvery: time.Second,
		AwaitView:     10 * time.Second,
	}
}

// Validate reports every missing or impossible setting at once.
func (c Config) Validate() error {
	errs := []error{serving.CheckLoopback("consent",
		serving.NamedAddr{Name: "grpc address", Addr: c.GRPCAddr},
		serving.NamedAddr{Name: "http address", Addr: c.HTTPAddr})}
	if c.StateDir == "" {
		errs = append(errs, errors.New("consent config: state folder is empty"))
	}
	errs = append(errs, c.TLS.Check("consent"))
	if c.FlushEvery <= 0 || c.Retry <= 0 || c.SaveViewEvery <= 0 || c.AwaitView <= 0 {
		errs = append(errs, errors.New("consent config: every interval must be positive"))
	}
	if c.EventBatch < 1 || c.EventBatch > 500 {
		errs = append(errs, errors.New("consent config: event batch must be 1 to 500 (the chaincode's limit)"))
	}
	if c.Log == nil {
		errs = append(errs, errors.New("consent config: no logger"))
	}
	errs = append(errs, c.Ledger.Validate(), c.Auth.Validate(), c.Tracing.Validate())
	return errors.Join(errs...)
}
