package consent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"healthexchange/services/platform/serving"
)

// fakeRecords is a records service's HTTP/JSON gateway that writes down
// what it was asked.
type fakeRecords struct {
	*httptest.Server
	mu    sync.Mutex
	asked []*http.Request
	reply func(w http.ResponseWriter, r *http.Request)
}

func newFakeRecords(t *testing.T) *fakeRecords {
	t.Helper()
	f := &fakeRecords{reply: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"records":[{"recordId":"rec-1"}]}`))
	}}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.asked = append(f.asked, r.Clone(r.Context()))
		f.mu.Unlock()
		f.reply(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeRecords) calls() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.asked...)
}

// caFile writes the fake's certificate as the CA the relay trusts.
func caFile(t *testing.T, f *fakeRecords) serving.TLSFiles {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return serving.TLSFiles{CAFile: p}
}

// listAs asks relay for pat-alice's records with token.
func listAs(relay *recordsRelay, token string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/app/api/patients/pat-alice/records", nil)
	r.SetPathValue("patient", "pat-alice")
	r.Header.Set("Authorization", "Bearer "+token)
	relay.handler(relayList).ServeHTTP(w, r)
	return w
}

// The records page's relay: a patient's own reads reach the records
// service with their token and come back as answered; everything else is
// refused here in words, before the records service is asked; a records
// service that does not answer is the next instance, then a 503.
func TestRecordsRelay(t *testing.T) {
	f := newSignInFixture(t, nil)
	alice, err := f.si.token("pat-alice", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rec := newFakeRecords(t)
	down := newFakeRecords(t)
	downURL := down.URL
	down.Close()
	relay, err := newRecordsRelay(downURL+","+rec.URL, caFile(t, rec), f.verifier, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /app/api/patients/{patient}/records", relay.handler(relayList))
	mux.Handle("GET /app/api/patients/{patient}/records/{record}", relay.handler(relayGet))
	mux.Handle("GET /app/api/patients/{patient}/records/{record}/history", relay.handler(relayHistory))
	get := func(path, token string) (int, map[string]any) {
		t.Helper()
		r := httptest.NewRequest("GET", path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		var out map[string]any
		json.Unmarshal(w.Body.Bytes(), &out)
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, w.Header().Get("Cache-Control"))
		}
		return w.Code, out
	}

	t.Run("the patient's own reads are relayed with their token", func(t *testing.T) {
		for path, want := range map[string]string{
			"/app/api/patients/pat-alice/records?page_size=10&page_token=abc": "/v1/patients/pat-alice/records?page_size=10&page_token=abc",
			"/app/api/patients/pat-alice/records/rec-1?version=2":             "/v1/patients/pat-alice/records/rec-1?version=2",
			"/app/api/patients/pat-alice/records/rec-1/history":               "/v1/patients/pat-alice/records/rec-1/history",
		} {
			before := len(rec.calls())
			code, out := get(path, alice)
			if code != http.StatusOK || out["records"] == nil {
				t.Fatalf("%s: %d %v", path, code, out)
			}
			calls := rec.calls()
			if len(calls) != before+1 {
				t.Fatalf("%s: the records service was asked %d times", path, len(calls)-before)
			}
			got := calls[len(calls)-1]
			if got.URL.RequestURI() != want || got.Header.Get("Authorization") != "Bearer "+alice || got.Method != "GET" {
				t.Fatalf("%s: asked %s %s with %q", path, got.Method, got.URL.RequestURI(), got.Header.Get("Authorization"))
			}
		}
	})
	t.Run("the records service's refusal is passed on", func(t *testing.T) {
		rec.reply = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"code":7,"message":"no consent"}`))
		}
		code, out := get("/app/api/patients/pat-alice/records/rec-1", alice)
		if code != http.StatusForbidden || out["message"] != "no consent" {
			t.Fatalf("%d %v", code, out)
		}
	})
	bob, err := f.si.token("pat-bob", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]struct {
		path, token string
		code        int
	}{
		"no token":                  {"/app/api/patients/pat-alice/records", "", http.StatusUnauthorized},
		"a forged token":            {"/app/api/patients/pat-alice/records", alice[:len(alice)-4] + "AAAA", http.StatusUnauthorized},
		"another patient's records": {"/app/api/patients/pat-alice/records", bob, http.StatusForbidden},
		"an unknown parameter":      {"/app/api/patients/pat-alice/records?purpose=emergency", alice, http.StatusBadRequest},
		"a parameter twice":         {"/app/api/patients/pat-alice/records?page_size=1&page_size=2", alice, http.StatusBadRequest},
		"a page of 0":               {"/app/api/patients/pat-alice/records?page_size=0", alice, http.StatusBadRequest},
		"a long page token":         {"/app/api/patients/pat-alice/records?page_token=" + strings.Repeat("a", 600), alice, http.StatusBadRequest},
		"a negative version":        {"/app/api/patients/pat-alice/records/rec-1?version=-1", alice, http.StatusBadRequest},
		"a version on the history":  {"/app/api/patients/pat-alice/records/rec-1/history?version=1", alice, http.StatusBadRequest},
		"a record id with a space":  {"/app/api/patients/pat-alice/records/rec%201", alice, http.StatusBadRequest},
		"a record id of dots":       {"/app/api/patients/pat-alice/records/..%2F..%2Fv1", alice, http.StatusBadRequest},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			before := len(rec.calls())
			code, out := get(tc.path, tc.token)
			if code != tc.code || out["message"] == "" || out["message"] == nil {
				t.Fatalf("%d %v, want %d with words", code, out, tc.code)
			}
			if len(rec.calls()) != before {
				t.Fatal("the records service was asked")
			}
		})
	}
	t.Run("an answer too large is not passed on", func(t *testing.T) {
		rec.reply = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"x":"` + strings.Repeat("a", maxRelayAnswer) + `"}`))
		}
		if code, out := get("/app/api/patients/pat-alice/records", alice); code != http.StatusServiceUnavailable || !strings.Contains(out["message"].(string), "cannot be reached") {
			t.Fatalf("%d %v", code, out)
		}
	})
	t.Run("no instance answers", func(t *testing.T) {
		none, err := newRecordsRelay(downURL, caFile(t, rec), f.verifier, discardLog())
		if err != nil {
			t.Fatal(err)
		}
		w := listAs(none, alice)
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "try again later") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("a certificate of another CA: not trusted", func(t *testing.T) {
		// httptest's servers all have the same certificate: the relay
		// trusts another CA here instead.
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"}, IsCA: true, BasicConstraintsValid: true,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		otherCA := filepath.Join(t.TempDir(), "other-ca.crt")
		os.WriteFile(otherCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		other := newFakeRecords(t)
		wrong, err := newRecordsRelay(other.URL, serving.TLSFiles{CAFile: otherCA}, f.verifier, discardLog())
		if err != nil {
			t.Fatal(err)
		}
		w := listAs(wrong, alice)
		if w.Code != http.StatusServiceUnavailable || len(other.calls()) != 0 {
			t.Fatalf("%d, the untrusted server was asked %d times", w.Code, len(other.calls()))
		}
	})
	t.Run("a million reads: bounded per patient", func(t *testing.T) {
		rec.reply = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{}`))
		}
		limited := 0
		for range relayRate.Burst + 20 {
			if code, _ := get("/app/api/patients/pat-alice/records", alice); code == http.StatusTooManyRequests {
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("never limited")
		}
	})
	t.Run("not set up", func(t *testing.T) {
		off, err := newRecordsRelay("", serving.TLSFiles{}, f.verifier, discardLog())
		if err != nil || off.Offered() {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		off.handler(relayList).ServeHTTP(w, httptest.NewRequest("GET", "/app/api/patients/pat-alice/records", nil))
		if w.Code != http.StatusNotFound {
			t.Fatal(w.Code)
		}
	})
	t.Run("addresses refused", func(t *testing.T) {
		for _, u := range []string{"http://127.0.0.1:1", "https://user@127.0.0.1:1", "https://127.0.0.1:1/v1", "https://127.0.0.1:1?x=1", "127.0.0.1:1"} {
			if _, err := newRecordsRelay(u, caFile(t, rec), f.verifier, discardLog()); err == nil {
				t.Errorf("%s: accepted", u)
			}
		}
	})
}
