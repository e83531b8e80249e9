// Package partnercli holds the command-line apps of the exchange's partner
// organisations: the pharmacist's (verify a prescription against the
// notary and record a fill on the ledger) and the insurer's (check a
// claim's documents against the notary without reading any record). Both
// call the records service's HTTP/JSON gateway.
//
// The token is never printed, and a document is never reported valid or
// fillable unless the service's answer says so in full.
package partnercli

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/proto"

	"healthexchange/services/apps/internal/apiclient"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/dev/devenv"
)

// opts are the flags every command shares, and where it reads and writes.
type opts struct {
	server, ca, token string
	json              bool
	in                io.Reader
	out               io.Writer
}

func (o *opts) common(fs *flag.FlagSet) {
	fs.StringVar(&o.ca, "ca", devenv.CA(), "CA certificate that signed the service's TLS certificate")
	fs.StringVar(&o.token, "token", "", "your bearer token (default: $HX_TOKEN)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
	fs.StringVar(&o.server, "server", devenv.ServerURL("records"), "the records service's HTTP/JSON gateway ($HX_RECORDS_URL, else the development network's)")
}

// client is a client of the records gateway; with needToken, the call
// needs the caller's token.
func (o *opts) client(needToken bool) (*apiclient.Client, error) {
	token := cmp.Or(o.token, os.Getenv("HX_TOKEN"))
	if needToken && token == "" {
		return nil, errors.New("no bearer token: pass --token or set HX_TOKEN")
	}
	return apiclient.ForApp(apiclient.App{Service: "records", AddressFlag: "--server", BaseURL: o.server, CAFile: o.ca,
		Token: token, Hint: devenv.UnreachableHint})
}

// show prints a response as JSON (--json) or with text.
func (o *opts) show(m proto.Message, text func(w io.Writer)) error {
	return clikit.Show(o.out, o.json, m, text)
}

// errNotValid is a verdict already printed (NOT FILLABLE, NO MATCH): exit 1
// with nothing more said.
var errNotValid = fmt.Errorf("not valid (%w)", clikit.ErrReported)

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

const footer = `Every command takes --help. Common flags: --ca, --token (or HX_TOKEN),
--json, --server (or HX_RECORDS_URL).

Exit codes: 0 ok (verify: valid), 1 the command failed or the document is
not valid (the reasons are printed), 2 usage.
`
