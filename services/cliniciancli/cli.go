// Package cliniciancli is the clinician's command-line app: it stores FHIR
// records, reads them back verified against the ledger, lists them and their
// history, and checks a resource against the notary, all through the records
// service's HTTP/JSON gateway with the clinician's token.
//
// The token is never printed, and a record's content is written only where
// the user asked: stdout or a 0600 file.
package cliniciancli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"healthexchange/services/apiclient"
)

// DefaultServer is the records service's gateway on the development network.
const DefaultServer = "https://127.0.0.1:27112"

const usage = `clinician: the clinician's app for the health exchange's records.

Usage: clinician COMMAND [flags]

Commands:
  put      store a FHIR resource as a new record or a new version
  get      read a record, verified against the ledger
  list     list a patient's records you may read
  history  list every version of a record
  verify   check a resource or its hash against the ledger (no token needed)

Every command takes --help. Common flags: --server (or HX_RECORDS_URL),
--ca, --token (or HX_TOKEN), --json.

Exit codes: 0 ok (verify: a match), 1 the command failed (verify: no match),
2 usage.
`

// Run runs one command; the result is the process exit code (0 ok, 1 the
// command failed or verify found no match, 2 usage). Standard input is read
// only for a FILE of "-".
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, os.Stdin, stdout, stderr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "clinician: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	fs := flag.NewFlagSet("clinician "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &opts{in: stdin, out: stdout, errOut: stderr}
	o.common(fs)
	runCmd := cmd.flags(fs, o)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: clinician %s %s\n\n%s\n\nFlags:\n", args[0], cmd.args, cmd.help)
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o.args = positional
	if o.token == "" {
		o.token = os.Getenv("HX_TOKEN")
	}
	err = runCmd(ctx)
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errNoMatch):
		return 1
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "clinician %s: %v\n", args[0], err)
		fs.Usage()
		return 2
	default:
		fmt.Fprintf(stderr, "clinician %s: %v\n", args[0], err)
		return 1
	}
}

// errNoMatch is verify's answer "no match", already printed: exit 1 with
// nothing more said.
var errNoMatch = errors.New("no match")

// parseInterspersed parses flags that may come before or after the
// positional arguments (clinician get R-1 --patient pat-1).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
}

// usageError is a mistake in the command line, as opposed to a failure
// while doing what it asked.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

type command struct {
	args, help string
	flags      func(fs *flag.FlagSet, o *opts) func(context.Context) error
}

// opts are the flags every command shares, and where it reads and writes.
type opts struct {
	server, ca, token string
	json              bool
	in                io.Reader
	out, errOut       io.Writer
	args              []string
}

func (o *opts) common(fs *flag.FlagSet) {
	fs.StringVar(&o.server, "server", envOr("HX_RECORDS_URL", DefaultServer), "the records service's HTTP/JSON gateway")
	fs.StringVar(&o.ca, "ca", apiclient.DevCA(), "CA certificate that signed the service's TLS certificate")
	// The token is read from HX_TOKEN after parsing, never shown as a default.
	fs.StringVar(&o.token, "token", "", "your bearer token (default: $HX_TOKEN)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// client is a client of the records gateway as the clinician: the call
// needs a token.
func (o *opts) client() (*apiclient.Client, error) {
	if o.token == "" {
		return nil, errors.New("no bearer token: pass --token or set HX_TOKEN")
	}
	return apiclient.New(o.server, o.ca, o.token)
}

// publicClient is a client for a public call: the token is sent only if
// there is one.
func (o *opts) publicClient() (*apiclient.Client, error) {
	return apiclient.New(o.server, o.ca, o.token)
}

// show prints a response as JSON (--json) or with text.
func (o *opts) show(m proto.Message, text func(w io.Writer)) error {
	if o.json {
		raw, err := marshalJSON(m)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.out, string(raw))
		return err
	}
	tw := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

func marshalJSON(m proto.Message) ([]byte, error) {
	return protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Marshal(m)
}

func noArgs(o *opts) error {
	if len(o.args) != 0 {
		return usagef("unexpected arguments %v", o.args)
	}
	return nil
}

func oneArg(o *opts, what string) (string, error) {
	if len(o.args) != 1 {
		return "", usagef("want exactly one %s", what)
	}
	return o.args[0], nil
}

// requirePatient fails with a usage error when --patient is missing.
func requirePatient(p string) error {
	if p == "" {
		return usagef("--patient is required")
	}
	return nil
}
