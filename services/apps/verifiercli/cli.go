// Package verifiercli is the verifier's command-line app: anyone, with no
// account and no token, checks a SMART Health Card (a vaccination card) of
// the exchange. It decodes the card, asks the exchange whether its issuer
// is a hospital of the exchange and whether the record it copies is
// notarized and not superseded, then fetches the issuer's published keys
// and checks the signature itself. It prints VALID only when every check
// passed.
//
// It never contacts an issuer the exchange does not know, and never
// reports a card valid on the exchange's word alone.
package verifiercli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/apps/internal/apiclient"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/domain/shc"
)

// Run runs one command; the result is the process exit code (0 VALID, 1 NOT
// VALID or the check failed, 2 usage).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &opts{out: stdout}
	app := &clikit.App{
		Name:    "verifier",
		Summary: "check a SMART Health Card of the exchange (no account, no token).",
		Common:  o.common,
		Commands: []clikit.Command{
			{Name: "check", Summary: "check a health card", Args: "CARD",
				Help: "Check CARD: a .smart-health-card file, a file holding the card's JWS or its shc:/ QR content, or that text itself.\n" +
					"The card must be signed by a hospital of the exchange (its issuer registered on the ledger) with a key it publishes at\n" +
					"ISSUER/.well-known/jwks.json (checked here), and copy a record notarized by that hospital and not superseded.\n\n" +
					"Prints VALID and what the card shows, or NOT VALID and every reason. Exit 0 VALID, 1 NOT VALID, 2 usage.", Flags: o.check},
		},
		Footer: `Common flags: --exchange (or HX_RECORDS_URL), --ca, --json.
`,
	}
	return app.Run(ctx, args, stderr)
}

type opts struct {
	exchange, ca string
	json         bool
	out          io.Writer
}

func (o *opts) common(fs *flag.FlagSet) {
	fs.StringVar(&o.exchange, "exchange", devenv.ServerURL("records"), "the exchange's records service, which answers for the ledger ($HX_RECORDS_URL, else the development network's)")
	fs.StringVar(&o.ca, "ca", devenv.CA(), "CA certificate that signed the exchange's and the issuers' TLS certificates (besides the system's)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
}

// errNotValid is NOT VALID, already printed.
var errNotValid = fmt.Errorf("not valid (%w)", clikit.ErrReported)

// maxCardFile bounds what is read of CARD.
const maxCardFile = 128 << 10

// Result is the verdict, as --json prints it.
type Result struct {
	Valid    bool            `json:"valid"`
	Problems []string        `json:"problems"`
	Issuer   string          `json:"issuer,omitempty"`
	Org      string          `json:"org,omitempty"`
	OrgName  string          `json:"orgName,omitempty"`
	Shows    json.RawMessage `json:"fhirBundle,omitempty"`
}

func (o *opts) check(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		arg, err := clikit.OneArg(args, "CARD")
		if err != nil {
			return err
		}
		jws, err := readCard(arg)
		if err != nil {
			return err
		}
		r := o.verify(ctx, jws)
		if o.json {
			data, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(o.out, "%s\n", data)
		} else {
			printResult(o.out, r)
		}
		if !r.Valid {
			return errNotValid
		}
		return nil
	}
}

// verify runs every check; a check that cannot run is a problem, never a
// pass.
func (o *opts) verify(ctx context.Context, jws string) Result {
	var r Result
	card, err := shc.Decode(jws)
	if err != nil {
		r.Problems = append(r.Problems, "not a SMART Health Card: "+err.Error())
		return r
	}
	r.Issuer = card.Payload.Issuer
	ledger, err := o.askExchange(ctx, jws)
	if err != nil {
		r.Problems = append(r.Problems, "the exchange could not be asked: "+err.Error())
		return r
	}
	r.Problems = append(r.Problems, ledger.GetProblems()...)
	r.Org, r.OrgName = ledger.GetOrg(), ledger.GetOrgName()
	if r.Org == "" {
		return r // an unknown issuer is not contacted
	}
	keys, err := o.publishedKeys(ctx, card.Payload.Issuer)
	switch {
	case err != nil:
		r.Problems = append(r.Problems, "the issuer's published keys could not be read: "+err.Error())
	case errors.Is(card.Verify(keys), shc.ErrUnknownKey):
		r.Problems = append(r.Problems, "the issuer does not publish the key the card is signed with")
	case card.Verify(keys) != nil:
		r.Problems = append(r.Problems, "the signature does not verify against the issuer's published keys")
	}
	r.Valid = len(r.Problems) == 0 && ledger.GetValid()
	if r.Valid {
		r.Shows = card.Payload.VC.CredentialSubject.FHIRBundle
	}
	return r
}

func (o *opts) askExchange(ctx context.Context, jws string) (*recordsv1.CheckHealthCardResponse, error) {
	c, err := apiclient.ForApp(apiclient.App{Service: "records", AddressFlag: "--exchange", BaseURL: o.exchange, CAFile: o.ca, Hint: devenv.UnreachableHint})
	if err != nil {
		return nil, err
	}
	resp := &recordsv1.CheckHealthCardResponse{}
	if err := c.Call(ctx, "POST", "/v1/health-cards:check", &recordsv1.CheckHealthCardRequest{Card: jws}, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// publishedKeys fetches ISSUER/.well-known/jwks.json over https (no
// redirects, at most shc.MaxJWKSBytes, 10 seconds).
func (o *opts) publishedKeys(ctx context.Context, issuer string) (shc.JWKS, error) {
	if !strings.HasPrefix(issuer, "https://") {
		return shc.JWKS{}, errors.New("the issuer is not an https URL")
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return shc.JWKS{}, fmt.Errorf("the CA certificate: %w", err)
		}
		pool.AppendCertsFromPEM(pem)
	}
	client := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, "GET", issuer+"/.well-known/jwks.json", nil)
	if err != nil {
		return shc.JWKS{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return shc.JWKS{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return shc.JWKS{}, fmt.Errorf("the issuer answered %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, shc.MaxJWKSBytes+1))
	if err != nil {
		return shc.JWKS{}, err
	}
	return shc.ParseJWKS(data)
}

// readCard reads CARD: a file (a .smart-health-card, a JWS or an shc:/
// text), or, when no such file exists, the JWS or shc:/ text itself; the
// result is the JWS.
func readCard(arg string) (string, error) {
	text := arg
	if _, statErr := os.Stat(arg); statErr == nil || !strings.HasPrefix(arg, shc.NumericPrefix) && strings.Count(arg, ".") != 2 {
		f, err := os.Open(arg)
		if err != nil {
			return "", fmt.Errorf("cannot read the card: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxCardFile+1))
		if err != nil {
			return "", fmt.Errorf("cannot read the card: %w", err)
		}
		if len(data) > maxCardFile {
			return "", fmt.Errorf("%s is larger than %d bytes: not a health card", arg, maxCardFile)
		}
		text = strings.TrimSpace(string(data))
		if strings.HasPrefix(text, "{") {
			var file struct {
				VerifiableCredential []string `json:"verifiableCredential"`
			}
			if err := json.Unmarshal(data, &file); err != nil || len(file.VerifiableCredential) != 1 {
				return "", fmt.Errorf("%s is not a .smart-health-card file with one card", arg)
			}
			text = file.VerifiableCredential[0]
		}
	}
	if strings.HasPrefix(text, shc.NumericPrefix) {
		jws, err := shc.FromNumeric(text)
		if err != nil {
			return "", fmt.Errorf("not a health card QR text: %w", err)
		}
		return jws, nil
	}
	return text, nil
}

// printResult prints the verdict and, for a valid card, what it shows.
func printResult(w io.Writer, r Result) {
	if !r.Valid {
		fmt.Fprintln(w, "NOT VALID")
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
		if r.Issuer != "" {
			fmt.Fprintf(w, "issuer\t%s\n", r.Issuer)
		}
		return
	}
	fmt.Fprintln(w, "VALID")
	fmt.Fprintf(w, "issuer\t%s (%s), %s\n", r.OrgName, r.Org, r.Issuer)
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string          `json:"resourceType"`
				Name         json.RawMessage `json:"name"`
				BirthDate    string          `json:"birthDate"`
				VaccineCode  struct {
					Text   string `json:"text"`
					Coding []struct {
						Display string `json:"display"`
						Code    string `json:"code"`
					} `json:"coding"`
				} `json:"vaccineCode"`
				Occurrence string `json:"occurrenceDateTime"`
				Lot        string `json:"lotNumber"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(r.Shows, &b) != nil {
		return
	}
	for _, e := range b.Entry {
		switch res := e.Resource; res.ResourceType {
		case "Patient":
			if len(res.Name) > 0 {
				fmt.Fprintf(w, "name\t%s\n", res.Name)
			}
			if res.BirthDate != "" {
				fmt.Fprintf(w, "born\t%s\n", res.BirthDate)
			}
		case "Immunization":
			vaccine := res.VaccineCode.Text
			for _, c := range res.VaccineCode.Coding {
				if vaccine == "" {
					vaccine = c.Display
				}
			}
			fmt.Fprintf(w, "vaccine\t%s\n", vaccine)
			fmt.Fprintf(w, "given\t%s\n", res.Occurrence)
			if res.Lot != "" {
				fmt.Fprintf(w, "lot\t%s\n", res.Lot)
			}
		}
	}
}
