//go:build integration

package consent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/minio/minio-go/v7"
	"google.golang.org/grpc"

	"healthexchange/chaincode/ledgerapi"
	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/store/recordstore"
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

// newBrowser is a headless Chromium of its own (profile in a temporary
// folder: its own IndexedDB), closed when the test ends. The service's
// certificate is from the development CA, which this browser does not
// know: certificate errors are ignored, for this loopback test only.
func newBrowser(t *testing.T) context.Context {
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
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
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

// screenshot saves the page, whole, as dir/name.png.
func screenshot(dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// textShows waits until the element's text contains want.
func textShows(sel, want string) chromedp.Action[chromedp.Void] {
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

// clearInput empties an input (chromedp.Clear leaves these as they were).
func clearInput(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(document.getElementById(%q).value = "", true)`, id))(ctx, tg)
		return err
	})
}

// untilTrue waits until a JavaScript predicate holds.
func untilTrue(predicate string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", predicate, err)
		}
		return nil
	})
}

// download has the browser save what the link sel offers into a new folder
// and returns the file's bytes once it holds want.
func download(t *testing.T, b context.Context, sel, name, want string) []byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(b, browser.SetDownloadBehavior,
		browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b, chromedp.Click(sel)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil && strings.Contains(string(data), want) {
			return data
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not saved", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The patient's web app in a real browser against the real service and
// network: make and register a key in the page, give a clinician access,
// see their read in the access log, take the access back in the page, and
// the clinician is refused; a form error in words; sign in again with the
// keyboard only; a phone-sized screen.
func TestPatientWebAppIntegration(t *testing.T) {
	// The records service the records page reads through this consent
	// service: built first, then its addresses picked, for consentd's
	// -web-records, just before both start.
	recordsBin, cleanup, err := itest.Build("healthexchange/services/cmd/recordsd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	store, err := itest.StartMinIO() // the records service's own, for the tamper step
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	recordsGRPC, recordsHTTP := itest.FreeAddr(t), itest.FreeAddr(t)
	c := itest.NewConsentd(t, consentdBin, "-web-records", "https://"+recordsHTTP)
	itest.StartDaemon(t, recordsBin, []string{"-env", c.EnvPath, "-state", t.TempDir(), "-grpc", recordsGRPC, "-http", recordsHTTP, "-consent", c.GRPCAddr, "-store-config", store.ConfigPath()}, recordsGRPC)
	ctx := itest.Context(t)
	b := newBrowser(t)
	dir := shots(t)
	base := "https://" + c.HTTPAddr + "/app/"
	patientID, dr := itest.Unique("pat"), itest.Unique("dr")
	const passphrase = "correct horse battery staple"
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
	shot := func(name string) chromedp.Action[chromedp.Void] { return screenshot(dir, name) }
	text, clear, until := textShows, clearInput, untilTrue
	decide := func() bool {
		t.Helper()
		d, err := itest.Authorize(ctx, t, c.Decisions(t), itest.Token(t, dr, auth.RoleClinician, "StMarysMSP"), read(patientID, "labs", "treatment"))
		if err != nil {
			t.Fatal(err)
		}
		return d.GetAllow()
	}

	pool := x509.NewCertPool()
	if ca, err := os.ReadFile(itest.Env(t).ServicesTLS.CA); err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("CA: %v", err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	// ask has the doctor ask the patient for categories, through the gateway.
	ask := func(categories ...string) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"patientId": patientID, "categories": categories, "purposes": []string{"treatment"}, "reason": "follow-up of your visit"})
		req, _ := http.NewRequest("POST", "https://"+c.HTTPAddr+"/v1/access-requests", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+itest.Token(t, dr, auth.RoleClinician, "StMarysMSP"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("the doctor's request: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	decideOn := func(category string) bool {
		t.Helper()
		d, err := itest.Authorize(ctx, t, c.Decisions(t), itest.Token(t, dr, auth.RoleClinician, "StMarysMSP"), read(patientID, category, "treatment"))
		if err != nil {
			t.Fatal(err)
		}
		return d.GetAllow()
	}

	run("the page loads, with its policy", chromedp.Navigate(base), chromedp.WaitVisible("#setup-form"), shot("1-welcome"))
	t.Run("the key is made and registered in the page", func(t *testing.T) {
		run("set up, with a backup for a second device", chromedp.SendKeys("#setup-id", patientID),
			chromedp.SendKeys("#setup-token", itest.Token(t, patientID, auth.RolePatient, "")),
			chromedp.Click("#setup-backup"), chromedp.SendKeys("#setup-passphrase", passphrase),
			chromedp.Click(`#setup-form button[type="submit"]`), chromedp.WaitVisible("#page-consents"), text("#status", "registered"), text("#who", patientID),
			chromedp.WaitVisible("#backup-ready"))
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
	t.Run("the backup sets up a second device, which signs in with the same key", func(t *testing.T) {
		data := download(t, b, "#backup-link", "healthexchange-key-"+patientID+".json", "healthexchange-key-backup/v1")
		if strings.Contains(string(data), "PRIVATE") || strings.Contains(string(data), `"d":`) {
			t.Fatal("the backup holds the key in the clear")
		}
		file := filepath.Join(t.TempDir(), "backup.json")
		os.WriteFile(file, data, 0o600)
		second := newBrowser(t)
		run2 := func(what string, steps ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			if err := chromedp.Do(second, steps...); err != nil {
				t.Fatalf("second device: %s: %v", what, err)
			}
		}
		run2("a wrong passphrase", chromedp.Navigate(base), chromedp.WaitVisible("#restore-form"),
			chromedp.SetUploadFiles("#restore-file", []string{file}), chromedp.SendKeys("#restore-passphrase", "not the passphrase"),
			chromedp.Click(`#restore-form button[type="submit"]`), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				deadline := time.Now().Add(30 * time.Second)
				for time.Now().Before(deadline) {
					if v, _ := chromedp.Evaluate[string](`document.getElementById("error").textContent`)(ctx, tg); strings.Contains(v, "cannot be opened") {
						return nil
					}
					time.Sleep(100 * time.Millisecond)
				}
				return fmt.Errorf("no error shown for a wrong passphrase")
			}))
		run2("the right one", clear("restore-passphrase"), chromedp.SendKeys("#restore-passphrase", passphrase),
			chromedp.Click(`#restore-form button[type="submit"]`), text("#who", patientID), chromedp.WaitVisible("#page-consents"))
		who, err := chromedp.Run(second, chromedp.Evaluate[string](`document.getElementById("who").textContent`))
		if err != nil || !strings.Contains(who, patientID) {
			t.Fatalf("the second device shows %q (%v)", who, err)
		}
		extractable, err := chromedp.Run(second, chromedp.Evaluate[any](`new Promise((ok, fail) => { const r = indexedDB.open("healthexchange"); r.onsuccess = () => {
			const g = r.result.transaction("keys").objectStore("keys").get(`+fmt.Sprintf("%q", patientID)+`); g.onsuccess = () => ok(g.result.privateKey.extractable); g.onerror = fail; }; })`,
			chromedp.EvalAwaitPromise))
		if err != nil || extractable != false {
			t.Fatalf("the second device's key: extractable = %v (%v)", extractable, err)
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
		run("grant", chromedp.SetValue("#grant-org", "StMarysMSP"), chromedp.Click(`#grant-categories input[value="labs"]`),
			chromedp.Click(`#grant-purposes input[value="treatment"]`), chromedp.Click(`#grant-form button[type="submit"]`),
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
	t.Run("the doctor files a lab result; the patient sees it and checks it against the ledger", func(t *testing.T) {
		lab := []byte(`{"resourceType":"Observation","status":"final",
  "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
  "code":{"text":"HbA1c"},"subject":{"reference":"Patient/` + patientID + `"},"valueQuantity":{"value":6.10,"unit":"%"}}`)
		// Filing needs the organisation's consent: the patient gives it in
		// the page, and takes it back at the end.
		run("grant St Mary's", chromedp.Click("#nav-consents"), chromedp.WaitVisible("#grant-form"), chromedp.Click(`input[name="kind"][value="org"]`),
			chromedp.SetValue("#grant-org", "StMarysMSP"), chromedp.Click(`#grant-categories input[value="labs"]`),
			chromedp.Click(`#grant-purposes input[value="treatment"]`), chromedp.Click(`#grant-form button[type="submit"]`),
			text("#consent-list", "Everyone at St Mary"))
		records := recordsv1.NewRecordServiceClient(itest.Dial(t, recordsGRPC, "app-clinician"))
		put, err := records.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: patientID, Resource: lab},
			grpc.PerRPCCredentials(auth.Bearer(itest.Token(t, dr, auth.RoleClinician, "StMarysMSP"))))
		if err != nil {
			t.Fatal(err)
		}
		rec := put.GetRecord()
		check := fmt.Sprintf(`button[data-record=%q]`, rec.GetRecordId())
		result := fmt.Sprintf(`p[data-check=%q]`, rec.GetRecordId())
		run("list", chromedp.Click("#nav-records"), chromedp.WaitVisible("#page-records"), text("#record-list", "Lab results"),
			text("#record-list", "St Mary"), text("#record-list", rec.GetSha256()[:16]))
		run("check", chromedp.Click(check), text(result, "Unchanged"), text(result, "HbA1c"), text(result, rec.GetSha256()[:16]),
			text(result, rec.GetTxId()[:12]), shot("10-records"))

		// Someone with the object store's keys changes the stored record:
		// the page says so, and shows nothing of it.
		cfg, err := objectstore.ConfigFromFile(store.ConfigPath())
		if err != nil {
			t.Fatal(err)
		}
		mc, err := objectstore.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		key := recordstore.VersionKey(patientID, rec.GetRecordId(), int(rec.GetVersion()), rec.GetSha256())
		obj, err := mc.GetObject(ctx, "records", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		original, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || len(original) == 0 {
			t.Fatalf("the stored record: %d bytes, %v", len(original), err)
		}
		flipped := bytes.Clone(original)
		flipped[len(flipped)/2] ^= 1
		if _, err := mc.PutObject(ctx, "records", key, bytes.NewReader(flipped), int64(len(flipped)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		run("check the changed record", chromedp.Click(check), text(result, "does NOT match"))
		if shown := eval(fmt.Sprintf(`document.querySelector(%q).textContent`, result)).(string); strings.Contains(shown, "HbA1c") {
			t.Fatalf("the page shows a changed record's content: %q", shown)
		}
		if _, err := mc.PutObject(ctx, "records", key, bytes.NewReader(original), int64(len(original)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		run("checked again once put back", chromedp.Click(check), text(result, "Unchanged"))

		run("take St Mary's consent back", chromedp.Click("#nav-consents"), chromedp.WaitVisible("#page-consents"),
			chromedp.Click(`#consent-list li.card:has(h3) button.revoke[aria-label*="Everyone at"]`), chromedp.WaitVisible("#confirm"),
			chromedp.Click("#confirm-yes"), text("#status", "no longer has access"),
			until(`![...document.querySelectorAll("#consent-list h3")].some((h) => h.textContent.startsWith("Everyone at"))`))

		// The relay serves a patient their own records only.
		req, _ := http.NewRequest("GET", "https://"+c.HTTPAddr+"/app/api/patients/"+patientID+"/records", nil)
		req.Header.Set("Authorization", "Bearer "+itest.Token(t, itest.Unique("pat"), auth.RolePatient, ""))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("another patient's read of these records: %d", resp.StatusCode)
		}
	})
	t.Run("the doctor asks for more; the patient allows one request for 7 days and refuses another", func(t *testing.T) {
		if decideOn("imaging") {
			t.Fatal("imaging allowed before any request")
		}
		ask("imaging")
		run("allow", chromedp.Click("#nav-requests"), chromedp.WaitVisible("#page-requests"), chromedp.Click("#requests-refresh"),
			text("#request-list", "Scans and X-rays"), text("#request-list", "follow-up of your visit"), shot("6-requests"),
			chromedp.Click("button.approve"), text("#status", "Allowed"), text("#request-list", "Nobody is waiting"))
		if !decideOn("imaging") {
			t.Fatal("the doctor is refused imaging after the page allowed the request")
		}
		ask("notes")
		run("refuse", chromedp.Click("#requests-refresh"), text("#request-list", "Clinical notes"), chromedp.Click("button.deny"),
			text("#status", "Refused"), text("#request-list", "Nobody is waiting"))
		if decideOn("notes") {
			t.Fatal("the doctor may read notes after the page refused the request")
		}
	})
	t.Run("the patient pairs a wearable by pasting its key, and unpairs it", func(t *testing.T) {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		watch := itest.Unique("watch")
		run("a key that is not one", chromedp.Click("#nav-devices"), chromedp.WaitVisible("#pair-form"), text("#device-list", "No wearable"),
			chromedp.SendKeys("#pair-id", watch), chromedp.SendKeys("#pair-key", "not-a-key"), chromedp.Click(`#pair-form button[type="submit"]`),
			text("#error", "paste the wearable's public key exactly"))
		run("pair", clear("pair-key"), chromedp.SendKeys("#pair-key", base64.StdEncoding.EncodeToString(pub)), chromedp.Click(`#pair-form button[type="submit"]`),
			text("#status", "Paired"), until(fmt.Sprintf(`document.querySelector('li[data-device=%q][data-status="active"]') !== null`, watch)), shot("8-devices"))
		l := itest.Ledger(t, c.EnvPath, "providers")
		if d, err := l.Device(ctx, watch); err != nil || d.PatientID != patientID || d.PublicKey != base64.StdEncoding.EncodeToString(pub) || d.Status != "active" {
			t.Fatalf("on the ledger: %+v %v", d, err)
		}
		run("unpair", chromedp.Click("button.unpair"), chromedp.WaitVisible("#confirm"), text("#confirm-text", watch), chromedp.Click("#confirm-yes"),
			text("#status", "Unpaired"), until(fmt.Sprintf(`document.querySelector('li[data-device=%q][data-status="revoked"]') !== null`, watch)))
		if d, err := l.Device(ctx, watch); err != nil || d.Status != "revoked" {
			t.Fatalf("on the ledger after unpairing: %+v %v", d, err)
		}
	})
	t.Run("the patient joins a study and withdraws", func(t *testing.T) {
		study := itest.Unique("study")
		run("join", chromedp.Click("#nav-research"), chromedp.WaitVisible("#join-form"), text("#study-list", "no study"),
			chromedp.SendKeys("#join-study", study), chromedp.Click(`#join-categories input[value="vitals"]`), chromedp.Click(`#join-form button[type="submit"]`),
			text("#status", "You take part"), until(fmt.Sprintf(`document.querySelector('li[data-study=%q][data-status="active"]') !== null`, study)),
			text("#study-list", "Vital signs"), shot("9-research"))
		run("withdraw", chromedp.Click("button.withdraw"), chromedp.WaitVisible("#confirm"), text("#confirm-text", study), chromedp.Click("#confirm-yes"),
			until(fmt.Sprintf(`document.querySelector('li[data-study=%q][data-status="revoked"]') !== null`, study)), text("#study-list", "You withdrew"))
	})
	t.Run("the patient takes it back in the page; the doctor is refused", func(t *testing.T) {
		run("open", chromedp.Click("#nav-consents"), chromedp.WaitVisible("#page-consents"), text("#consent-list", "Lab results"))
		// The labs consent's card (the imaging one, from the request, stays).
		labs := eval(`[...document.querySelectorAll("#consent-list li.card")].find((li) => li.textContent.includes("Lab results")).dataset.consent`).(string)
		card := fmt.Sprintf(`li[data-consent=%q]`, labs)
		run("revoke", chromedp.Click(card+" button.revoke"), chromedp.WaitVisible("#confirm"), text("#confirm-text", dr), shot("4-confirm"),
			chromedp.Click("#confirm-yes"), text("#status", "no longer has access"),
			until(fmt.Sprintf(`document.querySelector('%s') === null`, card)))
		if decide() {
			t.Fatal("the doctor is allowed labs after the revocation in the page")
		}
		if !decideOn("imaging") {
			t.Fatal("the other consent went with it")
		}
	})
	t.Run("notifications, and a new one live while the page is open", func(t *testing.T) {
		run("open", chromedp.Click("#nav-notifications"), chromedp.WaitVisible("#page-notifications"),
			until(`document.querySelectorAll('#notification-list li[data-kind="access"]').length > 0`),
			text("#notification-list", "You gave access"))
		before := eval(`document.querySelectorAll("#notification-list li").length`).(float64)
		decideOn("labs") // refused now: the patient is told at once
		run("the new one appears", until(fmt.Sprintf(`document.querySelectorAll("#notification-list li").length > %d`, int(before))),
			text("#notification-list li:first-child", "was refused"), shot("7-notifications"))
	})
	t.Run("sign out, and sign in again with the keyboard only", func(t *testing.T) {
		run("sign out", chromedp.Click("#sign-out"), chromedp.WaitVisible("#signin-known"), text("#known-id", patientID))
		if shown := eval(`["nav", "recovery-alert", "page-consents"].filter((id) => getComputedStyle(document.getElementById(id)).display !== "none").join()`); shown != "" {
			t.Fatalf("signed out, the page still shows %v", shown)
		}
		active := ""
		for i := 0; i < 25 && active != "sign-in"; i++ {
			run("tab", chromedp.KeyEvent(kb.Tab))
			active = eval(`document.activeElement.id`).(string)
		}
		if active != "sign-in" {
			t.Fatal("the sign-in button cannot be reached with the Tab key")
		}
		run("enter", chromedp.KeyEvent(kb.Enter), text("#status", "Signed in"), text("#who", patientID)) // back on the page it was on
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
	t.Run("every control has a name a screen reader reads", func(t *testing.T) {
		unnamed := eval(`[...document.querySelectorAll("input:not([type=hidden]), select, button, a[href]")].filter((e) => {
			const label = e.labels && [...e.labels].some((l) => l.textContent.trim() !== "");
			return !label && !(e.getAttribute("aria-label") || "").trim() && !(e.tagName !== "INPUT" && e.tagName !== "SELECT" && e.textContent.trim());
		}).map((e) => e.outerHTML.slice(0, 80)).join("\n")`).(string)
		if unnamed != "" {
			t.Fatalf("controls without a name:\n%s", unnamed)
		}
		if n := eval(`document.querySelectorAll("input:not([type=hidden]), select, button, a[href]").length`).(float64); n < 30 {
			t.Fatalf("only %v controls checked", n)
		}
		if lang := eval(`document.documentElement.lang`).(string); lang == "" {
			t.Fatal("the page does not say its language")
		}
	})
	t.Run("the page is served with a strict policy", func(t *testing.T) {
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

// Sign-in across two instances of the consent service, as in the
// high-availability profile behind one address: a challenge one gives,
// the other takes (once), and the session works on both (both have the
// network's sign-in key).
func TestSignInAcrossInstancesIntegration(t *testing.T) {
	a := itest.NewConsentd(t, consentdBin)
	other := itest.NewConsentd(t, consentdBin)
	p := itest.NewPatient(t, a)
	key, err := patientkey.Load(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if ca, err := os.ReadFile(itest.Env(t).ServicesTLS.CA); err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("CA: %v", err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	post := func(addr, path string, body any) (int, map[string]string) {
		t.Helper()
		raw, _ := json.Marshal(body)
		resp, err := hc.Post("https://"+addr+path, "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	_, challenge := post(a.HTTPAddr, "/app/api/challenge", map[string]string{"patientId": p.ID})
	signed := map[string]string{"payload": challenge["payload"], "signature": key.SignRaw(challenge["payload"])}
	code, session := post(other.HTTPAddr, "/app/api/session", signed)
	if code != http.StatusOK || session["token"] == "" {
		t.Fatalf("sign-in at the instance that did not give the challenge: %d %v", code, session)
	}
	if code, _ := post(other.HTTPAddr, "/app/api/session", signed); code != http.StatusUnauthorized {
		t.Fatalf("the challenge answered twice: %d", code)
	}
	for name, c := range map[string]*itest.Consentd{"the instance that gave it": a, "the other instance": other} {
		req, _ := http.NewRequest("GET", "https://"+c.HTTPAddr+"/v1/patients/me", nil)
		req.Header.Set("Authorization", "Bearer "+session["token"])
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var me struct{ Patient struct{ PatientID string } }
		json.NewDecoder(resp.Body).Decode(&me)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || me.Patient.PatientID != p.ID {
			t.Fatalf("%s: %d %+v", name, resp.StatusCode, me)
		}
	}
}

// Recovery in the page, on the real network: a key registered with a
// recovery key made in the page (its file is the CLI's key file); on a new
// device the file asks for a new key; the old key's page warns and stops it,
// and that device's new key is refused; asked again from another device,
// the new key is refused until the waiting period is over, then signing in
// with it puts it in force, and the old key signs in no more.
func TestWebAppRecoveryIntegration(t *testing.T) {
	c := itest.NewConsentd(t, consentdBin)
	ctx := itest.Context(t)
	dir := shots(t)
	base := "https://" + c.HTTPAddr + "/app/"
	patientID := itest.Unique("pat")
	token := itest.Token(t, patientID, auth.RolePatient, "")
	const delay = 20 // seconds: the test's waiting period, an option the page is given here
	l := itest.Ledger(t, c.EnvPath, "providers")
	do := func(b context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	old := newBrowser(t)
	do(old, "a one-time sign-in that is not one", chromedp.Navigate(base), chromedp.WaitVisible("#setup-form"),
		chromedp.SendKeys("#setup-id", patientID), chromedp.SendKeys("#setup-token", "eyJ.not.valid"),
		chromedp.Click(`#setup-form button[type="submit"]`), textShows("#error", "was not accepted (it may have expired)"))
	do(old, "set up with a recovery key", clearInput("setup-token"), chromedp.SendKeys("#setup-token", token), chromedp.Click("#setup-recovery"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(document.getElementById("setup-recovery-delay").add(new Option("%d seconds", "%d", true, true)), true)`, delay, delay))(ctx, tg)
			return err
		}),
		chromedp.Click(`#setup-form button[type="submit"]`), textShows("#status", "registered"), chromedp.WaitVisible("#recovery-ready"))
	file := download(t, old, "#recovery-link", "healthexchange-recovery-key-"+patientID+".json", `"seed"`)
	keyFile := filepath.Join(t.TempDir(), "recovery.json")
	os.WriteFile(keyFile, file, 0o600)
	rk, err := patientkey.Load(keyFile)
	if err != nil {
		t.Fatalf("the recovery key's file is not the CLI's key file: %v", err)
	}
	p, err := l.Patient(ctx, patientID)
	if err != nil || p.RecoveryKey != rk.PublicKey() || p.RecoveryDelaySeconds != delay || p.PublicKey == rk.PublicKey() {
		t.Fatalf("on the ledger: %+v %v", p, err)
	}
	oldKey := p.PublicKey

	ask := func(b context.Context) {
		t.Helper()
		do(b, "ask for a new key with the recovery key", chromedp.Navigate(base), chromedp.WaitVisible("#recover-form"),
			chromedp.SetUploadFiles("#recover-file", []string{keyFile}), chromedp.SendKeys("#recover-token", token),
			chromedp.Click(`#recover-form button[type="submit"]`), textShows("#status", "Asked"), textShows("#known-id", patientID))
	}
	stopped := newBrowser(t)
	ask(stopped)
	do(stopped, "too early", chromedp.Click("#sign-in"), textShows("#error", "Your new key takes effect on"), screenshot(dir, "11-recover"))
	do(old, "the old key's page warns", chromedp.Click("#nav-access-log"), chromedp.WaitVisible("#recovery-alert"),
		textShows("#recovery-alert-text", "replace your key with your recovery key"), screenshot(dir, "12-recovery-alert"),
		chromedp.Click("#recovery-stop"), textShows("#status", "Stopped"), untilTrue(`document.getElementById("recovery-alert").hidden`))
	if p, err := l.Patient(ctx, patientID); err != nil || p.Recovery != nil || p.KeyVersion != 1 {
		t.Fatalf("after stopping it: %+v %v", p.Recovery, err)
	}
	do(stopped, "the stopped key signs in no more", chromedp.Click("#sign-in"), textShows("#error", "not the one on the ledger"))
	do(stopped, "and is forgotten on that device", chromedp.Click("#forget-key"), chromedp.WaitVisible("#confirm"),
		textShows("#confirm-text", patientID), chromedp.Click("#confirm-yes"), textShows("#status", "no longer holds"),
		untilTrue(`document.getElementById("signin-known").hidden`))

	recovered := newBrowser(t)
	ask(recovered)
	do(recovered, "too early", chromedp.Click("#sign-in"), textShows("#error", "takes effect on"))
	p, err = l.Patient(ctx, patientID)
	if err != nil || p.Recovery == nil {
		t.Fatalf("the second request: %+v %v", p, err)
	}
	effective, err := ledgerapi.ParseTime("effectiveAt", p.Recovery.EffectiveAt)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(effective) + time.Second)
	do(recovered, "in force once signed in", chromedp.Click("#sign-in"), textShows("#who", patientID), chromedp.WaitVisible("#page-consents"))
	if p, err := l.Patient(ctx, patientID); err != nil || p.Recovery != nil || p.KeyVersion != 2 || p.PublicKey == oldKey || p.PublicKey == rk.PublicKey() {
		t.Fatalf("after the recovery: %+v %v", p, err)
	}
	do(old, "the old key signs in no more", chromedp.Click("#sign-out"), chromedp.WaitVisible("#signin-known"), chromedp.Click("#sign-in"),
		textShows("#error", "not the one on the ledger"))
}
