package serving

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/mtls"
	"healthexchange/services/platform/mtls/mtlstest"
)

const openapi = `{"openapi":"3.0.3"}`

// fixture is a service's TLS files, a verifier and a logger.
type fixture struct {
	tls      TLSFiles
	verifier *auth.Verifier
	log      *slog.Logger
	// logs is read once Serve has returned: Serve logs from its own
	// goroutine only.
	logs *bytes.Buffer
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ca := mtlstest.NewCA(t, "hx-serving")
	cert, key := ca.IssueAs(t, "service/svc", "127.0.0.1")
	cfg := auth.NewConfig()
	cfg.Audience = "svc"
	cfg.Issuers = map[string]auth.Issuer{"https://idp.test": {Keys: []string{ca.CertFile}, Roles: []auth.Role{auth.RolePatient}}}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	return fixture{
		tls:      TLSFiles{CertFile: cert, KeyFile: key, CAFile: ca.CertFile},
		verifier: v, log: slog.New(slog.NewTextHandler(logs, nil)), logs: logs,
	}
}

// servers are a gRPC server with health and a gateway for it, built the way
// a service builds them.
func (f fixture) servers(t *testing.T, ctx context.Context, grpcAddr, httpAddr string) Servers {
	t.Helper()
	g, h, err := NewGRPCServer(f.tls, f.verifier, Access{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	hs, err := Gateway(ctx, GatewayConfig{Name: "svc", TLS: f.tls, GRPCAddr: grpcAddr, OpenAPI: []byte(openapi), Limits: DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close() })
	return Servers{Name: "svc", Log: f.log, GRPC: g, Health: h, GRPCAddr: grpcAddr, HTTP: hs, HTTPAddr: httpAddr}
}

func TestServe(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	grpcAddr, httpAddr := freeAddr(t), freeAddr(t)
	s := f.servers(t, ctx, grpcAddr, httpAddr)
	listening := make(chan struct{})
	s.Listening = func() { close(listening) }
	bgStarted, bgStopped := make(chan struct{}), make(chan struct{})
	s.Background = []func(context.Context){func(bg context.Context) {
		close(bgStarted)
		<-bg.Done()
		close(bgStopped)
	}}

	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Serve(serveCtx, s) }()
	wait(t, ctx, listening, "Listening")
	wait(t, ctx, bgStarted, "the background function to start")

	clientTLS, err := mtls.ClientConfig(f.tls.CAFile, f.tls.CertFile, f.tls.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check = %v, %v; want SERVING", health, err)
	}

	web := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: clientTLS.RootCAs}}}
	defer web.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+httpAddr+"/openapi.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := web.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != openapi ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json = %d %q %q, %v", resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
	}

	select {
	case <-bgStopped:
		t.Fatal("the background function stopped while the servers serve")
	default:
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil after cancel", err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return after cancel")
	}
	select {
	case <-bgStopped:
	default:
		t.Fatal("Serve returned before the background function stopped")
	}
	if !strings.Contains(f.logs.String(), "svc service stopping") {
		t.Errorf("no stopping line in the log: %q", f.logs.String())
	}
	assertFree(t, grpcAddr, httpAddr)
}

func TestServeDoesNotStart(t *testing.T) {
	tests := []struct {
		name               string
		grpcAddr, httpAddr addrFunc
		wantErr            string
	}{
		{"gRPC port busy", busyAddr, freeLoopback, "address already in use"},
		{"HTTP port busy", freeLoopback, busyAddr, "address already in use"},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			grpcAddr, releaseGRPC := tt.grpcAddr(t)
			httpAddr, releaseHTTP := tt.httpAddr(t)
			s := f.servers(t, ctx, grpcAddr, httpAddr)
			s.Listening = func() { t.Error("Listening called") }
			s.Background = []func(context.Context){func(context.Context) { t.Error("a background function ran") }}
			err := Serve(ctx, s)
			if err == nil || !strings.HasPrefix(err.Error(), "svc: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Serve = %v, want an error about %q", err, tt.wantErr)
			}
			releaseGRPC()
			releaseHTTP()
			assertFree(t, grpcAddr, httpAddr)
		})
	}
}

// freeAddr is a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// addrFunc is an address for Serve and what releases whatever the test
// holds on it.
type addrFunc func(t *testing.T) (addr string, release func())

func freeLoopback(t *testing.T) (string, func()) { return freeAddr(t), func() {} }

// busyAddr is a loopback address the test listens on until released.
func busyAddr(t *testing.T) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), func() { l.Close() }
}

// assertFree fails unless every address can be listened on: nothing Serve
// opened is still open.
func assertFree(t *testing.T, addrs ...string) {
	t.Helper()
	for _, addr := range addrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s is still in use after Serve returned: %v", addr, err)
			continue
		}
		l.Close()
	}
}

func wait(t *testing.T, ctx context.Context, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("gave up waiting for %s", what)
	}
}
