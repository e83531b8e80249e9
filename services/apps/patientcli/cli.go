// Package patientcli is the patient's command-line app: it keeps the
// patient's key on their machine (0600), signs consent and device changes
// with it, and talks to the consent service's HTTP/JSON gateway (and the
// records service's, to erase) with the patient's token.
//
// The private key never leaves this process except into the key file, and
// the token is never printed.
package patientcli

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/apps/internal/apiclient"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/ledger"
)

// Run runs one command; the result is the process exit code (0 ok, 1 the
// command failed, 2 usage).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &opts{out: stdout}
	return o.app().Run(ctx, args, stderr)
}

// opts are the flags every command shares, and where it writes.
type opts struct {
	server, ca, token, keyPath string
	json                       bool
	out                        io.Writer
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
	fs.StringVar(&o.server, "server", devenv.ServerURL("consent"), "the consent service's HTTP/JSON gateway ($HX_CONSENT_URL, else the development network's)")
	fs.StringVar(&o.ca, "ca", devenv.CA(), "CA certificate that signed the service's TLS certificate")
	// The token is read from HX_TOKEN when it is used, never shown as a default.
	fs.StringVar(&o.token, "token", "", "your bearer token (role patient; default: $HX_TOKEN)")
	fs.StringVar(&o.keyPath, "key", defaultKeyPath(), "your key file")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
}

// gateway is a client of the consent service's gateway, as the patient.
func (o *opts) gateway() (*apiclient.Client, error) {
	return o.client("consent", o.server, "--server")
}

// call makes one call to the consent service's gateway.
func (o *opts) call(ctx context.Context, method, path string, req, resp proto.Message) error {
	g, err := o.gateway()
	if err != nil {
		return err
	}
	return g.Call(ctx, method, path, req, resp)
}

// client is a client of the named service's gateway at server, as the
// patient: every patient call carries the token. flagName is the flag that
// sets server, for the error when it is empty.
func (o *opts) client(service, server, flagName string) (*apiclient.Client, error) {
	token := cmp.Or(o.token, os.Getenv("HX_TOKEN"))
	if token == "" {
		return nil, errors.New("no bearer token: pass --token or set HX_TOKEN")
	}
	return apiclient.ForApp(apiclient.App{Service: service, AddressFlag: flagName, BaseURL: server, CAFile: o.ca,
		Token: token, Hint: devenv.UnreachableHint})
}

// loadKey reads the patient's key, saying how to make one when there is
// none.
func (o *opts) loadKey() (*patientkey.Key, error) {
	k, err := patientkey.Load(o.keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no key at %s: make one with `patient keygen --id YOUR_PATIENT_ID` and register it with `patient register`, "+
			"or point --key (or HX_PATIENT_KEY) at yours", o.keyPath)
	}
	return k, err
}

// show prints a response as JSON (--json) or with text.
func (o *opts) show(m any, text func(w io.Writer)) error { return clikit.Show(o.out, o.json, m, text) }

// submit signs a change with the patient's key and sends it: see submitAs.
func (o *opts) submit(ctx context.Context, sign func(k *patientkey.Key) (ledger.Signed, error), send func(*consentv1.SignedPayload) error) error {
	k, err := o.loadKey()
	if err != nil {
		return err
	}
	return o.submitAs(ctx, k, o.keyPath, (*consentv1.Patient).GetNonce, sign, send)
}

// submitAs signs a change with k (saved at keyPath) and sends it. The nonce
// is a counter, never the clock: one above both the last nonce this key file
// signed with and the last nonce the ledger accepted (nonceOf the patient's
// entry, read first), so a device that was idle while another signed catches
// up, and a device with a wrong clock locks nobody out. The key file is saved
// with its new nonce before anything is sent, so no nonce is signed twice,
// even after a crash. When another device took the same nonce in the
// meantime, the ledger refuses it as stale: the change is signed again once
// above it.
func (o *opts) submitAs(ctx context.Context, k *patientkey.Key, keyPath string, nonceOf func(*consentv1.Patient) uint64,
	sign func(k *patientkey.Key) (ledger.Signed, error), send func(*consentv1.SignedPayload) error) error {
	g, err := o.gateway()
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		entry := &consentv1.GetPatientResponse{}
		if err := g.Call(ctx, "GET", "/v1/patients/me", nil, entry); err != nil {
			return fmt.Errorf("reading your ledger entry (for the next nonce): %w", err)
		}
		k.SetNonce(nonceOf(entry.GetPatient()))
		s, err := sign(k)
		if err != nil {
			return err
		}
		if err := k.Save(keyPath); err != nil {
			return err
		}
		err = send(&consentv1.SignedPayload{Payload: s.Payload, Signature: s.Signature})
		if attempt == 0 && staleNonce(err) {
			continue
		}
		return err
	}
}

// staleNonce reports whether a service refused a change for its nonce.
func staleNonce(err error) bool {
	var refused *apiclient.StatusError
	return errors.As(err, &refused) && refused.Code == int(codes.FailedPrecondition) && strings.Contains(refused.Message, "nonce")
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

func newConsentID() string { return newID("c-") }

// newID is prefix and 16 random hex digits.
func newID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// validity turns --not-before, --expires and --for into the consent's window.
func validity(notBefore, expires string, lasting time.Duration) (string, string, error) {
	if expires != "" && lasting != 0 {
		return "", "", clikit.Usagef("give --expires or --for, not both")
	}
	for _, t := range []string{notBefore, expires} {
		if t != "" {
			if _, err := time.Parse(time.RFC3339, t); err != nil {
				return "", "", clikit.Usagef("%q is not an RFC 3339 time (e.g. 2026-12-31T00:00:00Z)", t)
			}
		}
	}
	if lasting < 0 {
		return "", "", clikit.Usagef("--for must be positive")
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
	by := ""
	if c.GetGrantedBy() != "" {
		by += "  granted by a delegate (" + c.GetGrantedBy() + ")"
	}
	if c.GetRevokedBy() != "" {
		by += "  revoked by a delegate (" + c.GetRevokedBy() + ")"
	}
	fmt.Fprintf(w, "%s\t%s\t%s:%s\t%s\t%s\t%s\t%s%s\n", c.GetConsentId(), c.GetStatus(), c.GetGrantee().GetKind(), c.GetGrantee().GetId(),
		strings.Join(c.GetCategories(), ","), strings.Join(c.GetPurposes(), ","), records, window, by)
}

func printRequest(w io.Writer, r *consentv1.AccessRequest) {
	fmt.Fprintf(w, "%s\t%s\t%s (%s, %s)\t%s\t%s\t%s\n", r.GetRequestId(), r.GetState(), r.GetRequester(), r.GetRequesterRole(),
		r.GetRequesterOrg(), strings.Join(r.GetCategories(), ","), strings.Join(r.GetPurposes(), ","), r.GetReason())
}

func printDevice(w io.Writer, d *consentv1.Device) {
	when := "since " + d.GetRegisteredAt()
	if d.GetRevokedAt() != "" {
		when += " until " + d.GetRevokedAt()
	}
	fmt.Fprintf(w, "device\t%s\nstatus\t%s (%s)\npatient\t%s\npublic key\t%s\n", d.GetDeviceId(), d.GetStatus(), when, d.GetPatientId(), d.GetPublicKey())
}
