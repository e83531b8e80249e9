package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/serving"
	"healthexchange/services/platform/telemetry"
)

// Config is everything the skeleton needs to run one service, as values.
type Config struct {
	// Name is the service's name ("consent"): in logs, traces and errors.
	Name string
	// GRPCAddr serves gRPC with mutual TLS; HTTPAddr the HTTP/JSON gateway
	// (TLS) and /openapi.json.
	GRPCAddr, HTTPAddr string
	// StateDir is the service's own folder (made 0700 at start), for the
	// services that keep state; empty for those that keep none.
	StateDir string
	// TLS is the service's certificate and key (server, and client towards
	// other services) and the CA it trusts.
	TLS serving.TLSFiles
	// Auth says which token issuers to trust and the audience.
	Auth    auth.Config
	Tracing telemetry.Config
	Limits  serving.Limits
	// Backends are what the service may open through its Platform.
	Backends Backends
	// Web is what the patient's web app needs of the service that serves
	// it (the consent service); the others leave it empty.
	Web Web
	// LoopbackOnly refuses every listen and dial address that is not a
	// loopback IP address: the rule of the development network (NewConfig
	// and the development profile set it; a deployment configured by
	// flags alone has it off unless -loopback-only says otherwise).
	LoopbackOnly bool
	// PprofAddr, if set, serves net/http/pprof there (always loopback);
	// CPUProfile, if set, writes a CPU profile of the whole run.
	PprofAddr, CPUProfile string
	Log                   *slog.Logger
}

// Backends are where the backends a service may open are. A service that
// opens none of them needs none of them set.
type Backends struct {
	// Ledgers are the ways into the Fabric network of the organisations the
	// service acts for, the first being its own: a service that records
	// what people of several organisations do writes as each of them.
	Ledgers []ledger.Config
	// Store is the object storage (any S3 API); StoreTimeout bounds each
	// call to it.
	Store        objectstore.Config
	StoreTimeout time.Duration
	// KEKFile is the vault's key-encryption key (32 bytes, mode 0600) and
	// KeyDir the folder of patients' wrapped data keys.
	KEKFile, KeyDir string
	// ConsentAddr is the consent service's gRPC address (the decision
	// point of the enforcement services), or the addresses of its
	// instances separated by commas.
	ConsentAddr string
}

// Web is the patient's web app's setup on the service that serves it.
type Web struct {
	// SignInKey is the Ed25519 private key (PKCS #8 PEM, mode 0600) that
	// signs the tokens the app's sign-in gives. Every instance of the
	// service must have the same one, so that a session works on each, and
	// the services the app reaches trust its public key as the sign-in's
	// issuer. Empty: a key made at the start, trusted by this instance
	// only (a restart ends the sessions).
	SignInKey string
	// SignInAudiences are the other services a sign-in's token is for
	// (their audiences), beside this one.
	SignInAudiences []string
	// RecordsURL is the records service's HTTP/JSON gateway
	// (https://host:port), or its instances' separated by commas, that the
	// app's records page reaches through this service. Empty: no records
	// page.
	RecordsURL string
}

// NewConfig returns the defaults for the service named name: the default
// limits, loopback only, traces not exported, the default logger. The
// caller (a profile, flags or a test) fills in addresses, TLS, auth and
// backends.
func NewConfig(name string) Config {
	return Config{
		Name:         name,
		Auth:         auth.NewConfig(),
		Tracing:      telemetry.NewConfig(name, ""),
		Limits:       serving.DefaultLimits(),
		Backends:     Backends{StoreTimeout: 10 * time.Second},
		LoopbackOnly: true,
		Log:          slog.Default(),
	}
}

// Validate reports every missing or impossible setting at once. The
// backends are checked when the service opens them.
func (c Config) Validate() error {
	errs := []error{}
	if c.Name == "" {
		errs = append(errs, errors.New("daemon config: the service has no name"))
	}
	prefix := c.Name + " config: "
	if c.GRPCAddr == "" || c.HTTPAddr == "" {
		errs = append(errs, errors.New(prefix+"the grpc and http addresses are both required (-grpc, -http)"))
	}
	for _, a := range []serving.NamedAddr{{Name: "grpc address", Addr: c.GRPCAddr}, {Name: "http address", Addr: c.HTTPAddr}} {
		if a.Addr != "" {
			if _, _, err := net.SplitHostPort(a.Addr); err != nil {
				errs = append(errs, fmt.Errorf("%s%s %q: %w", prefix, a.Name, a.Addr, err))
			}
		}
	}
	if c.LoopbackOnly {
		addrs := []serving.NamedAddr{{Name: "grpc address", Addr: c.GRPCAddr}, {Name: "http address", Addr: c.HTTPAddr}}
		for _, a := range serving.SplitAddrs(c.Backends.ConsentAddr) {
			addrs = append(addrs, serving.NamedAddr{Name: "consent address", Addr: a})
		}
		for _, raw := range serving.SplitAddrs(c.Web.RecordsURL) {
			u, err := url.Parse(raw)
			if err != nil || u.Host == "" {
				errs = append(errs, fmt.Errorf("%sthe records service's address %q (-web-records) is not https://host:port", prefix, raw))
				continue
			}
			addrs = append(addrs, serving.NamedAddr{Name: "records address (-web-records)", Addr: u.Host})
		}
		errs = append(errs, serving.CheckLoopback(c.Name, nonEmpty(addrs)...))
	}
	if c.PprofAddr != "" {
		errs = append(errs, serving.CheckLoopback(c.Name, serving.NamedAddr{Name: "pprof address", Addr: c.PprofAddr}))
	}
	if err := c.TLS.Check(c.Name); err != nil {
		errs = append(errs, fmt.Errorf("%w (-tls-cert, -tls-key, -tls-ca)", err))
	}
	if c.Log == nil {
		errs = append(errs, errors.New(prefix+"no logger"))
	}
	if c.Backends.StoreTimeout <= 0 {
		errs = append(errs, errors.New(prefix+"the storage timeout must be positive"))
	}
	for _, err := range []error{c.Auth.Validate(), c.Tracing.Validate(), c.Limits.Validate()} {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s%w", prefix, err))
		}
	}
	return errors.Join(errs...)
}

func nonEmpty(addrs []serving.NamedAddr) []serving.NamedAddr {
	var out []serving.NamedAddr
	for _, a := range addrs {
		if a.Addr != "" {
			out = append(out, a)
		}
	}
	return out
}

// Settings are a daemon's configuration as its flags and environment say
// it: addresses and the paths of the files that hold the rest. A profile
// gives them defaults; Load reads the files into a Config.
type Settings struct {
	GRPCAddr, HTTPAddr, StateDir string
	TLSCert, TLSKey, TLSCA       string
	// Issuers are trusted token issuers (repeatable), each
	// ISSUER=PEMFILE,org=MSP_ID,roles=ROLE+ROLE (auth.ParseIssuer);
	// Audience is what a token's aud must name: this service.
	Issuers  []string
	Audience string
	// LedgerConnection is a network description with the organisations'
	// peers and client identities (network.json); LedgerOrg the
	// organisations in it to act as, comma-separated, the service's own
	// first.
	LedgerConnection, LedgerOrg string
	// SignInKey, SignInAudiences and WebRecords are the patient web app's
	// setup (Web), for the service that serves it.
	SignInKey       string
	SignInAudiences []string
	WebRecords      string
	// StoreConfig is an object storage client description (minio.json:
	// endpoint, TLS, credentials file).
	StoreConfig     string
	KEKFile, KeyDir string
	ConsentAddr     string
	OTLPEndpoint    string
	TraceStdout     bool
	LogLevel        string
	// LoopbackOnly refuses addresses off loopback: set by the development
	// profile, off for a deployment configured by flags alone.
	LoopbackOnly bool
	PprofAddr    string
	CPUProfile   string
	// ReadHeaderTimeout, when set, replaces the default bound on reading an
	// HTTP request's headers.
	ReadHeaderTimeout time.Duration
}

// Load reads the files s names into a Config for the service named name:
// the ledger connection, the object storage description, the issuers. A
// file left empty leaves its part unset (Validate, or the service's first
// use of the backend, says what is missing).
func (s Settings) Load(name string) (Config, error) {
	c := NewConfig(name)
	c.GRPCAddr, c.HTTPAddr, c.StateDir = s.GRPCAddr, s.HTTPAddr, s.StateDir
	c.TLS = serving.TLSFiles{CertFile: s.TLSCert, KeyFile: s.TLSKey, CAFile: s.TLSCA}
	c.Backends.KEKFile, c.Backends.KeyDir, c.Backends.ConsentAddr = s.KEKFile, s.KeyDir, s.ConsentAddr
	c.PprofAddr, c.CPUProfile = s.PprofAddr, s.CPUProfile
	c.Web = Web{SignInKey: s.SignInKey, SignInAudiences: s.SignInAudiences, RecordsURL: s.WebRecords}
	c.LoopbackOnly = s.LoopbackOnly
	if s.ReadHeaderTimeout != 0 {
		c.Limits.ReadHeaderTimeout = s.ReadHeaderTimeout
	}
	c.Auth.Audience = s.Audience
	var errs []error
	for _, spec := range s.Issuers {
		name, iss, err := auth.ParseIssuer(spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s config: %w", c.Name, err))
			continue
		}
		if _, twice := c.Auth.Issuers[name]; twice {
			errs = append(errs, fmt.Errorf("%s config: issuer %q is given twice", c.Name, name))
			continue
		}
		c.Auth.Issuers[name] = iss
	}
	if s.LedgerConnection != "" {
		for _, org := range strings.Split(s.LedgerOrg, ",") {
			l, err := ledger.ConfigFromNetworkFile(s.LedgerConnection, strings.TrimSpace(org))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			c.Backends.Ledgers = append(c.Backends.Ledgers, l)
		}
	}
	if s.StoreConfig != "" {
		st, err := objectstore.ConfigFromFile(s.StoreConfig)
		if err != nil {
			errs = append(errs, err)
		}
		c.Backends.Store = st
	}
	c.Tracing = telemetry.NewConfig(name, s.OTLPEndpoint)
	switch s.LogLevel {
	case "", "info":
	case "debug", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("%s config: log level %q is not debug, info, warn or error", c.Name, s.LogLevel))
	}
	return c, errors.Join(errs...)
}

// level is the slog level a log-level setting names (info when empty or
// unknown; Load refuses unknown ones).
func level(s string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(s)) != nil {
		return slog.LevelInfo
	}
	return l
}
