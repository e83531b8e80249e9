//go:build ha

package hatest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/ledger"
)

// The profile's state folder and script, as ha.sh chooses them.
var haState, haScript string

func TestMain(m *testing.M) {
	root, ok := devenv.RepoRoot()
	if !ok {
		fmt.Fprintln(os.Stderr, "hatest: run from inside the repository")
		os.Exit(2)
	}
	haScript = filepath.Join(root, "test-network", "ha.sh")
	haState = cmp.Or(os.Getenv("HX_HA_STATE"), filepath.Join(cmp.Or(os.Getenv("HX_CACHE"), filepath.Join(root, ".cache")), "network-ha"))
	os.Exit(m.Run())
}

// ha runs ha.sh with args and returns what it printed on stdout.
func ha(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(haScript, args...)
	cmd.Env = append(os.Environ(), "HX_HA_STATE="+haState)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ha.sh %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// profile is the part of the profile's network.json these tests read.
type profile struct {
	HA struct {
		Nodes      map[string]string `json:"nodes"`
		Namespaces bool              `json:"namespaces"`
	} `json:"ha"`
}

func loadProfile(t testing.TB) profile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(haState, "network.json"))
	if err != nil {
		t.Fatalf("%v (is the high-availability profile up? make network-up-ha)", err)
	}
	var p profile
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// needNamespaces skips a test that cuts links when the profile runs
// without namespaces (not root), saying so.
func needNamespaces(t *testing.T) {
	if !loadProfile(t).HA.Namespaces {
		t.Skip("the profile runs without network namespaces (not root): no link to cut")
	}
}

func dialOrg(t testing.TB, org string) *ledger.Client {
	t.Helper()
	return itest.Ledger(t, filepath.Join(haState, "network.json"), org)
}

func height(t testing.TB, node string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(ha(t, "height", node), 10, 64)
	if err != nil {
		t.Fatalf("height of %s: %v", node, err)
	}
	return n
}

// leader is the Raft leader, waiting up to a minute for one.
func leader(t testing.TB) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		cmd := exec.Command(haScript, "leader")
		cmd.Env = append(os.Environ(), "HX_HA_STATE="+haState)
		if out, err := cmd.Output(); err == nil {
			return strings.TrimSpace(string(out))
		}
		if time.Now().After(deadline) {
			t.Fatal("no Raft leader within a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// caughtUp waits until node's height reaches ref's, and says how long that
// took.
func caughtUp(t testing.TB, node, ref string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		h, want := height(t, node), height(t, ref)
		if h >= want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s at height %d, %s at %d: not caught up within %s", node, h, ref, want, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- the load ---

// ack is one consent change the ledger acknowledged.
type ack struct {
	consentID string
	revoked   bool
	at        time.Time
	// onRetry: the first attempt's answer was lost, and the same signed
	// change sent again was refused as already applied (its nonce used).
	onRetry bool
}

// consentLoad is patients granting and revoking consents, each patient one
// change at a time, through one organisation's client. A change whose
// answer is an error is sent again, the same signed bytes, until it is
// acknowledged or refused as already applied: what a patient's app does.
type consentLoad struct {
	*opLoad
	changes []ack // under opLoad.mu
}

// consentWriter is the way a patient's signed changes reach the ledger:
// straight through an organisation's gateway (the ledger client), or
// through the consent service. An error the writer returns that wraps
// ledger.ErrRejected is final; any other is retried.
type consentWriter interface {
	grant(ctx context.Context, s ledger.Signed) error
	revoke(ctx context.Context, s ledger.Signed) error
}

// viaLedger writes through an organisation's ledger client.
type viaLedger struct{ c *ledger.Client }

func (v viaLedger) grant(ctx context.Context, s ledger.Signed) error {
	_, err := v.c.GrantConsent(ctx, s)
	return err
}

func (v viaLedger) revoke(ctx context.Context, s ledger.Signed) error {
	_, err := v.c.RevokeConsent(ctx, s)
	return err
}

// startConsentLoad runs the load through c, the ledger client that also
// registers the patients.
func startConsentLoad(t *testing.T, c *ledger.Client, patients int) *consentLoad {
	t.Helper()
	return startConsentLoadVia(t, c, func(*patientkey.Key) consentWriter { return viaLedger{c} }, patients)
}

// startConsentLoadVia registers the patients through c and runs the load
// through each patient's writer.
func startConsentLoadVia(t *testing.T, c *ledger.Client, via func(*patientkey.Key) consentWriter, patients int) *consentLoad {
	t.Helper()
	keys := registerPatients(t, c, patients)
	ol, runCtx := newOpLoad("consent")
	l := &consentLoad{opLoad: ol}
	var clients []func()
	for i, k := range keys {
		clients = append(clients, func() { l.patient(runCtx, via(k), k, i) })
	}
	l.run(clients...)
	return l
}

func (l *consentLoad) patient(ctx context.Context, w consentWriter, k *patientkey.Key, i int) {
	for n := 0; ctx.Err() == nil; n++ {
		id := fmt.Sprintf("%s-c%d", k.PatientID(), n)
		grant, err := k.Grant(ledgerapi.ConsentGrant{
			ConsentID:  id,
			Grantee:    ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, fmt.Sprintf("dr-ha-%d", i)),
			Categories: []string{"labs"},
			Purposes:   []string{"treatment"},
		})
		if err != nil {
			l.setFatal(err)
			return
		}
		if !l.send(ctx, id, false, func(ctx context.Context) error { return w.grant(ctx, grant) }) {
			return
		}
		if n%2 == 1 {
			revoke, err := k.Revoke(id)
			if err != nil {
				l.setFatal(err)
				return
			}
			if !l.send(ctx, id, true, func(ctx context.Context) error { return w.revoke(ctx, revoke) }) {
				return
			}
		}
	}
}

// send makes the change until it is acknowledged; false if the load ended
// first (the change then counts as neither acknowledged nor failed).
func (l *consentLoad) send(ctx context.Context, id string, revoke bool, call func(context.Context) error) bool {
	retried := false
	for ctx.Err() == nil {
		callCtx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		err := call(callCtx)
		cancel()
		switch {
		case err == nil:
			l.record(ack{consentID: id, revoked: revoke, at: time.Now()})
			return true
		case retried && errors.Is(err, ledger.ErrRejected) && strings.Contains(err.Error(), "nonce"):
			l.record(ack{consentID: id, revoked: revoke, at: time.Now(), onRetry: true})
			return true
		case errors.Is(err, ledger.ErrRejected):
			l.setFatal(fmt.Errorf("consent %s: refused: %w", id, err))
			return false
		}
		l.mu.Lock()
		l.failures = append(l.failures, time.Now().Format("15:04:05.000")+" "+err.Error())
		l.mu.Unlock()
		retried = true
		time.Sleep(250 * time.Millisecond)
	}
	return false
}

func (l *consentLoad) record(a ack) {
	l.mu.Lock()
	l.changes = append(l.changes, a)
	l.acks = append(l.acks, a.at)
	l.mu.Unlock()
}

func (l *opLoad) setFatal(err error) {
	l.mu.Lock()
	if l.fatal == nil {
		l.fatal = err
	}
	l.mu.Unlock()
}

// tally reads every acknowledged consent back from the ledger (through
// reader) and counts what is there: a consent whose grant was acknowledged
// must be on the ledger, revoked exactly when its revocation was
// acknowledged, with exactly one version per acknowledged change (none
// applied twice).
type tally struct {
	acknowledged, onRetry, present, lost, duplicated, failedAttempts int
}

func (l *consentLoad) tally(t *testing.T, reader *ledger.Client) tally {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l.mu.Lock()
	acks := slices.Clone(l.changes)
	tl := tally{acknowledged: len(acks), failedAttempts: len(l.failures)}
	l.mu.Unlock()
	want := map[string]int{} // consent -> changes acknowledged
	revoked := map[string]bool{}
	for _, a := range acks {
		want[a.consentID]++
		if a.revoked {
			revoked[a.consentID] = true
		}
		if a.onRetry {
			tl.onRetry++
		}
	}
	for id, changes := range want {
		hist, err := reader.ConsentHistory(ctx, id)
		if err != nil || len(hist) == 0 {
			t.Errorf("consent %s: acknowledged %d change(s), on the ledger: %v", id, changes, err)
			tl.lost += changes
			continue
		}
		last := hist[len(hist)-1].Consent
		wantStatus := "active"
		if revoked[id] {
			wantStatus = "revoked"
		}
		switch {
		case len(hist) > changes:
			t.Errorf("consent %s: %d versions on the ledger for %d acknowledged change(s)", id, len(hist), changes)
			tl.duplicated += len(hist) - changes
			tl.present += changes
		case len(hist) < changes || last == nil || last.Status != wantStatus:
			t.Errorf("consent %s: %d version(s), last %+v; want %d, %s", id, len(hist), last, changes, wantStatus)
			tl.lost += changes - min(changes, len(hist))
			tl.present += min(changes, len(hist))
		default:
			tl.present += changes
		}
	}
	return tl
}

func (tl tally) String() string {
	return fmt.Sprintf("acknowledged %d (%d of them on a retry refused as already applied), present %d, lost %d, duplicated %d; failed attempts (retried) %d",
		tl.acknowledged, tl.onRetry, tl.present, tl.lost, tl.duplicated, tl.failedAttempts)
}

// ------------------------------------------------------------------ tests ---

// TestRaftLeaderKilledDuringGrantsAndRevokes: patients grant and revoke
// through the Providers gateway; the Raft leader is killed (SIGKILL) in the
// middle. Commits go on after the election, and every acknowledged change
// is on the ledger exactly once.
func TestRaftLeaderKilledDuringGrantsAndRevokes(t *testing.T) {
	c := dialOrg(t, "providers")
	l := startConsentLoad(t, c, 8)
	l.waitAcked(t, 40, time.Time{}, 2*time.Minute)

	old := leader(t)
	t.Cleanup(func() { ha(t, "start", old) })
	killed := time.Now()
	ha(t, "stop", old)
	l.waitAcked(t, 60, killed, 3*time.Minute)
	l.finish(t)
	first, longest := l.gapAfter(killed)
	now := leader(t)

	tl := l.tally(t, c)
	t.Logf("Raft leader %s killed; %s leads now; first commit %s after the kill, longest gap between commits %s", old, now,
		first.Round(time.Millisecond), longest.Round(time.Millisecond))
	t.Logf("%s", tl)
	l.logFailures(t)
	if now == old {
		t.Errorf("the killed orderer %s still reported as leader", old)
	}
	if tl.lost != 0 || tl.duplicated != 0 || tl.present != tl.acknowledged {
		t.Fatalf("lost %d, duplicated %d", tl.lost, tl.duplicated)
	}

	ha(t, "start", old)
	took := caughtUp(t, old, now, 2*time.Minute)
	t.Logf("%s restarted and caught up with %s in %s", old, now, took.Round(time.Millisecond))
}

// TestPartitionedOrdererCatchesUp: the Raft leader's link is cut (it can
// reach no one, no one can reach it) while patients keep granting; the
// other two elect a leader and go on. Healed, the cut orderer catches up
// with the blocks it missed.
func TestPartitionedOrdererCatchesUp(t *testing.T) {
	needNamespaces(t)
	c := dialOrg(t, "providers")
	l := startConsentLoad(t, c, 4)
	l.waitAcked(t, 20, time.Time{}, 2*time.Minute)

	cut := leader(t)
	t.Cleanup(func() { ha(t, "heal", cut) })
	at := height(t, cut)
	cutAt := time.Now()
	ha(t, "cut", cut)
	t.Logf("%s cut at %s", cut, cutAt.Format("15:04:05.000"))
	l.waitAcked(t, 40, cutAt, 3*time.Minute)
	l.finish(t)
	first, longest := l.gapAfter(cutAt)
	now := leader(t)
	behind := height(t, now) - height(t, cut)
	if behind == 0 {
		t.Fatalf("%s (cut off) is at the height of %s: the cut did not keep blocks from it", cut, now)
	}
	t.Logf("%s cut off at height %d; %s leads; first commit %s after the cut, longest gap %s; %d blocks behind at the heal",
		cut, at, now, first.Round(time.Millisecond), longest.Round(time.Millisecond), behind)

	ha(t, "heal", cut)
	took := caughtUp(t, cut, now, 2*time.Minute)
	t.Logf("%s healed and caught up in %s", cut, took.Round(time.Millisecond))

	tl := l.tally(t, c)
	t.Logf("%s", tl)
	l.logFailures(t)
	if tl.lost != 0 || tl.duplicated != 0 {
		t.Fatalf("lost %d, duplicated %d", tl.lost, tl.duplicated)
	}
}

// TestOnePeerOfEachOrganisationStopped: one peer of Providers and one of
// Research are killed under load; the clients of Providers, and of St
// Mary's (no peer of its own: it goes through Providers' gateway), carry
// on through the other peers, whose gateways collect the endorsements of
// the peers still up.
func TestOnePeerOfEachOrganisationStopped(t *testing.T) {
	providers := dialOrg(t, "providers")
	stmarys := dialOrg(t, "stmarys")
	lp := startConsentLoad(t, providers, 4)
	ls := startConsentLoad(t, stmarys, 4)
	lp.waitAcked(t, 20, time.Time{}, 2*time.Minute)
	ls.waitAcked(t, 20, time.Time{}, 2*time.Minute)

	stopped := []string{"providers-peer0", "research-peer1"}
	t.Cleanup(func() {
		for _, p := range stopped {
			ha(t, "start", p)
		}
	})
	killed := time.Now()
	for _, p := range stopped {
		ha(t, "stop", p)
	}
	lp.waitAcked(t, 40, killed, 3*time.Minute)
	ls.waitAcked(t, 40, killed, 3*time.Minute)
	lp.finish(t)
	ls.finish(t)
	for name, l := range map[string]*consentLoad{"providers": lp, "stmarys": ls} {
		first, longest := l.gapAfter(killed)
		tl := l.tally(t, providers)
		t.Logf("%s's client, peers %v killed: first commit %s after, longest gap %s; %s", name, stopped,
			first.Round(time.Millisecond), longest.Round(time.Millisecond), tl)
		if tl.lost != 0 || tl.duplicated != 0 {
			t.Fatalf("%s: lost %d, duplicated %d", name, tl.lost, tl.duplicated)
		}
	}
	for _, p := range stopped {
		ha(t, "start", p)
	}
	for _, p := range stopped {
		took := caughtUp(t, p, "orderer0", 2*time.Minute)
		t.Logf("%s restarted and caught up in %s", p, took.Round(time.Millisecond))
	}
}
