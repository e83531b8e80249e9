// Package wearablecli is the wearable simulator's command line: it makes a
// device's key (to pair with `patient device pair --public-key`) and streams
// the device's signed batches of readings over mutual TLS, in real time or as
// load (see wearable --help). The work is in wearables/device and
// wearables/sim; this package maps flags to their configuration. It never
// prints a device's private key.
package wearablecli

import (
	"cmp"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/platform/mtls"
	"healthexchange/wearables/device"
	"healthexchange/wearables/sim"
)

// Run runs one command; the result is the process exit code (0 ok, 1 the
// command failed, 2 usage).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return app(stdout, stderr).Run(ctx, args, stderr)
}

func app(stdout, stderr io.Writer) *clikit.App {
	return &clikit.App{
		Name:    "wearable",
		Summary: "a simulated wearable for the health exchange's ingest service.",
		Commands: []clikit.Command{
			{Name: "keygen", Summary: "make a device key and its sequence state (0600)", Args: "--device ID --patient P --out FILE [--json]",
				Help: "Make a new Ed25519 key for a device of a patient and save it to --out, with its sequence state in FILE.state\n" +
					"(both mode 0600; refuses to overwrite). Prints the public key in standard base64, for\n" +
					"patient device pair --public-key.", Flags: keygen(stdout)},
			{Name: "stream", Summary: "stream readings to the ingest service until --duration or interrupted",
				Args: "--device-key FILE [--device-key FILE ...] [--server HOST:PORT] [--duration D] [--readings N] [--batch B]\n" +
					"       [--realtime | --load [--backlog D]] [--implausible F] [--seed S] [--json]",
				Help: "Generate each device's readings and upload them in signed batches, one Upload stream per device over one\n" +
					"connection. --realtime (default) stamps readings now and sends a batch when it is full or --interval old;\n" +
					"--load starts --backlog before now (six days, the default, at most) and sends as fast as the service\n" +
					"answers, going on in real time once it catches up with now. Unanswered batches are resent after a\n" +
					"reconnection; on interrupt or at the end, outstanding batches get --stop-timeout to be answered. Prints a\n" +
					"summary; exits 1 if any batch was left unanswered.", Flags: stream(stdout, stderr)},
		},
		Footer: "Every command takes --help. Exit codes: 0 ok, 1 failed, 2 usage.\n",
	}
}

func keygen(stdout io.Writer) func(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(fs *flag.FlagSet) func(context.Context, []string) error {
		id := fs.String("device", "", "the device id (as it will be paired on the ledger)")
		patient := fs.String("patient", "", "the patient the device belongs to")
		out := fs.String("out", "", "the key file to write (its state goes to FILE.state)")
		asJSON := fs.Bool("json", false, "print JSON instead of text")
		return func(_ context.Context, args []string) error {
			if err := clikit.NoArgs(args); err != nil {
				return err
			}
			if *id == "" || *patient == "" || *out == "" {
				return clikit.Usagef("--device, --patient and --out are required")
			}
			d, err := device.Create(*out, *id, *patient)
			if err != nil {
				return err
			}
			res := map[string]string{"deviceId": d.ID(), "patientId": d.PatientID(), "publicKey": d.PublicKey(),
				"keyFile": *out, "stateFile": device.StatePath(*out)}
			return clikit.Show(stdout, *asJSON, res, func(w io.Writer) {
				fmt.Fprintf(w, "key of device %s (patient %s) saved to %s (0600)\npublic key: %s\n", d.ID(), d.PatientID(), *out, d.PublicKey())
			})
		}
	}
}

// files is a flag that may be given more than once.
type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func stream(stdout, stderr io.Writer) func(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(fs *flag.FlagSet) func(context.Context, []string) error {
		cfg := sim.NewRunConfig()
		var keys files
		fs.Var(&keys, "device-key", "a device key file made by keygen (repeat for more devices)")
		fs.StringVar(&cfg.Server, "server", ingestGRPC(), "the ingest service's gRPC address (default: the development network's)")
		fs.DurationVar(&cfg.Duration, "duration", 0, "how long to generate (0: until interrupted or --readings)")
		fs.IntVar(&cfg.Readings, "readings", 0, "readings per device (0: no limit)")
		fs.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "readings per batch")
		fs.DurationVar(&cfg.MaxBatchInterval, "interval", cfg.MaxBatchInterval, "the longest a reading waits for its batch to fill")
		fs.IntVar(&cfg.Window, "window", cfg.Window, "unanswered batches in flight per device")
		realtime := fs.Bool("realtime", false, "readings stamped now, sent as they come (the default)")
		load := fs.Bool("load", false, "readings from --backlog back, sent as fast as the service takes them")
		fs.DurationVar(&cfg.Backlog, "backlog", cfg.Backlog, "with --load: how far back the readings start (at most 144h, so none is too old to be taken)")
		fs.Float64Var(&cfg.Implausible, "implausible", 0, "fraction of readings made implausible (0 to 1)")
		fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the readings (the same seed gives the same values)")
		fs.DurationVar(&cfg.StopTimeout, "stop-timeout", cfg.StopTimeout, "how long outstanding batches may take to be answered at the end")
		envPath := fs.String("env", devenv.DefaultPath(), "the environment file written by test-network/network.sh up (for the TLS defaults)")
		ca := fs.String("ca", "", "CA of the service's certificate (default: the services CA of --env)")
		cert := fs.String("cert", "", "client certificate (default: the cli certificate of --env)")
		key := fs.String("key", "", "client certificate's key (default: the cli key of --env)")
		asJSON := fs.Bool("json", false, "print the summary as JSON")
		verbose := fs.Bool("verbose", false, "log every rejected batch and reading, not only warnings")
		return func(ctx context.Context, args []string) error {
			if err := clikit.NoArgs(args); err != nil {
				return err
			}
			if len(keys) == 0 {
				return clikit.Usagef("--device-key is required")
			}
			if *realtime && *load {
				return clikit.Usagef("give --realtime or --load, not both")
			}
			if *load {
				cfg.Mode = sim.Load
			} else if backlogSet(fs) {
				return clikit.Usagef("--backlog is for --load runs")
			}
			cfg.DeviceKeys = keys
			level := slog.LevelWarn
			if *verbose {
				level = slog.LevelInfo
			}
			cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			if err := cfg.Config.Validate(); err != nil {
				return clikit.Usagef("%v", err)
			}
			if cfg.Server == "" {
				return fmt.Errorf("no address of the ingest service: pass --server; %s", devenv.UnreachableHint)
			}
			var err error
			if cfg.TLS, err = clientTLS(*envPath, *ca, *cert, *key); err != nil {
				return err
			}
			summary, runErr := sim.Run(ctx, cfg)
			if summary.Devices > 0 {
				if err := clikit.Show(stdout, *asJSON, summary, func(w io.Writer) { summary.WriteText(w) }); err != nil {
					return err
				}
			}
			return runErr
		}
	}
}

// ingestGRPC is the development network's ingest service, if it is up.
func ingestGRPC() string {
	if env, err := devenv.LoadDefault(); err == nil {
		return env.Services["ingest"].GRPC
	}
	return ""
}

// backlogSet reports that --backlog was given.
func backlogSet(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "backlog" })
	return set
}

// clientTLS is the device's mutual TLS configuration: the files given, the
// rest from the development environment (its services CA and the wearables' device
// certificate).
func clientTLS(envPath, ca, cert, key string) (*tls.Config, error) {
	if ca == "" || cert == "" || key == "" {
		env, err := devenv.Load(envPath)
		if err != nil {
			return nil, fmt.Errorf("%w (or give --ca, --cert and --key)", err)
		}
		f := env.TLS("device-wearable")
		ca, cert, key = cmp.Or(ca, f.CAFile), cmp.Or(cert, f.CertFile), cmp.Or(key, f.KeyFile)
	}
	return mtls.ClientConfig(ca, cert, key, "")
}
