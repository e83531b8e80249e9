//go:build integration && disruptive

package consent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
)

// TestStalledPeer pauses the Providers peer (SIGSTOP), the peer consentd
// follows: its block stream stalls without breaking. Within the view's
// liveness bound (2 s) every decision is a deny that says why; once the
// peer runs again (SIGCONT), decisions are allowed again. It pauses the
// shared test network, so make test runs it alone, after the other
// integration tests (build tag disruptive).
func TestStalledPeer(t *testing.T) {
	ctx := itest.Context(t)
	c := itest.NewConsentd(t, consentdBin)
	dc := c.Decisions(t)
	p := itest.NewPatient(t, c)
	dr := itest.Unique("dr")
	c.Grant(t, p, "--to", "user:ProvidersMSP/"+dr, "--categories", "labs", "--purposes", "treatment")
	tok := itest.Token(t, dr, auth.RoleClinician, ledgerapi.ProvidersMSP)
	decide := func() *consentv1.Decision {
		t.Helper()
		d, err := itest.Authorize(ctx, t, dc, tok, read(p.ID, "labs", "treatment"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := decide(); !d.GetAllow() {
		t.Fatalf("before the stall: %v", d)
	}

	raw, err := os.ReadFile(filepath.Join(devenv.StateDir(), "pids", "providers-peer.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT: %v", err)
			}
		}
	}
	defer resume()

	stalled := time.Now()
	var denied *consentv1.Decision
	for time.Since(stalled) < 15*time.Second {
		if d := decide(); !d.GetAllow() {
			denied = d
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(stalled)
	if denied == nil {
		t.Fatal("decisions still allowed 15 s after the peer stalled")
	}
	t.Logf("denied %v after the stall: %q", took.Round(time.Millisecond), denied.GetReasons())
	if took > 5*time.Second {
		t.Errorf("the first deny came %v after the stall, want within the 2 s bound (and a heartbeat)", took)
	}
	if why := strings.Join(denied.GetReasons(), " "); !strings.Contains(why, "consent view") {
		t.Errorf("the deny does not say the view is not live: %q", why)
	}

	// A ledger read the caller gives a minute fails as unavailable within
	// the client's evaluate timeout (5 s), not at the caller's deadline.
	lc := itest.Ledger(t, itest.Env(t).Path, "providers")
	readCtx, cancel := context.WithTimeout(ctx, time.Minute)
	asked := time.Now()
	_, err = lc.Patient(readCtx, p.ID)
	cancel()
	if waited := time.Since(asked); !errors.Is(err, ledger.ErrUnavailable) || waited > 8*time.Second {
		t.Errorf("a ledger read from the stalled peer: %v after %v; want unavailable within the 5 s evaluate timeout", err, waited.Round(time.Millisecond))
	} else {
		t.Logf("a ledger read from the stalled peer failed as unavailable after %v", waited.Round(time.Millisecond))
	}

	resume()
	back := time.Now()
	for time.Since(back) < 60*time.Second {
		if d := decide(); d.GetAllow() {
			t.Logf("allowed again %v after the peer resumed", time.Since(back).Round(time.Millisecond))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("decisions still denied a minute after the peer resumed")
}
