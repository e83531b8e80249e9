//go:build integration

package consent_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/auth"
	"healthexchange/services/auth/devissuer"
	"healthexchange/services/devenv"
	"healthexchange/services/mtls"
	"healthexchange/services/patientcli"
)

// These tests run the real consentd binary against the real test network
// (make test-integration brings it up), with the real policies.

var consentdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "consentd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	consentdBin = filepath.Join(dir, "consentd")
	build := exec.Command("go", "build", "-o", consentdBin, "healthexchange/services/cmd/consentd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building consentd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func env(t testing.TB) devenv.Env {
	t.Helper()
	e, err := devenv.Load(devenv.DefaultPath())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

// consentd is one running service process.
type consentd struct {
	t          testing.TB
	grpcAddr   string
	httpAddr   string
	stateDir   string
	envPath    string
	extraFlags []string
	// ready is the log message that says the process is ready.
	ready string
	cmd   *exec.Cmd
	mu    sync.Mutex
	logs  bytes.Buffer
}

func newConsentd(t testing.TB, extra ...string) *consentd {
	c := &consentd{t: t, grpcAddr: freeAddr(t), httpAddr: freeAddr(t), stateDir: t.TempDir(),
		envPath: devenv.DefaultPath(), extraFlags: extra, ready: "consent view: following the ledger"}
	c.start()
	t.Cleanup(c.stop)
	return c
}

func (c *consentd) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.Write(p)
}

// log returns what the process has logged so far.
func (c *consentd) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

// start runs the process and waits until it logs c.ready.
func (c *consentd) start() {
	c.t.Helper()
	args := append([]string{"-env", c.envPath, "-state", c.stateDir, "-grpc", c.grpcAddr, "-http", c.httpAddr}, c.extraFlags...)
	offset := len(c.log())
	c.cmd = exec.Command(consentdBin, args...)
	c.cmd.Stdout, c.cmd.Stderr = c, c
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.waitLogAfter(offset, c.ready, 60*time.Second)
}

// waitLog polls the log for a line containing s.
func (c *consentd) waitLog(s string, within time.Duration) { c.waitLogAfter(0, s, within) }

// waitLogAfter polls the log written after offset for s.
func (c *consentd) waitLogAfter(offset int, s string, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(c.log()[offset:], s) {
		if time.Now().After(deadline) {
			c.t.Fatalf("consentd did not log %q within %v; its log:\n%s", s, within, c.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the process at once, as a crash would.
func (c *consentd) kill() {
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

func (c *consentd) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// logLines returns the JSON log records whose msg is msg.
func (c *consentd) logLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(c.log()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// token issues a development token.
func token(t testing.TB, sub string, role auth.Role, org string) string {
	t.Helper()
	e := env(t)
	iss, err := devissuer.Load(e.DevIdP.Issuer, e.DevIdP.Key)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(devissuer.Claims{Subject: sub, Audience: e.DevIdP.Audience, Role: role, Org: org}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// decisions dials the decision service as the records service would: mutual
// TLS with its own certificate, and the user's token per call.
func (c *consentd) decisions(t testing.TB) consentv1.DecisionServiceClient {
	t.Helper()
	files := env(t).TLS("records")
	tlsCfg, err := mtls.ClientConfig(files.CAFile, files.CertFile, files.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(c.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return consentv1.NewDecisionServiceClient(conn)
}

// cli runs the patient CLI against this service and returns its stdout.
func (c *consentd) cli(t testing.TB, tok, keyFile string, args ...string) (string, error) {
	t.Helper()
	full := append([]string{args[0], "--server", "https://" + c.httpAddr, "--ca", env(t).ServicesTLS.CA,
		"--token", tok, "--key", keyFile, "--json"}, args[1:]...)
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code := patientcli.Run(ctx, full, &out, &errOut); code != 0 {
		return out.String(), fmt.Errorf("patient %s: exit %d: %s", args[0], code, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// patient is a registered patient: id, token and key file.
type patient struct {
	id, token, key string
}

func newPatient(t testing.TB, c *consentd) patient {
	t.Helper()
	p := patient{id: unique("pat"), key: filepath.Join(t.TempDir(), "key.json")}
	p.token = token(t, p.id, auth.RolePatient, "")
	if _, err := c.cli(t, p.token, p.key, "keygen", "--id", p.id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.cli(t, p.token, p.key, "register"); err != nil {
		t.Fatal(err)
	}
	return p
}

// grant runs `patient grant` and returns the consent id.
func (c *consentd) grant(t testing.TB, p patient, args ...string) string {
	t.Helper()
	out, err := c.cli(t, p.token, p.key, append([]string{"grant"}, args...)...)
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

// authorize asks for one decision with the user's token.
func authorize(ctx context.Context, t testing.TB, dc consentv1.DecisionServiceClient, tok string, req *consentv1.AuthorizeRequest) (*consentv1.Decision, error) {
	t.Helper()
	resp, err := dc.Authorize(ctx, req, grpc.PerRPCCredentials(auth.Bearer(tok)))
	return resp.GetDecision(), err
}

func protojsonUnmarshal(s string, m proto.Message) error {
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal([]byte(s), m)
}
