//go:build integration

package consent_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/auth"
)

// chromium is Debian's chromium binary (.ci/run installs the package).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("chromium is needed for the browser tests: apt-get install chromium (.ci/run does)")
	return ""
}

// browser is a headless Chromium of its own (profile in a temporary
// folder: its own IndexedDB), closed when the test ends. The service's
// certificate is from the development CA, which this browser does not
// know: certificate errors are ignored, for this loopback test only.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // root in CI
		chromedp.IgnoreCertErrors,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTime(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// shots is where the pages' screenshots go: $HX_SCREENSHOTS when set (make
// test keeps them under .cache/screenshots), else the test's artifacts.
func shots(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("HX_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

// The patient's web app in a real browser against the real service and
// network: make and register a key in the page, give a clinician access,
// see their read in the access log, take the access back in the page, and
// the clinician is refused; a form error in words; sign in again with the
// keyboard only; a phone-sized screen.
func TestPatientWebAppIntegration(t *testing.T) {
	c := itest.NewConsentd(t, consentdBin)
	ctx := itest.Context(t)
	b := browser(t)
	dir := shots(t)
	base := "https://" + c.HTTPAddr + "/app/"
	patientID, dr := itest.Unique("pat"), itest.Unique("dr")
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expr string, opts ...chromedp.EvaluateOption) any {
		t.Helper()
		v, err := chromedp.Run(b, chromedp.Evaluate[any](expr, opts...))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		})
	}
	// text waits until the element's text contains want.
	text := func(sel, want string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			deadline := time.Now().Add(30 * time.Second)
			var got string
			for time.Now().Before(deadline) {
				v, err := chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))(ctx, tg)
				if err != nil {
					return err
				}
				if got = v; strings.Contains(got, want) {
					return nil
				}
				time.Sleep(100 * time.Millisecond)
			}
			errText, _ := chromedp.Evaluate[string](`document.getElementById("error").textContent`)(ctx, tg)
			return fmt.Errorf("%s shows %q, not %q (error shown: %q)", sel, got, want, errText)
		})
	}
	// until waits until a JavaScript predicate holds.
	until := func(predicate string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", predicate, err)
			}
			return nil
		})
	}
	decide := func() bool {
		t.Helper()
		d, err := itest.Authorize(ctx, t, c.Decisions(t), itest.Token(t, dr, auth.RoleClinician, "StMarysMSP"), read(patientID, "labs", "treatment"))
		if err != nil {
			t.Fatal(err)
		}
		return d.GetAllow()
	}

	run("the page loads, with its policy", chromedp.Navigate(base), chromedp.WaitVisible("#setup-form"), shot("1-welcome"))
	t.Run("the key is made and registered in the page", func(t *testing.T) {
		run("set up", chromedp.SendKeys("#setup-id", patientID), chromedp.SendKeys("#setup-token", itest.Token(t, patientID, auth.RolePatient, "")),
			chromedp.Click(`#setup-form button[type="submit"]`), chromedp.WaitVisible("#page-consents"), text("#status", "registered"), text("#who", patientID))
		extractable := eval(`new Promise((ok, fail) => { const r = indexedDB.open("healthexchange"); r.onsuccess = () => {
			const g = r.result.transaction("keys").objectStore("keys").get(`+fmt.Sprintf("%q", patientID)+`); g.onsuccess = () => ok(g.result.privateKey.extractable); g.onerror = fail; }; })`,
			chromedp.EvalAwaitPromise)
		if extractable != false {
			t.Fatalf("the private key in IndexedDB: extractable = %v", extractable)
		}
		stored := eval(`JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie`).(string)
		if strings.Contains(stored, "ey") {
			t.Fatalf("something token-like in the page's storage: %s", stored)
		}
	})
	t.Run("an incomplete form is explained in words", func(t *testing.T) {
		run("grant without a category", chromedp.SendKeys("#grant-user", dr), chromedp.Click(`#grant-form button[type="submit"]`),
			text("#error", "choose at least one kind of record"))
	})
	t.Run("the patient gives Dr. X at St Mary's their labs; the doctor reads", func(t *testing.T) {
		if decide() {
			t.Fatal("allowed before any consent")
		}
		run("grant", chromedp.SetValue("#grant-org", "StMarysMSP"), chromedp.Click(`input[name="category"][value="labs"]`),
			chromedp.Click(`input[name="purpose"][value="treatment"]`), chromedp.Click(`#grant-form button[type="submit"]`),
			text("#consent-list", dr), text("#consent-list", "Lab results"), shot("2-consents"))
		if !decide() {
			t.Fatal("the doctor is refused under the consent given in the page")
		}
	})
	t.Run("the read appears in the access log", func(t *testing.T) {
		run("open the log", chromedp.Click("#nav-access-log"), chromedp.WaitVisible("#page-access-log"))
		deadline := time.Now().Add(60 * time.Second)
		for {
			run("read the log", chromedp.Click("#log-refresh"), chromedp.Sleep(300*time.Millisecond))
			if rows := eval(fmt.Sprintf(`document.querySelectorAll('tr.allowed[data-actor=%q]').length`, dr)); rows != float64(0) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the doctor's read never showed in the page's access log")
			}
			time.Sleep(time.Second)
		}
		run("refused reads are shown too", text("#log-list", "Refused"), shot("3-access-log"))
		run("filter: refusals only", chromedp.Click(`input[name="log-filter"][value="denied"]`),
			until(`document.querySelectorAll("#log-list tr.allowed").length === 0 && document.querySelectorAll("#log-list tr.denied").length > 0`))
		run("filter: everything", chromedp.Click(`input[name="log-filter"][value="all"]`),
			until(`document.querySelectorAll("#log-list tr.allowed").length > 0`))
	})
	t.Run("the patient takes it back in the page; the doctor is refused", func(t *testing.T) {
		run("revoke", chromedp.Click("#nav-consents"), chromedp.WaitVisible("#page-consents"), text("#consent-list", dr),
			chromedp.Click("button.revoke"), chromedp.WaitVisible("#confirm"), text("#confirm-text", dr), shot("4-confirm"),
			chromedp.Click("#confirm-yes"), text("#status", "no longer has access"), text("#consent-list", "Nobody has access"))
		if decide() {
			t.Fatal("the doctor is allowed after the revocation in the page")
		}
	})
	t.Run("sign out, and sign in again with the keyboard only", func(t *testing.T) {
		run("sign out", chromedp.Click("#sign-out"), chromedp.WaitVisible("#signin-known"), text("#known-id", patientID))
		active := ""
		for i := 0; i < 25 && active != "sign-in"; i++ {
			run("tab", chromedp.KeyEvent(kb.Tab))
			active = eval(`document.activeElement.id`).(string)
		}
		if active != "sign-in" {
			t.Fatal("the sign-in button cannot be reached with the Tab key")
		}
		run("enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible("#page-consents"), text("#status", "Signed in"))
		for i := 0; i < 60 && active != "nav-access-log"; i++ {
			run("tab", chromedp.KeyEvent(kb.Tab))
			active = eval(`document.activeElement.id`).(string)
		}
		run("open the log with Enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible("#page-access-log"), text("#log-list", dr))
	})
	t.Run("on a phone-sized screen", func(t *testing.T) {
		run("phone", chromedp.EmulateViewport(390, 844), chromedp.Click("#nav-consents"), chromedp.WaitVisible("#grant-form"), shot("5-phone-consents"))
		if overflow := eval(`document.documentElement.scrollWidth > window.innerWidth + 1`); overflow != false {
			t.Fatal("the page is wider than a phone's screen")
		}
	})
	t.Run("the page is served with a strict policy", func(t *testing.T) {
		pool := x509.NewCertPool()
		ca, err := os.ReadFile(itest.Env(t).ServicesTLS.CA)
		if err != nil || !pool.AppendCertsFromPEM(ca) {
			t.Fatalf("CA: %v", err)
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
		resp, err := hc.Get(base)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Fatalf("policy %q", csp)
		}
		resp, err = hc.Get("https://" + c.HTTPAddr + "/app/api/vocabulary")
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Organisations []struct{ MspID string } }
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if len(v.Organisations) != 5 {
			t.Fatalf("organisations %+v", v)
		}
	})
	t.Logf("screenshots in %s", dir)
}
