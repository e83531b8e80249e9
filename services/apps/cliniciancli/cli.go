// Package cliniciancli is the clinician's command-line app: it stores FHIR
// records, reads them back verified against the ledger, lists them and their
// history, and checks a resource against the notary, all through the records
// service's HTTP/JSON gateway with the clinician's token; and it reads a
// patient's wearable vitals from the ingest service's gateway and checks a
// reading's proof itself (device signature, batch contents, Merkle path to
// the anchored root) rather than taking the service's word for it.
//
// The token is never printed, a record's content is written only where the
// user asked (stdout or a 0600 file), and a proof is never reported verified
// unless every check passed here.
package cliniciancli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"healthexchange/services/apps/internal/apiclient"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/dev/devenv"
)

// Run runs one command; the result is the process exit code (0 ok, 1 the
// command failed, verify found no match or proof did not verify, 2 usage).
// Standard input is read only for a FILE of "-".
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, os.Stdin, stdout, stderr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := &opts{in: stdin, out: stdout, errOut: stderr, now: time.Now}
	return o.app().Run(ctx, args, stderr)
}

// app is the clinician app, its commands working with o.
func (o *opts) app() *clikit.App {
	return &clikit.App{
		Name:    "clinician",
		Summary: "the clinician's app for the health exchange's records and wearable vitals.",
		Common:  o.common,
		Commands: []clikit.Command{
			{Name: "put", Summary: "store a FHIR resource as a new record or a new version",
				Args: "--patient P [--record R] [--base-version N] [--idempotency-key K] [--purpose P] FILE",
				Help: "Store the FHIR R4 JSON resource in FILE (- for standard input) as a new record of the patient, or with --record as a new\n" +
					"version of it. Without --idempotency-key a random key is made and printed on stderr: retry with it and a put that did\n" +
					"happen is answered again instead of stored twice.", Flags: o.records(o.put)},
			{Name: "get", Summary: "read a record, verified against the ledger",
				Args: "--patient P [--version N] [--purpose P] [--break-glass REASON] [--out FILE] RECORD",
				Help: "Read a record (its latest version by default). The service checks it against the hash notarized on the ledger before\n" +
					"answering. The resource (exactly the bytes that were filed and hashed) goes to --out (mode 0600) or stdout; with\n" +
					"--json the whole answer does instead.", Flags: o.records(o.get)},
			{Name: "list", Summary: "list a patient's records you may read",
				Args: "--patient P [--page-size N] [--page-token T] [--all] [--purpose P]",
				Help: "List the latest version of each of the patient's records you may read, and how many were withheld for lack of consent.", Flags: o.records(o.list)},
			{Name: "history", Summary: "list every version of a record", Args: "--patient P [--purpose P] RECORD",
				Help: "List every notarized version of a record, oldest first, each with the hash it links to.", Flags: o.records(o.history)},
			{Name: "verify", Summary: "check a resource or its hash against the ledger (no token needed)",
				Args: "[--record R] FILE | [--record R] --sha256 H",
				Help: "Check a resource (FILE, - for standard input, exactly as filed: a reformatted copy does not match) or its SHA-256 against the ledger's notarizations. Needs no\n" +
					"token (one is sent if given). Exit code 0 when it matches, 1 when it does not (or the check failed), 2 on usage errors.", Flags: o.records(o.verify)},
			{Name: "vitals", Summary: "read a patient's wearable readings from the ingest service",
				Args: "--patient P [--kind K] [--from T] [--to T] [--last D] [--limit N] [--purpose P] [--ingest-server URL]",
				Help: "Read the patient's readings (category vitals), oldest first: of one --kind or all, from --from (inclusive) to\n" +
					"--to (exclusive, default now), or over the --last D up to now (default --last 24h); at most 7 days. Prints TIME,\n" +
					"KIND, VALUE (blood pressure as systolic/diastolic), UNIT and where the reading came from: DEVICE, SEQ (its batch)\n" +
					"and INDEX (its place in the batch), which clinician proof takes.\n\n" +
					"Kinds: " + kindNames + ".", Flags: o.vitals},
			{Name: "proof", Summary: "fetch a reading's proof and verify it here",
				Args: "--patient P --device D --seq N --index I [--purpose P] [--ingest-server URL]",
				Help: "Fetch the proof of one reading (see vitals for DEVICE, SEQ and INDEX) and verify it here, without trusting the\n" +
					"service: the device's Ed25519 signature over the batch, the reading at INDEX of the signed batch equal to the\n" +
					"reading returned, and the RFC 9162 inclusion path from the batch's leaf to the root anchored on the ledger. The\n" +
					"device key and the anchor are as the service read them from the ledger; the anchor's tx id lets anyone with\n" +
					"ledger access confirm them.\n\n" +
					"Exit codes: 0 VERIFIED, 1 NOT VERIFIED (the reason is printed) or the proof could not be fetched, 2 usage.", Flags: o.proof},
			{Name: "register-minor", Summary: "register a child who has no key yet, with the guardian's signed file (consent service)",
				Args: "[--consent-server URL] FILE",
				Help: "Register, as your hospital, a child who has no key of their own: FILE is the registration the parent or guardian signed\n" +
					"(`patient register-child`), after you checked who they are. The ledger records your hospital as the registrar and\n" +
					"gives the guardian a delegation for the child until their majority; nothing can be signed as the child until they\n" +
					"claim the entry (claim-key).", Flags: o.consent(o.registerMinor)},
			{Name: "claim-key", Summary: "attest, at majority, a patient's claim of the entry your hospital registered for them as a child",
				Args: "[--consent-server URL] FILE",
				Help: "FILE is the claim the patient signed with their new key (`patient claim`), after you checked it is them. Only the\n" +
					"hospital that registered the child may attest it, and only from their majority on.", Flags: o.consent(o.claimKey)},
		},
		Footer: `Every command takes --help. Common flags: --ca, --token (or HX_TOKEN),
--json. The records commands call --server (or HX_RECORDS_URL); vitals and
proof call the ingest service, --ingest-server (or HX_INGEST_URL);
register-minor and claim-key the consent service, --consent-server (or
HX_CONSENT_URL).

Exit codes: 0 ok (verify: a match; proof: verified), 1 the command failed
(verify: no match; proof: not verified), 2 usage.
`,
	}
}

// errNoMatch is verify's answer "no match", already printed: exit 1 with
// nothing more said.
var errNoMatch = fmt.Errorf("no match (%w)", clikit.ErrReported)

// opts are the flags every command shares, and where it reads and writes.
type opts struct {
	server, ca, token string
	json              bool
	in                io.Reader
	out, errOut       io.Writer
	// now is the clock of vitals --last.
	now func() time.Time
}

func (o *opts) common(fs *flag.FlagSet) {
	fs.StringVar(&o.ca, "ca", devenv.CA(), "CA certificate that signed the service's TLS certificate")
	// The token is read from HX_TOKEN when it is used (bearer), never shown
	// as a default.
	fs.StringVar(&o.token, "token", "", "your bearer token (default: $HX_TOKEN)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
}

// records adds --server, the records service's gateway, to the flags of a
// command that calls it.
func (o *opts) records(flags func(fs *flag.FlagSet) func(context.Context, []string) error) func(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(fs *flag.FlagSet) func(context.Context, []string) error {
		fs.StringVar(&o.server, "server", devenv.ServerURL("records"), "the records service's HTTP/JSON gateway ($HX_RECORDS_URL, else the development network's)")
		return flags(fs)
	}
}

// client is a client of the records gateway as the clinician: the call
// needs a token.
func (o *opts) client() (*apiclient.Client, error) {
	return o.clientOf("records", "--server", o.server)
}

// clientOf is a client of the named service's gateway at server (set by
// addressFlag) as the clinician: the call needs a token.
func (o *opts) clientOf(service, addressFlag, server string, options ...apiclient.Option) (*apiclient.Client, error) {
	if o.bearer() == "" {
		return nil, errors.New("no bearer token: pass --token or set HX_TOKEN")
	}
	return o.dial(service, addressFlag, server, options...)
}

// publicClient is a client of the records gateway for a public call: the
// token is sent only if there is one.
func (o *opts) publicClient() (*apiclient.Client, error) {
	return o.dial("records", "--server", o.server)
}

func (o *opts) dial(service, addressFlag, server string, options ...apiclient.Option) (*apiclient.Client, error) {
	return apiclient.ForApp(apiclient.App{Service: service, AddressFlag: addressFlag, BaseURL: server, CAFile: o.ca,
		Token: o.bearer(), Hint: devenv.UnreachableHint}, options...)
}

// bearer is the token: --token, else $HX_TOKEN.
func (o *opts) bearer() string { return cmp.Or(o.token, os.Getenv("HX_TOKEN")) }

// show prints a response as JSON (--json) or with text.
func (o *opts) show(m proto.Message, text func(w io.Writer)) error {
	return clikit.Show(o.out, o.json, m, text)
}

// requirePatient fails with a usage error when --patient is missing.
func requirePatient(p string) error {
	if p == "" {
		return clikit.Usagef("--patient is required")
	}
	return nil
}
