package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/mtls"
	"healthexchange/services/platform/mtls/mtlstest"
	"healthexchange/services/platform/serving"
)

// testConfig is a Config for a service on free loopback ports with
// throwaway TLS material; the CA's certificate stands in for an issuer key.
func testConfig(t *testing.T) Config {
	t.Helper()
	ca := mtlstest.NewCA(t, "hx-daemon")
	cert, key := ca.IssueAs(t, "service/svc", "127.0.0.1")
	c := NewConfig("svc")
	c.GRPCAddr, c.HTTPAddr = freeAddr(t), freeAddr(t)
	c.StateDir = filepath.Join(t.TempDir(), "state")
	c.TLS = serving.TLSFiles{CertFile: cert, KeyFile: key, CAFile: ca.CertFile}
	c.Auth.Audience = "svc"
	c.Auth.Issuers = map[string]auth.Issuer{"https://idp.test": {Keys: []string{ca.CertFile}, Roles: []auth.Role{auth.RolePatient}}}
	c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return c
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestRun(t *testing.T) {
	cfg := testConfig(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var platform *Platform
	var closed, backgroundStopped atomic.Bool
	build := func(_ context.Context, p *Platform) (*Service, error) {
		platform = p
		if dir, err := p.StateDir(); err != nil || dir != cfg.StateDir {
			t.Errorf("StateDir = %q, %v", dir, err)
		}
		return &Service{
			Register: func(grpc.ServiceRegistrar) {},
			OpenAPI:  []byte("{}"),
			NotReady: true,
			Background: []func(context.Context){func(ctx context.Context) {
				<-ctx.Done()
				backgroundStopped.Store(true)
			}},
			Close: func() error {
				if !backgroundStopped.Load() {
					t.Error("Close ran before the background functions stopped")
				}
				closed.Store(true)
				return nil
			},
		}, nil
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, cfg, build) }()

	health := healthClient(t, cfg)
	waitHealth(t, ctx, health, healthpb.HealthCheckResponse_NOT_SERVING)
	if fi, err := os.Stat(cfg.StateDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state folder: %v, %v; want a 0700 folder", fi, err)
	}
	platform.SetServing(true)
	waitHealth(t, ctx, health, healthpb.HealthCheckResponse_SERVING)
	platform.SetServing(false)
	waitHealth(t, ctx, health, healthpb.HealthCheckResponse_NOT_SERVING)

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v after cancel, want nil", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after cancel")
	}
	if !closed.Load() {
		t.Error("the service was not closed")
	}
	for _, addr := range []string{cfg.GRPCAddr, cfg.HTTPAddr} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s still in use after Run returned: %v", addr, err)
			continue
		}
		l.Close()
	}
}

func TestRunStopsOnAFailedBuild(t *testing.T) {
	cfg := testConfig(t)
	kek := filepath.Join(t.TempDir(), "kek")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(kek, key, 0o600); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg.Backends.KEKFile, cfg.Backends.KeyDir = kek, keys
	var platform *Platform
	boom := errors.New("boom")
	err := Run(t.Context(), cfg, func(_ context.Context, p *Platform) (*Service, error) {
		platform = p
		if _, err := p.Vault(); err != nil {
			t.Fatal(err)
		}
		return nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the build's error", err)
	}
	if _, err := platform.vault.Seal(t.Context(), "alice", "k", []byte("x")); err == nil {
		t.Error("the vault the build opened is still open")
	}
	for _, addr := range []string{cfg.GRPCAddr, cfg.HTTPAddr} {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("%s answers although the build failed", addr)
		}
	}
}

func TestPlatformSaysWhatIsMissing(t *testing.T) {
	p := newPlatform(NewConfig("records"), nil)
	for name, open := range map[string]func() error{
		"no ledger connection, -ledger-connection": func() error { _, err := p.Ledger(); return err },
		"-kek-file, -key-dir":                      func() error { _, err := p.Vault(); return err },
		"object storage":                           func() error { _, err := p.Bucket(t.Context(), "records"); return err },
		"-consent":                                 func() error { _, err := p.Decisions(); return err },
		"the state folder is required (-state)":    func() error { _, err := p.StateDir(); return err },
	} {
		err := open()
		want := name
		if i := strings.LastIndex(name, ", "); i >= 0 {
			want = name[i+2:]
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "records") {
			t.Errorf("opening %s without its setting = %v, want an error naming %q", name, err, want)
		}
	}
	if err := p.close(); err != nil {
		t.Errorf("close with nothing open = %v", err)
	}
}

func healthClient(t *testing.T, cfg Config) healthpb.HealthClient {
	t.Helper()
	tlsCfg, err := mtls.ClientConfig(cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(cfg.GRPCAddr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// waitHealth polls the health check until it answers want.
func waitHealth(t *testing.T, ctx context.Context, h healthpb.HealthClient, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	var last string
	for ctx.Err() == nil {
		resp, err := h.Check(ctx, &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == want {
			return
		}
		last = resp.GetStatus().String()
		if err != nil {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("health never answered %v (last: %s)", want, last)
}
