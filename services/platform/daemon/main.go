package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/telemetry"
)

// Spec is what a daemon's main tells the skeleton.
type Spec struct {
	// Name is the service's name ("records"): the binary is Name+"d", and
	// its environment variables are HX_<NAME>_<FLAG>.
	Name string
	// Profile, if set, gives the shared flags their defaults.
	Profile Profile
	// Flags, if set, defines the service's own flags on fs (their
	// defaults are the service configuration's).
	Flags func(fs *flag.FlagSet)
	// Build makes the service once the configuration is complete.
	Build BuildFunc
}

// Profile gives a daemon's settings their defaults from a description of
// where it runs, such as the development network's network.json.
type Profile interface {
	// DefaultPath is the description read when -env is not given ("" for
	// none). A missing default description is no error: the daemon then
	// needs every setting from flags or the environment.
	DefaultPath() string
	// Apply sets the defaults of s for the service named name from the
	// description at path.
	Apply(path, name string, s *Settings) error
}

// Exit codes of Main.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// Main runs the daemon spec describes with the process's arguments and
// environment until SIGINT or SIGTERM, and exits: 0 after a clean stop, 1
// when the service failed, 2 when its configuration is wrong.
func Main(spec Spec) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, spec, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is Main with its inputs and outputs given.
func run(ctx context.Context, spec Spec, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	prog := spec.Name + "d"
	cfg, err := Configure(spec, args, lookupEnv, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitUsage
	}
	if err := Run(ctx, cfg, spec.Build); err != nil {
		cfg.Log.Error(prog+" stopped", "err", err)
		return exitFailed
	}
	return exitOK
}

// Configure turns a daemon's arguments and environment into its
// Config: the defaults, then the profile's (the description that -env or
// HX_<NAME>_ENV names, else the profile's default one if it exists), then
// each flag's environment variable, then the flags themselves. The
// service's own flags (spec.Flags) follow the same order. The logger
// writes JSON to stderr; with -trace-stdout spans go to stdout.
func Configure(spec Spec, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) (Config, error) {
	prog := spec.Name + "d"
	var s Settings
	envPath, explicit := profilePath(spec, args, lookupEnv)
	if spec.Profile != nil && envPath != "" {
		_, statErr := os.Stat(envPath)
		if explicit || statErr == nil {
			if err := spec.Profile.Apply(envPath, spec.Name, &s); err != nil {
				return Config{}, err
			}
		}
	}
	if s.OTLPEndpoint == "" {
		s.OTLPEndpoint, _ = lookupEnv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("env", envPath, "a development network's description (network.json) to take the defaults below from")
	s.bind(fs)
	if spec.Flags != nil {
		spec.Flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\nRuns the %s service. Every flag may also be set as HX_%s_<FLAG> (upper case, _ for -).\n\nFlags:\n",
			prog, spec.Name, strings.ToUpper(spec.Name))
		fs.PrintDefaults()
	}
	var envErrs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := lookupEnv(EnvName(spec.Name, f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: %w", EnvName(spec.Name, f.Name), v, err))
			}
		}
	})
	if err := errors.Join(envErrs...); err != nil {
		return Config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (see %s -help)", fs.Arg(0), prog)
	}
	cfg, err := s.Load(spec.Name)
	if err != nil {
		return Config{}, err
	}
	cfg.Log = telemetry.NewLogger(stderr, level(s.LogLevel))
	if s.TraceStdout {
		cfg.Tracing.Exporter, cfg.Tracing.Stdout = telemetry.ExporterStdout, stdout
	}
	return cfg, nil
}

// EnvName is the environment variable of a daemon's flag:
// HX_<SERVICE>_<FLAG>, upper case, with _ for -.
func EnvName(service, flagName string) string {
	return "HX_" + strings.ToUpper(strings.ReplaceAll(service+"_"+flagName, "-", "_"))
}

// profilePath is the profile description to read: -env's value if the
// arguments give one, else HX_<NAME>_ENV, else the profile's default; and
// whether it was asked for explicitly.
func profilePath(spec Spec, args []string, lookupEnv func(string) (string, bool)) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "env" {
			continue
		}
		if hasValue {
			return value, true
		}
		if i+1 < len(args) {
			return args[i+1], true
		}
	}
	if v, ok := lookupEnv(EnvName(spec.Name, "env")); ok {
		return v, true
	}
	if spec.Profile == nil {
		return "", false
	}
	return spec.Profile.DefaultPath(), false
}

// bind defines the shared flags on fs, with s's values as their defaults.
func (s *Settings) bind(fs *flag.FlagSet) {
	fs.StringVar(&s.GRPCAddr, "grpc", s.GRPCAddr, "gRPC listen address (mutual TLS)")
	fs.StringVar(&s.HTTPAddr, "http", s.HTTPAddr, "HTTP/JSON gateway listen address (TLS)")
	fs.StringVar(&s.StateDir, "state", s.StateDir, "the service's state folder (made 0700)")
	fs.StringVar(&s.TLSCert, "tls-cert", s.TLSCert, "the service's certificate (PEM)")
	fs.StringVar(&s.TLSKey, "tls-key", s.TLSKey, "the service's private key (PEM, mode 0600)")
	fs.StringVar(&s.TLSCA, "tls-ca", s.TLSCA, "the CA that the service trusts for its peers (PEM)")
	fs.Var(&listFlag{list: &s.Issuers}, "issuer", "a trusted token issuer, ISSUER=PEMFILE[+PEMFILE],org=MSP_ID,roles=ROLE[+ROLE], or ISSUER=jwks:https://HOST/PATH,org=...,roles=...[,jwks-ca=PEMFILE] for an issuer's JSON Web Key Set (fetched at the start and every 5 minutes); org= empty for the patients' provider; repeat for more; the first use replaces the default")
	fs.StringVar(&s.Audience, "audience", s.Audience, "the audience a token must name (this service's)")
	fs.DurationVar(&s.ReadHeaderTimeout, "read-header-timeout", s.ReadHeaderTimeout, "how long the HTTP gateway waits for a request's headers (0: the default)")
	fs.StringVar(&s.LedgerConnection, "ledger-connection", s.LedgerConnection, "the network description with the organisations' peers and client identities")
	fs.StringVar(&s.LedgerOrg, "ledger-org", s.LedgerOrg, "the organisation of the description to act as on the ledger")
	fs.StringVar(&s.SignInKey, "signin-key", s.SignInKey, "the patient web app's sign-in key (Ed25519, PKCS #8 PEM, mode 0600), the same for every instance; the services the app reaches trust its public key as issuer "+auth.SignInIssuer+" (empty: a key made at the start, trusted by this instance only)")
	fs.Var(&listFlag{list: &s.SignInAudiences}, "signin-audience", "another service a sign-in's token is for (its audience); repeat for more; the first use replaces the default")
	fs.StringVar(&s.WebRecords, "web-records", s.WebRecords, "the records service's HTTP/JSON address (https://host:port), or its instances' separated by commas, that the patient web app's records page reaches through this service (empty: no records page)")
	fs.StringVar(&s.StoreConfig, "store-config", s.StoreConfig, "the object storage client description (endpoint, TLS, credentials file)")
	fs.StringVar(&s.KEKFile, "kek-file", s.KEKFile, "the vault's key-encryption key (32 bytes, mode 0600)")
	fs.StringVar(&s.KeyDir, "key-dir", s.KeyDir, "the folder of patients' wrapped data keys")
	fs.StringVar(&s.ConsentAddr, "consent", s.ConsentAddr, "the consent service's gRPC address, or its instances' separated by commas (calls spread over those that are up)")
	fs.StringVar(&s.OTLPEndpoint, "otlp-endpoint", s.OTLPEndpoint, "OTLP/gRPC collector host:port for traces (default $OTEL_EXPORTER_OTLP_ENDPOINT; empty: traces not exported)")
	fs.BoolVar(&s.TraceStdout, "trace-stdout", false, "write spans to standard output")
	fs.StringVar(&s.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&s.LoopbackOnly, "loopback-only", s.LoopbackOnly, "refuse every listen and dial address off loopback (the development profile's rule, its default there)")
	fs.StringVar(&s.PprofAddr, "pprof", "", "serve net/http/pprof on this loopback address")
	fs.StringVar(&s.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
}

// listFlag is a repeatable flag whose first use replaces the default list.
type listFlag struct {
	list *[]string
	set  bool
}

func (l *listFlag) String() string {
	if l.list == nil {
		return ""
	}
	return strings.Join(*l.list, ",")
}

func (l *listFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	if !l.set {
		*l.list, l.set = nil, true
	}
	*l.list = append(*l.list, v)
	return nil
}
