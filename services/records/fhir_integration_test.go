//go:build integration

package records

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/auth/devissuer"
)

// newFHIRHTTP calls the FHIR API of the harness's records service over TLS.
func newFHIRHTTP(t *testing.T, h *harness) fhirClient {
	t.Helper()
	pem, err := os.ReadFile(itest.Env(t).ServicesTLS.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return fhirClient{base: "https://" + h.daemon.HTTPAddr + FHIRBase,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

// On the real network, MinIO and consent service: a lab filed through the
// FHIR API comes back with its decimals as written, byte-exact through the
// gRPC API, and element-exact through FHIR; a clinician without a consent
// is refused a read and finds nothing in a search.
func TestFHIRAPIIntegration(t *testing.T) {
	h := startRecords(t)
	ctx := itest.Context(t)
	p := itest.NewPatient(t, h.consent)
	writer := itest.Token(t, itest.Unique("dr-house"), auth.RoleClinician, "ProvidersMSP")
	stranger := itest.Token(t, itest.Unique("dr-nobody"), auth.RoleClinician, "StMarysMSP")
	h.consent.Grant(t, p, "--to", "org:ProvidersMSP", "--categories", "labs", "--purposes", "treatment")
	api := newFHIRHTTP(t, h)

	example, err := os.ReadFile("../domain/fhir/testdata/r4/Observation.json")
	if err != nil {
		t.Fatal(err)
	}
	raw := bytes.ReplaceAll(example, []byte("Patient/p-example"), []byte("Patient/"+p.ID))
	created := api.do(t, "POST", "/Observation", writer, raw)
	if created.code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.code, created.body)
	}
	id := created.json(t)["id"].(string)
	read := api.do(t, "GET", "/Observation/"+id, writer, nil)
	if read.code != http.StatusOK || !bytes.Contains(read.body, []byte(`"value": 6.10`)) {
		t.Fatalf("read: %d %s", read.code, read.body)
	}
	validR4(t, read.body)
	if got, want := withoutServerMeta(t, read.body), withoutServerMeta(t, raw); !jsonEqual(got, want) {
		t.Fatalf("served resource differs from the filed one:\nserved %s\nfiled  %s", read.body, raw)
	}
	got, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: id}, as(writer))
	if err != nil || !bytes.Equal(got.GetResource(), raw) || got.GetRecord().GetSha256() != fhir.Digest(raw) {
		t.Fatalf("gRPC read: %v; byte-exact %v", err, bytes.Equal(got.GetResource(), raw))
	}

	says := api.do(t, "GET", "/Observation/"+id, stranger, nil).outcome(t, http.StatusForbidden, "forbidden")
	if !strings.Contains(says, "ACCESS_DENIED") {
		t.Errorf("denial says %q", says)
	}
	a := api.do(t, "GET", "/Observation?patient="+p.ID, stranger, nil)
	var b fhir.Bundle
	json.Unmarshal(a.body, &b)
	if a.code != http.StatusOK || b.Total == nil || *b.Total != 0 || len(b.Entry) != 0 {
		t.Fatalf("a stranger's search: %d %s", a.code, a.body)
	}

	t.Run("fhir-kit-client", func(t *testing.T) {
		out := runFHIRKitClient(t, api.base, writer, p.ID)
		var r struct {
			Capability struct {
				FHIRVersion string   `json:"fhirVersion"`
				Types       []string `json:"types"`
			} `json:"capability"`
			Created []string `json:"created"`
			Read    struct {
				ID, VersionID, Text string
				Value               float64
			} `json:"read"`
			SearchTotal int      `json:"searchTotal"`
			SearchIDs   []string `json:"searchIds"`
			SearchPages int      `json:"searchPages"`
			Updated     struct {
				VersionID string  `json:"versionId"`
				Value     float64 `json:"value"`
			} `json:"updated"`
			StaleUpdate          any `json:"staleUpdate"`
			UpdateWithoutIfMatch any `json:"updateWithoutIfMatch"`
			History              struct {
				Total    int      `json:"total"`
				Versions []string `json:"versions"`
			} `json:"history"`
			Vread1      struct{ Value float64 } `json:"vread1"`
			UnknownRead any                     `json:"unknownRead"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("client printed %q: %v", out, err)
		}
		t.Logf("fhir-kit-client: %s", out)
		if r.Capability.FHIRVersion != "4.0.1" || !slices.Contains(r.Capability.Types, "Observation") {
			t.Errorf("capability: %+v", r.Capability)
		}
		if len(r.Created) != 3 || r.Read.ID != r.Created[0] || r.Read.VersionID != "1" || r.Read.Text != "fkc-0" || r.Read.Value != 5.4 {
			t.Errorf("create and read: %+v %+v", r.Created, r.Read)
		}
		// The search finds the three (the example filed above is HbA1c,
		// LOINC 4548-4), over two pages of two.
		want := slices.Clone(r.Created)
		slices.Sort(want)
		gotIDs := slices.Clone(r.SearchIDs)
		slices.Sort(gotIDs)
		if r.SearchTotal != 3 || !slices.Equal(gotIDs, want) || r.SearchPages != 2 {
			t.Errorf("search: total %d, ids %v in %d pages; want %v in 2", r.SearchTotal, r.SearchIDs, r.SearchPages, want)
		}
		if r.Updated.VersionID != "2" || r.Updated.Value != 5.5 {
			t.Errorf("update: %+v", r.Updated)
		}
		if r.StaleUpdate != float64(412) || r.UpdateWithoutIfMatch != float64(428) || r.UnknownRead != float64(404) {
			t.Errorf("stale update %v (want 412), update without If-Match %v (want 428), unknown read %v (want 404)",
				r.StaleUpdate, r.UpdateWithoutIfMatch, r.UnknownRead)
		}
		if r.History.Total != 2 || !slices.Equal(r.History.Versions, []string{"2", "1"}) || r.Vread1.Value != 5.4 {
			t.Errorf("history %+v, vread 1 %+v", r.History, r.Vread1)
		}
	})
}

// runFHIRKitClient installs testdata/fhirclient's locked packages (once,
// under the repository's .cache) and runs its client against base.
func runFHIRKitClient(t *testing.T, base, token, patient string) []byte {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, ".cache", "node", "fhirclient")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, _ := os.ReadFile("testdata/fhirclient/package-lock.json")
	installed, _ := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	for _, name := range []string{"package.json", "package-lock.json", "client.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata/fhirclient", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "fhir-kit-client")); err != nil || !bytes.Equal(lock, installed) {
		install := exec.CommandContext(itest.Context(t), "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		install.Dir = dir
		if out, err := install.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	run := exec.CommandContext(itest.Context(t), "node", "client.mjs")
	run.Dir = dir
	run.Env = append(os.Environ(), "FHIR_BASE="+base, "FHIR_TOKEN="+token, "FHIR_PATIENT="+patient,
		"NODE_EXTRA_CA_CERTS="+itest.Env(t).ServicesTLS.CA)
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\n%s", err, stderr.String())
	}
	return bytes.TrimSpace(out)
}

// SMART scopes x consents on the real service and the real policy: every
// request is allowed only within both, and a denial says which one denied.
func TestFHIRScopesAndConsentsIntegration(t *testing.T) {
	h := startRecords(t)
	p := itest.NewPatient(t, h.consent)
	api := newFHIRHTTP(t, h)
	h.consent.Grant(t, p, "--to", "org:ProvidersMSP", "--categories", "labs,conditions", "--purposes", "treatment")
	writer := itest.Token(t, itest.Unique("dr-house"), auth.RoleClinician, "ProvidersMSP")
	lab := api.do(t, "POST", "/Observation", writer, labResult(p.ID, "scopes"))
	cond := api.do(t, "POST", "/Condition", writer, []byte(`{"resourceType":"Condition","code":{"text":"asthma"},"subject":{"reference":"Patient/`+p.ID+`"}}`))
	if lab.code != http.StatusCreated || cond.code != http.StatusCreated {
		t.Fatalf("filing: %d %s / %d %s", lab.code, lab.body, cond.code, cond.body)
	}
	labID, condID := lab.json(t)["id"].(string), cond.json(t)["id"].(string)

	// app issues a clinician's SMART app token of org with scopes.
	app := func(org, scope, patient string) string {
		return itest.IssuedToken(t, org, devissuer.Claims{Subject: itest.Unique("dr-app"), Audiences: devenv.AudiencesFor("clinician"),
			Role: auth.RoleClinician, Org: org, Scope: scope, Patient: patient})
	}
	const scopeWords, consentWords = "SMART scopes do not allow", "no consent"
	cases := []struct {
		name, token, method, path string
		body                      []byte
		code                      int
		says, saysNot             string
	}{
		{"scope and consent allow", app("ProvidersMSP", "user/Observation.rs", ""), "GET", "/Observation/" + labID, nil, 200, "", ""},
		{"consent allows, scope of another type: the scope denied", app("ProvidersMSP", "user/Observation.rs", ""), "GET", "/Condition/" + condID, nil, 403, scopeWords, consentWords},
		{"consent allows, category restriction differs", app("ProvidersMSP", "user/Observation.rs?category=vital-signs", ""), "GET", "/Observation/" + labID, nil, 403, scopeWords, consentWords},
		{"category restriction matches", app("ProvidersMSP", "user/Observation.rs?category=laboratory", ""), "GET", "/Observation/" + labID, nil, 200, "", ""},
		{"scope allows, no consent: the consent denied", app("StMarysMSP", "user/*.cruds", ""), "GET", "/Observation/" + labID, nil, 403, consentWords, scopeWords},
		{"both deny: both named", app("StMarysMSP", "user/Condition.rs", ""), "GET", "/Observation/" + labID, nil, 403, scopeWords, ""},
		{"patient scope without a launch patient", app("ProvidersMSP", "patient/Observation.rs", ""), "GET", "/Observation/" + labID, nil, 403, scopeWords, ""},
		{"patient scope of another patient", app("ProvidersMSP", "patient/Observation.rs", "pat-someone-else"), "GET", "/Observation/" + labID, nil, 403, scopeWords, ""},
		{"patient scope of this patient", app("ProvidersMSP", "patient/Observation.rs", p.ID), "GET", "/Observation/" + labID, nil, 200, "", ""},
		{"read-only scope cannot create", app("ProvidersMSP", "user/Observation.rs", ""), "POST", "/Observation", labResult(p.ID, "app"), 403, scopeWords, ""},
		{"create scope creates", app("ProvidersMSP", "user/Observation.crs", ""), "POST", "/Observation", labResult(p.ID, "app"), 201, "", ""},
		{"a token without a scope claim: consents alone", writer, "GET", "/Condition/" + condID, nil, 200, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := api.do(t, c.method, c.path, c.token, c.body)
			if a.code != c.code {
				t.Fatalf("%d, want %d: %s", a.code, c.code, a.body)
			}
			if c.says != "" && !bytes.Contains(a.body, []byte(c.says)) {
				t.Errorf("answer does not say %q: %s", c.says, a.body)
			}
			if c.saysNot != "" && bytes.Contains(a.body, []byte(c.saysNot)) {
				t.Errorf("answer says %q: %s", c.saysNot, a.body)
			}
		})
	}
	// A search within a read-only scope (no s) finds nothing; with s, the
	// two labs (the one filed first and the app's).
	for scope, want := range map[string]int{"user/Observation.r": 0, "user/Observation.rs": 2} {
		a := api.do(t, "GET", "/Observation?patient="+p.ID, app("ProvidersMSP", scope, ""), nil)
		var b fhir.Bundle
		json.Unmarshal(a.body, &b)
		if a.code != 200 || b.Total == nil || *b.Total != want {
			t.Errorf("search with %s: %d %s, want total %d", scope, a.code, a.body, want)
		}
	}
}
