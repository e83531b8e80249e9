//go:build integration

package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/apps/patientcli"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/mtls"
)

// Consentd is a running consentd.
type Consentd struct {
	*Process
	GRPCAddr, HTTPAddr, StateDir, EnvPath string
}

// NewConsentd runs the consentd binary bin on free loopback addresses with
// a temporary state folder and the test network's description, then extra
// flags, and waits until its health check says SERVING (its view follows
// the ledger).
func NewConsentd(t testing.TB, bin string, extra ...string) *Consentd {
	t.Helper()
	c := &Consentd{GRPCAddr: FreeAddr(t), HTTPAddr: FreeAddr(t), StateDir: t.TempDir(), EnvPath: devenv.DefaultPath()}
	c.Process = StartDaemon(t, bin, c.Flags(extra...), c.GRPCAddr)
	return c
}

// Flags is consentd's command line for c's network description, state
// folder and addresses, then extra: for StartProcess, or for c.Args before
// a restart with other flags.
func (c *Consentd) Flags(extra ...string) []string {
	return append([]string{"-env", c.EnvPath, "-state", c.StateDir, "-grpc", c.GRPCAddr, "-http", c.HTTPAddr}, extra...)
}

// Decisions dials the decision service as the records service would:
// mutual TLS with its own certificate, and the user's token per call.
func (c *Consentd) Decisions(t testing.TB) consentv1.DecisionServiceClient {
	t.Helper()
	return consentv1.NewDecisionServiceClient(Dial(t, c.GRPCAddr, "records"))
}

// Dial connects to a service's gRPC address with mutual TLS, as the named
// holder of a development certificate ("app-clinician", "app-patient", "app-researcher" or "app-operator" for an app,
// "device-wearable" for a wearable, or a service's name); the connection closes when the test ends.
func Dial(t testing.TB, addr, as string) *grpc.ClientConn {
	t.Helper()
	files := Env(t).TLS(as)
	tlsCfg, err := mtls.ClientConfig(files.CAFile, files.CertFile, files.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// CLI runs the patient CLI against this service, with --json, and returns
// its standard output.
func (c *Consentd) CLI(t testing.TB, tok, keyFile string, args ...string) (string, error) {
	t.Helper()
	full := append([]string{args[0], "--server", "https://" + c.HTTPAddr, "--ca", Env(t).ServicesTLS.CA,
		"--token", tok, "--key", keyFile, "--json"}, args[1:]...)
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code := patientcli.Run(ctx, full, &out, &errOut); code != 0 {
		return out.String(), fmt.Errorf("patient %s: exit %d: %s", args[0], code, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// Grant runs `patient grant` with args and returns the consent id.
func (c *Consentd) Grant(t testing.TB, p Patient, args ...string) string {
	t.Helper()
	out, err := c.CLI(t, p.Token, p.Key, append([]string{"grant"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Consent struct {
			ConsentID string `json:"consentId"`
			Status    string `json:"status"`
		} `json:"consent"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Consent.Status != "active" {
		t.Fatalf("grant output %q: %v", out, err)
	}
	return resp.Consent.ConsentID
}

// Patient is a registered patient.
type Patient struct {
	ID    string // the patient id
	Token string // a development token for the patient
	Key   string // the patient's key file
}

// NewPatient makes a key for a new patient id and registers the patient
// through the patient CLI against c.
func NewPatient(t testing.TB, c *Consentd) Patient {
	t.Helper()
	p := Patient{ID: Unique("pat"), Key: filepath.Join(t.TempDir(), "key.json")}
	p.Token = Token(t, p.ID, auth.RolePatient, "")
	if _, err := c.CLI(t, p.Token, p.Key, "keygen", "--id", p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CLI(t, p.Token, p.Key, "register"); err != nil {
		t.Fatal(err)
	}
	return p
}

// Authorize asks for one decision with the user's token.
func Authorize(ctx context.Context, t testing.TB, dc consentv1.DecisionServiceClient, tok string, req *consentv1.AuthorizeRequest) (*consentv1.Decision, error) {
	t.Helper()
	resp, err := dc.Authorize(ctx, req, grpc.PerRPCCredentials(auth.Bearer(tok)))
	return resp.GetDecision(), err
}

// ProtojsonUnmarshal reads the CLI's JSON output into m, ignoring fields m
// does not know.
func ProtojsonUnmarshal(s string, m proto.Message) error {
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal([]byte(s), m)
}
