//go:build integration

package itest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"healthexchange/services/platform/daemon"
)

// DaemonSettings are the named service's settings on the test network, on
// free loopback addresses and with a temporary state folder: for a test
// that changes some of them before Load.
func DaemonSettings(t testing.TB, name string) daemon.Settings {
	t.Helper()
	s, err := Env(t).Settings(name)
	if err != nil {
		t.Fatal(err)
	}
	s.GRPCAddr, s.HTTPAddr, s.StateDir = FreeAddr(t), FreeAddr(t), filepath.Join(t.TempDir(), name)
	return s
}

// RunDaemon runs a service in the test's process with the daemon
// skeleton, waits until its health check answers SERVING, and stops it at
// the test's cleanup, failing the test if it did not stop cleanly.
func RunDaemon(t testing.TB, cfg daemon.Config, build daemon.BuildFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, cfg, build) }()
	stopped := make(chan struct{})
	var runErr error
	go func() {
		runErr = <-done
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
		if runErr != nil {
			t.Errorf("%s service: %v", cfg.Name, runErr)
		}
	})
	WaitHealthy(t, cfg.GRPCAddr, 60*time.Second, stopped, func() string { return fmt.Sprint(runErr) })
}

// WaitHealthy polls the gRPC health check at addr (mutual TLS, as the
// "app-operator" certificate holder) until it answers SERVING, failing the test
// after within, or at once when gone is closed (the service ended; why
// says why).
func WaitHealthy(t testing.TB, addr string, within time.Duration, gone <-chan struct{}, why func() string) {
	t.Helper()
	health := healthpb.NewHealthClient(Dial(t, addr, "app-operator"))
	deadline := time.Now().Add(within)
	last := "no answer yet"
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = resp.GetStatus().String()
		}
		select {
		case <-gone:
			t.Fatalf("the service at %s ended before it was ready: %s", addr, why())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service at %s was not SERVING within %v (last: %s)\n%s", addr, within, last, why())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
