//go:build integration

package itest

import (
	"context"
	"fmt"
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

// freePorts picks n distinct free ports on 127.0.0.1, holding each one
// until all are picked.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
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
