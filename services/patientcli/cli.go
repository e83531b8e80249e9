// Package patientcli is the patient's command-line app: it keeps the
// patient's key on their machine (0600), signs consent changes with it, and
// talks to the consent service's HTTP/JSON gateway (and the records
// service's, to erase) with the patient's token.
//
// The private key never leaves this process except into the key file, and
// the token is never printed.
package patientcli

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/apiclient"
	"healthexchange/services/ledger"
	"healthexchange/services/patientkey"
)

const usage = `patient: the patient's app for the health exchange.

Usage: patient COMMAND [flags]

Commands:
  keygen      make a new key for a patient id and save it (0600)
  register    register the key on the ledger (signed by the key itself)
  grant       give someone access to categories of your records
  revoke      take a consent back
  consents    list your consents
  access-log  see who accessed your data, allowed or denied
  requests    list access requests addressed to you
  approve     grant what an access request asked for
  deny        refuse an access request
  erase       erase all your records for good (records service)

Every command takes --help. Common flags: --server, --ca, --token (or
HX_TOKEN), --key (or HX_PATIENT_KEY), --json.
`

// Run runs one command; the result is the process exit code (0 ok, 1 the
// command failed, 2 usage).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "patient: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	fs := flag.NewFlagSet("patient "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &opts{out: stdout}
	o.common(fs)
	run := cmd.flags(fs, o)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: patient %s %s\n\n%s\n\nFlags:\n", args[0], cmd.args, cmd.help)
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
	if err := run(ctx); err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(stderr, "patient %s: %v\n", args[0], err)
			fs.Usage()
			return 2
		}
		fmt.Fprintf(stderr, "patient %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// parseInterspersed parses flags that may come before or after the
// positional arguments (patient approve REQ --for 168h).
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

type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

type command struct {
	args, help string
	flags      func(fs *flag.FlagSet, o *opts) func(context.Context) error
}

// opts are the flags every command shares.
type opts struct {
	server, ca, token, keyPath string
	json                       bool
	out                        io.Writer
	args                       []string
}

func defaultKeyPath() string {
	if p := os.Getenv("HX_PATIENT_KEY"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "patient-key.json"
	}
	return filepath.Join(home, ".health-exchange", "patient-key.json")
}

func (o *opts) common(fs *flag.FlagSet) {
	fs.StringVar(&o.server, "server", envOr("HX_CONSENT_URL", "https://127.0.0.1:27102"), "the consent service's HTTP/JSON gateway")
	fs.StringVar(&o.ca, "ca", apiclient.DevCA(), "CA certificate that signed the service's TLS certificate")
	// The token is read from HX_TOKEN after parsing, never shown as a default.
	fs.StringVar(&o.token, "token", "", "your bearer token (role patient; default: $HX_TOKEN)")
	fs.StringVar(&o.keyPath, "key", defaultKeyPath(), "your key file")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// gateway is a client of the consent service's gateway, as the patient.
func (o *opts) gateway() (*apiclient.Client, error) { return o.client(o.server) }

// client is a client of a service's gateway at server, as the patient: every
// patient call carries the token.
func (o *opts) client(server string) (*apiclient.Client, error) {
	if o.token == "" {
		return nil, errors.New("no bearer token: pass --token or set HX_TOKEN")
	}
	return apiclient.New(server, o.ca, o.token)
}

// show prints a response as JSON (--json) or with text.
func (o *opts) show(m any, text func(w io.Writer)) error {
	if o.json {
		var raw []byte
		var err error
		if pm, ok := m.(proto.Message); ok {
			raw, err = protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Marshal(pm)
		} else {
			raw, err = json.MarshalIndent(m, "", "  ")
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(o.out, string(raw))
		return nil
	}
	tw := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

// signing loads the key and moves its nonce to at least the clock in
// microseconds (nonces only need to grow, and this keeps two devices of the
// same patient apart), then saves it before anything is sent: a nonce is
// never used twice, even after a crash.
func (o *opts) signing(sign func(k *patientkey.Key) (ledger.Signed, error)) (*consentv1.SignedPayload, error) {
	k, err := patientkey.Load(o.keyPath)
	if err != nil {
		return nil, err
	}
	k.SetNonce(uint64(time.Now().UnixMicro()))
	s, err := sign(k)
	if err != nil {
		return nil, err
	}
	if err := k.Save(o.keyPath); err != nil {
		return nil, err
	}
	return &consentv1.SignedPayload{Payload: s.Payload, Signature: s.Signature}, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func newConsentID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "c-" + hex.EncodeToString(b)
}

// validity turns --not-before, --expires and --for into the consent's window.
func validity(notBefore, expires string, lasting time.Duration) (string, string, error) {
	if expires != "" && lasting != 0 {
		return "", "", usagef("give --expires or --for, not both")
	}
	for _, t := range []string{notBefore, expires} {
		if t != "" {
			if _, err := time.Parse(time.RFC3339, t); err != nil {
				return "", "", usagef("%q is not an RFC 3339 time (e.g. 2026-12-31T00:00:00Z)", t)
			}
		}
	}
	if lasting < 0 {
		return "", "", usagef("--for must be positive")
	}
	if lasting > 0 {
		start := time.Now()
		if notBefore != "" {
			start, _ = time.Parse(time.RFC3339, notBefore)
		}
		expires = ledgerapi.FormatTime(start.Add(lasting))
	}
	return notBefore, expires, nil
}

func printConsent(w io.Writer, c *consentv1.Consent) {
	window := "from " + cmp.Or(c.GetNotBefore(), c.GetGrantedAt())
	if c.GetExpiresAt() != "" {
		window += " until " + c.GetExpiresAt()
	}
	records := "all records"
	if len(c.GetRecordIds()) > 0 {
		records = "records " + strings.Join(c.GetRecordIds(), ",")
	}
	fmt.Fprintf(w, "%s\t%s\t%s:%s\t%s\t%s\t%s\t%s\n", c.GetConsentId(), c.GetStatus(), c.GetGrantee().GetKind(), c.GetGrantee().GetId(),
		strings.Join(c.GetCategories(), ","), strings.Join(c.GetPurposes(), ","), records, window)
}

func printRequest(w io.Writer, r *consentv1.AccessRequest) {
	fmt.Fprintf(w, "%s\t%s\t%s (%s, %s)\t%s\t%s\t%s\n", r.GetRequestId(), r.GetState(), r.GetRequester(), r.GetRequesterRole(),
		r.GetRequesterOrg(), strings.Join(r.GetCategories(), ","), strings.Join(r.GetPurposes(), ","), r.GetReason())
}
