//go:build integration

package itest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"healthexchange/services/dev/devenv"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/auth/devissuer"
)

// Context is a context for one test: it times out after 3 minutes and is
// cancelled at the test's cleanup.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// BenchContext is a benchmark's context: ended when it ends, with a
// deadline far beyond any run's, so that a busy machine makes a benchmark
// slow, never failed.
func BenchContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Env is the running test network's description (network.json).
func Env(t testing.TB) devenv.Env {
	t.Helper()
	e, err := devenv.Load(devenv.DefaultPath())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// FreeAddr is a loopback address with a port nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0])
}

// Test ports are picked below the kernel's ephemeral range (32768 and up
// here, where the kernel also picks the local ports of outgoing
// connections: one of those could take a port between its pick and the
// daemon's bind) and below the development network's fixed ports (27000
// and up, test-network/ports.sh).
const (
	testPortLow  = 20000
	testPortHigh = 27000 // excluded
)

// freePorts picks n distinct free ports on 127.0.0.1 in the test range,
// holding each one until all are picked.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		var l net.Listener
		var err error
		for try := 0; try < 200 && l == nil; try++ {
			port := testPortLow + rand.IntN(testPortHigh-testPortLow)
			if l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
				l = nil
			}
		}
		if l == nil {
			return nil, fmt.Errorf("no free port in %d-%d: %w", testPortLow, testPortHigh-1, err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Unique is prefix with the current time in nanoseconds, for ids no other
// test run has used.
func Unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

// Token issues a development token, valid for an hour.
func Token(t testing.TB, sub string, role auth.Role, org string) string {
	t.Helper()
	return StudyToken(t, sub, role, org, "")
}

// StudyToken issues a development token with a study id (researchers need
// one), valid for an hour.
func StudyToken(t testing.TB, sub string, role auth.Role, org, study string) string {
	t.Helper()
	return IssuedToken(t, org, devissuer.Claims{Subject: sub, Audiences: devenv.AudiencesFor(string(role)), Role: role, Org: org, StudyID: study})
}

// IssuedToken issues claims as the development identity provider of the
// organisation issuerOrg ("" for the patients'), valid for an hour.
func IssuedToken(t testing.TB, issuerOrg string, c devissuer.Claims) string {
	t.Helper()
	return IssuedTokenIn(t, Env(t), issuerOrg, c)
}
