package verifiercli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/domain/shc"
)

// world is a fake exchange and issuer on one TLS server: the exchange's
// check answers what the test sets; the issuer publishes keys.
type world struct {
	server    *httptest.Server
	ca        string
	check     *recordsv1.CheckHealthCardResponse
	published shc.JWKS
	fetches   atomic.Int32
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{}
	w.server = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "POST /v1/health-cards:check":
			io.ReadAll(r.Body)
			data, _ := protojson.Marshal(w.check)
			rw.Header().Set("Content-Type", "application/json")
			rw.Write(data)
		case "GET /shc/ProvidersMSP/.well-known/jwks.json":
			w.fetches.Add(1)
			json.NewEncoder(rw).Encode(w.published)
		default:
			http.NotFound(rw, r)
		}
	}))
	t.Cleanup(w.server.Close)
	w.ca = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(w.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.server.Certificate().Raw}), 0o600)
	return w
}

func (w *world) issuer() string { return w.server.URL + "/shc/ProvidersMSP" }

const bundle = `{"resourceType":"Bundle","type":"collection","entry":[` +
	`{"fullUrl":"resource:0","resource":{"resourceType":"Patient","birthDate":"1980-02-03"}},` +
	`{"fullUrl":"resource:1","resource":{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"display":"Influenza, seasonal"}]},"occurrenceDateTime":"2026-10-15","lotNumber":"FLU-1","patient":{"reference":"resource:0"}}}]}`

func (w *world) card(t *testing.T) string {
	t.Helper()
	key, _ := shc.NewKey()
	jwk, _ := shc.PublicJWK(&key.PublicKey)
	w.published = shc.JWKS{Keys: []shc.JWK{jwk}}
	jws, err := shc.Issue(key, w.issuer(), time.Now(), []string{shc.HealthCardType}, json.RawMessage(bundle))
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func (w *world) run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := Run(ctx, append([]string{"check", "--exchange", w.server.URL, "--ca", w.ca}, args...), &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestCheck(t *testing.T) {
	w := newWorld(t)
	jws := w.card(t)
	valid := &recordsv1.CheckHealthCardResponse{Valid: true, Org: "ProvidersMSP", OrgName: "Providers General Hospital", Version: 1, LatestVersion: 1}
	numeric, _ := shc.Numeric(jws)
	dir := t.TempDir()
	file := filepath.Join(dir, "a.b", "card.smart-health-card") // dots in the path, as in .cache
	os.MkdirAll(filepath.Dir(file), 0o700)
	os.WriteFile(file, []byte(`{"verifiableCredential":["`+jws+`"]}`), 0o600)
	qr := filepath.Join(dir, "qr.txt")
	os.WriteFile(qr, []byte(numeric+"\n"), 0o600)

	t.Run("valid, in every form", func(t *testing.T) {
		w.check = valid
		for _, arg := range []string{jws, numeric, file, qr} {
			code, out := w.run(t, arg)
			if code != 0 || !strings.HasPrefix(out, "VALID\n") || !strings.Contains(out, "Providers General Hospital") ||
				!strings.Contains(out, "Influenza, seasonal") || !strings.Contains(out, "born\t1980-02-03") {
				t.Fatalf("%d %s", code, out)
			}
		}
	})
	t.Run("the exchange's problems make it not valid", func(t *testing.T) {
		w.check = &recordsv1.CheckHealthCardResponse{Org: "ProvidersMSP", Problems: []string{"the record is superseded: the card copies version 1, the latest is version 2"}}
		code, out := w.run(t, jws)
		if code != 1 || !strings.HasPrefix(out, "NOT VALID") || !strings.Contains(out, "superseded") || strings.Contains(out, "Influenza") {
			t.Fatalf("%d %s", code, out)
		}
	})
	t.Run("an unknown issuer is never contacted", func(t *testing.T) {
		w.check = &recordsv1.CheckHealthCardResponse{Problems: []string{"the issuer is not an organisation of the exchange"}}
		before := w.fetches.Load()
		code, out := w.run(t, jws)
		if code != 1 || !strings.Contains(out, "not an organisation") || w.fetches.Load() != before {
			t.Fatalf("%d %s (fetches %d -> %d)", code, out, before, w.fetches.Load())
		}
	})
	t.Run("the exchange's yes is not enough: the published keys must verify it", func(t *testing.T) {
		w.check = valid
		other, _ := shc.NewKey()
		jwk, _ := shc.PublicJWK(&other.PublicKey)
		saved := w.published
		w.published = shc.JWKS{Keys: []shc.JWK{jwk}}
		defer func() { w.published = saved }()
		code, out := w.run(t, jws)
		if code != 1 || !strings.Contains(out, "does not publish the key") {
			t.Fatalf("%d %s", code, out)
		}
		parts := strings.Split(jws, ".")
		w.published = saved
		tampered := parts[0] + "." + parts[1][:len(parts[1])-2] + "AA." + parts[2]
		if code, out := w.run(t, tampered); code != 1 || !strings.HasPrefix(out, "NOT VALID") {
			t.Fatalf("tampered: %d %s", code, out)
		}
	})
	t.Run("not a card", func(t *testing.T) {
		w.check = valid
		for _, arg := range []string{"shc:/12", "a.b.c"} {
			if code, out := w.run(t, arg); code != 1 || !strings.Contains(out, "NOT VALID") && !strings.Contains(out, "not a health card") {
				t.Fatalf("%q: %d %s", arg, code, out)
			}
		}
		if code, _ := w.run(t, filepath.Join(dir, "missing")); code != 1 {
			t.Fatalf("a missing file: %d", code)
		}
		if code, _ := w.run(t); code != 2 {
			t.Fatalf("no CARD: %d", code)
		}
	})
	t.Run("the exchange unreachable is not valid", func(t *testing.T) {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		code := Run(ctx, []string{"check", "--exchange", "https://127.0.0.1:1", "--ca", w.ca, jws}, &out, &errOut)
		if code != 1 || !strings.Contains(out.String(), "NOT VALID") {
			t.Fatalf("%d %s %s", code, out.String(), errOut.String())
		}
	})
}
