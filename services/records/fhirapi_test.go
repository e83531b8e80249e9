package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/objectstore/objectstoretest"
	"healthexchange/services/platform/serving"
	"healthexchange/services/store/readingstore"
	"healthexchange/wearables/mhealth"
)

// tokens is a Verifier that knows fixed tokens.
type tokens map[string]auth.Principal

func (t tokens) Verify(token string) (auth.Principal, error) {
	p, ok := t[token]
	if !ok {
		return auth.Principal{}, fmt.Errorf("%w: unknown token", auth.ErrInvalidToken)
	}
	return p, nil
}

// fhirFixture is the FHIR API over a fixture, on an httptest server.
type fhirFixture struct {
	*fixture
	fhirClient
}

func newFHIRFixture(t *testing.T) *fhirFixture {
	f := &fhirFixture{fixture: newFixture(t)}
	f.serve(t, tokens{"tok-dr": drWho, "tok-alice": alice, "tok-p": {Subject: "p-example", Role: auth.RolePatient}})
	return f
}

// serve serves the fixture's FHIR API, to the callers of tokens, on a new
// server that f calls from now on.
func (f *fhirFixture) serve(t *testing.T, v tokens) {
	srv := httptest.NewServer(f.svc.FHIRHandler(v))
	t.Cleanup(srv.Close)
	f.fhirClient = fhirClient{base: srv.URL + FHIRBase, client: srv.Client()}
}

// fhirClient calls a FHIR API at base.
type fhirClient struct {
	base   string
	client *http.Client
}

type fhirAnswer struct {
	code   int
	header http.Header
	body   []byte
}

func (a fhirAnswer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("answer %d is not JSON: %q", a.code, a.body)
	}
	return m
}

// do sends a request; url is relative to the FHIR base unless absolute.
func (c fhirClient) do(t *testing.T, method, url, token string, body []byte, header ...string) fhirAnswer {
	t.Helper()
	if !strings.HasPrefix(url, "http") {
		url = c.base + url
	}
	req, err := http.NewRequestWithContext(testContext(t), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated && len(b) > 0 && ct != fhir.ContentType {
		t.Errorf("%s %s: Content-Type %q", method, url, ct)
	}
	return fhirAnswer{resp.StatusCode, resp.Header, b}
}

// outcome checks that a is an OperationOutcome with HTTP code and issue code.
func (a fhirAnswer) outcome(t *testing.T, code int, issue string) string {
	t.Helper()
	if a.code != code {
		t.Fatalf("status %d, want %d: %s", a.code, code, a.body)
	}
	var oo fhir.OperationOutcome
	if err := json.Unmarshal(a.body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 || oo.Issue[0].Code != issue {
		t.Fatalf("answer %s is not an OperationOutcome of issue %s", a.body, issue)
	}
	validR4(t, a.body)
	return oo.Issue[0].Diagnostics + " " + fmt.Sprint(oo.Issue[0].Details)
}

// validR4 checks raw with the R4 parser.
func validR4(t *testing.T, raw []byte) {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.UnmarshalR4(raw); err != nil {
		t.Fatalf("not a valid R4 resource: %v\n%s", err, raw)
	}
}

// withoutServerMeta decodes a resource (numbers as written) without id,
// meta.versionId and meta.lastUpdated, and meta if nothing else is in it.
func withoutServerMeta(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	delete(m, "id")
	if meta, ok := m["meta"].(map[string]any); ok {
		delete(meta, "versionId")
		delete(meta, "lastUpdated")
		if len(meta) == 0 {
			delete(m, "meta")
		}
	}
	return m
}

// Every R4 example: created through the API, read back element-exact with
// the server's id and meta (decimals as written), and byte-exact through
// Get, the gRPC API's read (Patient, which the FHIR API does not serve, by
// Put and Get alone).
func TestFHIRExamplesRoundTrip(t *testing.T) {
	f := newFHIRFixture(t)
	files, _ := filepath.Glob("../domain/fhir/testdata/r4/*.json")
	if len(files) < 15 {
		t.Fatalf("%d examples", len(files))
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		typ, _ := fhir.ResourceTypeOf(raw)
		if typ == "Patient" { // not served by the FHIR API: byte-exact through Put and Get
			r := f.put(t, drWho, PutRequest{PatientID: "p-example", Resource: raw})
			got, err := f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "p-example", RecordID: r.Record.RecordID})
			if err != nil || !bytes.Equal(got.Resource, raw) || r.Record.SHA256 != fhir.Digest(raw) {
				t.Errorf("Patient: %v; byte-exact %v", err, bytes.Equal(got.Resource, raw))
			}
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			created := f.do(t, "POST", "/"+typ, "tok-p", raw)
			if created.code != http.StatusCreated {
				t.Fatalf("create: %d %s", created.code, created.body)
			}
			loc := created.header.Get("Location")
			id := created.json(t)["id"].(string)
			if !strings.HasSuffix(loc, "/"+typ+"/"+id+"/_history/1") || created.header.Get("ETag") != `W/"1"` {
				t.Fatalf("Location %q, ETag %q", loc, created.header.Get("ETag"))
			}
			read := f.do(t, "GET", "/"+typ+"/"+id, "tok-p", nil)
			if read.code != http.StatusOK || read.header.Get("Content-Type") != fhir.ContentType {
				t.Fatalf("read: %d %s", read.code, read.body)
			}
			validR4(t, read.body)
			served := read.json(t)
			meta := served["meta"].(map[string]any)
			if served["id"] != id || meta["versionId"] != "1" || meta["lastUpdated"] == "" {
				t.Fatalf("served id %v, meta %v", served["id"], meta)
			}
			if got, want := withoutServerMeta(t, read.body), withoutServerMeta(t, raw); !jsonEqual(got, want) {
				t.Fatalf("served resource differs from the filed one:\nserved %s\nfiled  %s", read.body, raw)
			}
			// Every number literal of the file is served as written.
			for _, lit := range numberLiterals(t, raw) {
				if !bytes.Contains(read.body, []byte(lit)) {
					t.Errorf("number %s is not served as written", lit)
				}
			}
			got, err := f.svc.Get(testContext(t), auth.Principal{Subject: "p-example", Role: auth.RolePatient}, GetRequest{PatientID: "p-example", RecordID: id})
			if err != nil || !bytes.Equal(got.Resource, raw) || got.Record.SHA256 != fhir.Digest(raw) ||
				read.header.Get("X-Notarized-SHA256") != fhir.Digest(raw) {
				t.Fatalf("Get: %v; byte-exact %v", err, bytes.Equal(got.Resource, raw))
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// numberLiterals are the number literals of a JSON text, as written.
func numberLiterals(t *testing.T, raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out []string
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if n, ok := tok.(json.Number); ok {
			out = append(out, string(n))
		}
	}
}

func TestFHIRMetadataIsPublicAndValid(t *testing.T) {
	f := newFHIRFixture(t)
	a := f.do(t, "GET", "/metadata", "", nil)
	if a.code != http.StatusOK {
		t.Fatalf("%d %s", a.code, a.body)
	}
	validR4(t, a.body)
	var cs struct {
		FHIRVersion string `json:"fhirVersion"`
		Rest        []struct {
			Resource []struct {
				Type        string `json:"type"`
				SearchParam []struct {
					Name string `json:"name"`
				} `json:"searchParam"`
			} `json:"resource"`
		} `json:"rest"`
	}
	json.Unmarshal(a.body, &cs)
	if cs.FHIRVersion != "4.0.1" || len(cs.Rest) != 1 || len(cs.Rest[0].Resource) != len(fhir.SearchTypes())+2 {
		t.Fatalf("capability: %s", a.body)
	}
	for _, r := range cs.Rest[0].Resource {
		if r.Type == "Observation" && len(r.SearchParam) != 5 { // patient category code date _count
			t.Errorf("Observation search params %+v", r.SearchParam)
		}
	}
}

func TestFHIRRefusesWithOperationOutcomes(t *testing.T) {
	f := newFHIRFixture(t)
	lab := observation("alice", "x")
	cases := []struct {
		name, method, url, token string
		body                     []byte
		header                   []string
		code                     int
		issue, says              string
	}{
		{"no token", "GET", "/Observation?patient=alice", "", nil, nil, 401, "login", "bearer token is required"},
		{"a token that does not verify", "GET", "/Observation?patient=alice", "forged", nil, nil, 401, "login", "unknown token"},
		{"a type not served", "GET", "/Patient?patient=alice", "tok-dr", nil, nil, 404, "not-supported", "not served here"},
		{"a type that does not exist", "GET", "/Banana/1", "tok-dr", nil, nil, 404, "not-supported", "not served here"},
		{"no such record", "GET", "/Observation/rec-nothere", "tok-dr", nil, nil, 404, "not-found", "no record"},
		{"an unknown search parameter", "GET", "/Observation?patient=alice&_include=x", "tok-dr", nil, nil, 400, "invalid", `"_include" is not supported`},
		{"a parameter the type lacks", "GET", "/Encounter?patient=alice&code=x", "tok-dr", nil, nil, 400, "invalid", `"code" is not supported`},
		{"search without a patient", "GET", "/Observation?code=x", "tok-dr", nil, nil, 400, "invalid", "patient is required"},
		{"a modifier", "GET", "/Observation?patient=alice&code:text=x", "tok-dr", nil, nil, 400, "invalid", "not supported"},
		{"a date prefix not supported", "GET", "/Observation?patient=alice&date=ap2024", "tok-dr", nil, nil, 400, "invalid", "prefix"},
		{"a malformed date", "GET", "/Observation?patient=alice&date=2024-13", "tok-dr", nil, nil, 400, "invalid", "R4 date"},
		{"_count too large", "GET", "/Observation?patient=alice&_count=1000", "tok-dr", nil, nil, 400, "invalid", "_count"},
		{"XML asked for", "GET", "/Observation?patient=alice&_format=xml", "tok-dr", nil, nil, 406, "not-supported", "only JSON"},
		{"XML accepted only", "GET", "/metadata", "", nil, []string{"Accept", "application/fhir+xml"}, 406, "not-supported", "only JSON"},
		{"create of another type than the URL", "POST", "/Condition", "tok-dr", lab, nil, 400, "invalid", "resourceType must be the type"},
		{"create not JSON", "POST", "/Observation", "tok-dr", lab, []string{"Content-Type", "application/fhir+xml"}, 415, "not-supported", "application/fhir+json"},
		{"create of an invalid resource names the R4 path", "POST", "/Observation", "tok-dr",
			[]byte(`{"resourceType":"Observation","status":"bogus","code":{"text":"x"},"subject":{"reference":"Patient/alice"}}`), nil, 400, "invalid", `"Observation.status"`},
		{"create for no patient", "POST", "/Observation", "tok-dr", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`), nil, 400, "invalid", "Patient/<id>"},
		{"create too large", "POST", "/Observation", "tok-dr", append(bytes.Repeat([]byte(" "), fhir.MaxResourceBytes), lab...), nil, 413, "too-costly", "at most"},
		{"update without If-Match", "PUT", "/Observation/rec-1", "tok-dr", lab, nil, 428, "required", "If-Match is required"},
		{"update with a malformed If-Match", "PUT", "/Observation/rec-1", "tok-dr", lab, []string{"If-Match", "abc"}, 400, "invalid", "If-Match"},
		{"delete", "DELETE", "/Observation/rec-1", "tok-dr", nil, nil, 404, "not-supported", "no such FHIR interaction"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			says := f.do(t, c.method, c.url, c.token, c.body, c.header...).outcome(t, c.code, c.issue)
			if !strings.Contains(says, c.says) {
				t.Errorf("outcome says %q, want it to say %q", says, c.says)
			}
		})
	}
	if keys := f.keys(true); len(keys) != 0 {
		t.Errorf("refused requests stored %q", keys)
	}
}

// A clinician may read labs but not vitals; one lab record is withheld on
// its own. A search's total, pages and links count only what they may
// read, and following next links returns exactly that, once each.
func TestFHIRSearchPagesAfterConsentFiltering(t *testing.T) {
	f := newFHIRFixture(t)
	var labs, withheld []string
	for i := range 7 {
		r := f.put(t, alice, PutRequest{PatientID: "alice", Resource: observation("alice", fmt.Sprintf("lab-%d", i))})
		if i == 3 {
			withheld = append(withheld, r.Record.RecordID)
		} else {
			labs = append(labs, r.Record.RecordID)
		}
	}
	for i := range 4 {
		r := f.put(t, alice, PutRequest{PatientID: "alice", Resource: vitalSign("alice", fmt.Sprint(60+i))})
		withheld = append(withheld, r.Record.RecordID)
	}
	f.put(t, alice, PutRequest{PatientID: "alice", Resource: condition("alice", "other type")})
	// Labs are denied as a category and allowed record by record, but for
	// one; vitals are denied; conditions are allowed.
	f.decider.allow = func(action string, r *consentv1.Resource) bool {
		switch {
		case action == "write":
			return true
		case r.GetRecordId() == "":
			return r.GetCategory() == "conditions"
		default:
			return r.GetCategory() == "labs" && !slices.Contains(withheld, r.GetRecordId())
		}
	}
	var got []string
	next := "/Observation?patient=alice&_count=2"
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("next links do not end")
		}
		a := f.do(t, "GET", next, "tok-dr", nil)
		if a.code != http.StatusOK {
			t.Fatalf("search: %d %s", a.code, a.body)
		}
		validR4(t, a.body)
		var b fhir.Bundle
		json.Unmarshal(a.body, &b)
		if b.Type != "searchset" || b.Total == nil || *b.Total != len(labs) {
			t.Fatalf("total %v, want %d (withheld records must not count)", b.Total, len(labs))
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
		for _, e := range b.Entry {
			var r struct{ ID string }
			json.Unmarshal(e.Resource, &r)
			got = append(got, r.ID)
		}
	}
	slices.Sort(got)
	slices.Sort(labs)
	if !slices.Equal(got, labs) {
		t.Fatalf("pages returned %v, want %v", got, labs)
	}
	// The withheld records are not readable one by one either.
	for _, id := range withheld[:2] {
		f.do(t, "GET", "/Observation/"+id, "tok-dr", nil).outcome(t, 403, "forbidden")
	}
}

func TestFHIRSearchFilters(t *testing.T) {
	f := newFHIRFixture(t)
	obsAt := func(code, system, when string) []byte {
		return []byte(`{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],` +
			`"code":{"coding":[{"system":"` + system + `","code":"` + code + `"}]},"subject":{"reference":"Patient/alice"},"effectiveDateTime":"` + when + `","valueQuantity":{"value":6.10}}`)
	}
	ids := map[string]string{}
	for name, raw := range map[string][]byte{
		"glucose-2024": obsAt("2339-0", "http://loinc.org", "2024-05-01T08:00:00Z"),
		"glucose-2025": obsAt("2339-0", "http://loinc.org", "2025-05-01T08:00:00Z"),
		"hba1c-2025":   obsAt("4548-4", "http://loinc.org", "2025-06-01"),
		"local-2025":   obsAt("2339-0", "urn:local", "2025-07-01T08:00:00+02:00"),
	} {
		ids[name] = f.put(t, alice, PutRequest{PatientID: "alice", Resource: raw}).Record.RecordID
	}
	ids["vital"] = f.put(t, alice, PutRequest{PatientID: "alice", Resource: vitalSign("alice", "61")}).Record.RecordID
	cases := []struct {
		query string
		want  []string
	}{
		{"code=http://loinc.org|2339-0", []string{"glucose-2024", "glucose-2025"}},
		{"code=2339-0", []string{"glucose-2024", "glucose-2025", "local-2025"}},
		{"code=http://loinc.org|", []string{"glucose-2024", "glucose-2025", "hba1c-2025", "vital"}},
		{"code=2339-0,4548-4", []string{"glucose-2024", "glucose-2025", "hba1c-2025", "local-2025"}},
		{"category=laboratory", []string{"glucose-2024", "glucose-2025", "hba1c-2025", "local-2025"}},
		{"category=vital-signs", []string{"vital"}},
		{"date=2025", []string{"glucose-2025", "hba1c-2025", "local-2025", "vital"}},
		{"date=ge2025-05-15&date=lt2025-07", []string{"hba1c-2025"}}, // local-2025 is 2025-07-01T06:00Z
		{"date=ge2025-05-15&date=lt2025-07-02", []string{"hba1c-2025", "local-2025"}},
		{"date=lt2025&code=2339-0", []string{"glucose-2024"}},
		{"date=eq2025-06-01", []string{"hba1c-2025"}},
		{"code=9999-9", nil},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			a := f.do(t, "GET", "/Observation?patient=Patient/alice&"+c.query, "tok-dr", nil)
			if a.code != http.StatusOK {
				t.Fatalf("%d %s", a.code, a.body)
			}
			var b fhir.Bundle
			json.Unmarshal(a.body, &b)
			var got, want []string
			for _, e := range b.Entry {
				var r struct{ ID string }
				json.Unmarshal(e.Resource, &r)
				got = append(got, r.ID)
			}
			for _, w := range c.want {
				want = append(want, ids[w])
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) || *b.Total != len(want) {
				t.Fatalf("got %v (total %d), want %v", got, *b.Total, want)
			}
		})
	}
}

func TestFHIRUpdateWithIfMatchAndHistory(t *testing.T) {
	f := newFHIRFixture(t)
	created := f.do(t, "POST", "/Observation", "tok-dr", observation("alice", "v1"))
	if created.code != http.StatusCreated {
		t.Fatalf("%d %s", created.code, created.body)
	}
	id := created.json(t)["id"].(string)
	v2 := bytes.Replace(created.body, []byte(`"v1"`), []byte(`"v2"`), 1)
	ok := f.do(t, "PUT", "/Observation/"+id, "tok-dr", v2, "If-Match", `W/"1"`)
	if ok.code != http.StatusOK || ok.header.Get("ETag") != `W/"2"` || ok.json(t)["meta"].(map[string]any)["versionId"] != "2" {
		t.Fatalf("update: %d %v %s", ok.code, ok.header, ok.body)
	}
	// A second update from version 1 lost the race: 412, nothing stored.
	v3 := bytes.Replace(created.body, []byte(`"v1"`), []byte(`"v3"`), 1)
	f.do(t, "PUT", "/Observation/"+id, "tok-dr", v3, "If-Match", `W/"1"`).outcome(t, http.StatusPreconditionFailed, "conflict")
	// The id in the body must be the URL's.
	f.do(t, "PUT", "/Observation/rec-other", "tok-dr", v2, "If-Match", `W/"2"`).outcome(t, 400, "invalid")
	// No update-as-create.
	other := bytes.Replace(v2, []byte(id), []byte("rec-nothere"), 1)
	f.do(t, "PUT", "/Observation/rec-nothere", "tok-dr", other, "If-Match", `W/"1"`).outcome(t, 404, "not-found")

	h := f.do(t, "GET", "/Observation/"+id+"/_history", "tok-dr", nil)
	if h.code != http.StatusOK {
		t.Fatalf("history: %d %s", h.code, h.body)
	}
	validR4(t, h.body)
	var b fhir.Bundle
	json.Unmarshal(h.body, &b)
	if b.Type != "history" || *b.Total != 2 || len(b.Entry) != 2 ||
		!bytes.Contains(b.Entry[0].Resource, []byte(`"v2"`)) || !bytes.Contains(b.Entry[1].Resource, []byte(`"v1"`)) ||
		b.Entry[1].Request.Method != "POST" || b.Entry[0].Request.Method != "PUT" {
		t.Fatalf("history, newest first: %s", h.body)
	}
	v1 := f.do(t, "GET", "/Observation/"+id+"/_history/1", "tok-dr", nil)
	if v1.code != http.StatusOK || !bytes.Contains(v1.body, []byte(`"v1"`)) || v1.header.Get("ETag") != `W/"1"` {
		t.Fatalf("vread 1: %d %s", v1.code, v1.body)
	}
	f.do(t, "GET", "/Observation/"+id+"/_history/3", "tok-dr", nil).outcome(t, 404, "not-found")
	f.do(t, "GET", "/Condition/"+id, "tok-dr", nil).outcome(t, 404, "not-found")
}

// A denial says why, with the policy's reasons, and is logged: the same
// decision as the gRPC API's.
func TestFHIRReadDeniedSaysWhy(t *testing.T) {
	f := newFHIRFixture(t)
	r := f.put(t, alice, PutRequest{PatientID: "alice", Resource: observation("alice", "x")})
	f.decider.allow = func(string, *consentv1.Resource) bool { return false }
	says := f.do(t, "GET", "/Observation/"+r.Record.RecordID, "tok-dr", nil).outcome(t, 403, "forbidden")
	if !strings.Contains(says, "no consent is given to this subject") {
		t.Errorf("denial says %q", says)
	}
	a := f.do(t, "GET", "/Observation?patient=alice", "tok-dr", nil)
	var b fhir.Bundle
	json.Unmarshal(a.body, &b)
	if a.code != 200 || *b.Total != 0 || len(b.Entry) != 0 || bytes.Contains(a.body, []byte("withheld")) {
		t.Fatalf("search with nothing allowed: %d %s", a.code, a.body)
	}
}

// vitalSign is a heart-rate Observation (category vitals) of the patient.
func vitalSign(patientID, bpm string) []byte {
	return []byte(`{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/` + patientID + `"},"effectiveDateTime":"2025-01-01T00:00:00Z",` +
		`"valueQuantity":{"value":` + bpm + `,"unit":"/min"}}`)
}

// The patient's consents and access log, read-only, for the patient alone.
func TestFHIRConsentAndAuditEvent(t *testing.T) {
	f := newFHIRFixture(t)
	f.ledger.consents = []ledgerapi.Consent{
		{ConsentID: "c-old", PatientID: "alice", Grantee: ledgerapi.UserGrantee("StMarysMSP", "dr-a"), Categories: []string{"labs"},
			Purposes: []string{"treatment"}, RecordIDs: []string{}, Status: "revoked", GrantedAt: "2026-01-01T00:00:00Z",
			RevokedAt: "2026-02-01T00:00:00Z", GrantTxID: "tx-1", RevokeTxID: "tx-2"},
		{ConsentID: "c-new", PatientID: "alice", Grantee: ledgerapi.Grantee{Kind: "org", ID: "ProvidersMSP"}, Categories: []string{"labs", "vitals"},
			Purposes: []string{"treatment"}, RecordIDs: []string{}, Status: "active", GrantedAt: "2026-03-01T00:00:00Z", GrantTxID: "tx-3"},
		{ConsentID: "c-bob", PatientID: "bob", Grantee: ledgerapi.Grantee{Kind: "org", ID: "ProvidersMSP"}, Categories: []string{"labs"},
			Purposes: []string{"treatment"}, RecordIDs: []string{}, Status: "active", GrantedAt: "2026-03-01T00:00:00Z", GrantTxID: "tx-4"},
	}
	for i := range 25 {
		f.ledger.events = append(f.ledger.events, ledgerapi.AccessEvent{EventID: fmt.Sprintf("ev-%02d", i), Actor: "dr-a", ActorRole: "clinician",
			ActorOrg: "StMarysMSP", PatientID: "alice", Action: "read", Resource: "category/labs", Purpose: "treatment",
			Decision: []string{"allow", "deny"}[i%2], ReasonCodes: []string{"consent"}, Time: fmt.Sprintf("2026-11-%02dT10:00:00Z", i+1),
			RecordedBy: "StMarysMSP", TxID: fmt.Sprintf("tx-ev-%d", i)})
	}
	f.ledger.events = append(f.ledger.events, ledgerapi.AccessEvent{EventID: "ev-bob", Actor: "dr-a", ActorRole: "clinician", ActorOrg: "StMarysMSP",
		PatientID: "bob", Action: "read", Resource: "category/labs", Decision: "allow", ReasonCodes: []string{"consent"}, Time: "2026-11-01T10:00:00Z"})

	bundle := func(a fhirAnswer) fhir.Bundle {
		t.Helper()
		if a.code != http.StatusOK {
			t.Fatalf("%d %s", a.code, a.body)
		}
		validR4(t, a.body)
		var b fhir.Bundle
		json.Unmarshal(a.body, &b)
		for _, e := range b.Entry {
			validR4(t, e.Resource)
		}
		return b
	}
	ids := func(b fhir.Bundle) []string {
		var out []string
		for _, e := range b.Entry {
			var r struct{ ID string }
			json.Unmarshal(e.Resource, &r)
			out = append(out, r.ID)
		}
		return out
	}
	if got := ids(bundle(f.do(t, "GET", "/Consent", "tok-alice", nil))); !slices.Equal(got, []string{"c-new", "c-old"}) {
		t.Errorf("alice's consents, newest first: %v", got)
	}
	if got := ids(bundle(f.do(t, "GET", "/Consent?patient=alice&status=active", "tok-alice", nil))); !slices.Equal(got, []string{"c-new"}) {
		t.Errorf("active consents: %v", got)
	}
	b := bundle(f.do(t, "GET", "/AuditEvent?_count=10", "tok-alice", nil))
	if *b.Total != 25 || len(b.Entry) != 10 || ids(b)[0] != "ev-24" {
		t.Errorf("access log page 1: total %d, %v", *b.Total, ids(b))
	}
	var all []string
	for next := "/AuditEvent?_count=10"; next != ""; {
		b := bundle(f.do(t, "GET", next, "tok-alice", nil))
		all = append(all, ids(b)...)
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	if len(all) != 25 || slices.Contains(all, "ev-bob") {
		t.Errorf("paged access log: %v", all)
	}
	if got := ids(bundle(f.do(t, "GET", "/AuditEvent?date=ge2026-11-20&date=lt2026-11-22", "tok-alice", nil))); !slices.Equal(got, []string{"ev-20", "ev-19"}) {
		t.Errorf("access log of 20 and 21 November: %v", got)
	}
	one := f.do(t, "GET", "/AuditEvent/ev-03", "tok-alice", nil)
	if one.code != 200 || !bytes.Contains(one.body, []byte(`"outcome":"4"`)) || !bytes.Contains(one.body, []byte(`"value":"tx-ev-3"`)) {
		t.Errorf("read ev-03: %d %s", one.code, one.body)
	}
	validR4(t, one.body)
	if c := f.do(t, "GET", "/Consent/c-old", "tok-alice", nil); c.code != 200 || !bytes.Contains(c.body, []byte(`"status":"inactive"`)) {
		t.Errorf("read c-old: %d %s", c.code, c.body)
	}

	// Refusals: another patient's, a clinician, a write, an unknown id.
	f.do(t, "GET", "/Consent?patient=bob", "tok-alice", nil).outcome(t, 403, "forbidden")
	f.do(t, "GET", "/AuditEvent?patient=alice", "tok-dr", nil).outcome(t, 403, "forbidden")
	f.do(t, "GET", "/AuditEvent/ev-03", "tok-dr", nil).outcome(t, 403, "forbidden")
	f.do(t, "GET", "/Consent/c-bob", "tok-alice", nil).outcome(t, 404, "not-found")
	f.do(t, "GET", "/AuditEvent/ev-bob", "tok-alice", nil).outcome(t, 404, "not-found")
	f.do(t, "GET", "/AuditEvent", "", nil).outcome(t, 401, "login")
	f.do(t, "POST", "/Consent", "tok-alice", []byte(`{"resourceType":"Consent"}`)).outcome(t, 405, "not-supported")
	f.do(t, "PUT", "/AuditEvent/ev-03", "tok-alice", []byte(`{"resourceType":"AuditEvent"}`)).outcome(t, 405, "not-supported")
	f.do(t, "GET", "/AuditEvent?code=x", "tok-alice", nil).outcome(t, 400, "invalid")
	f.do(t, "GET", "/Consent?status=maybe", "tok-alice", nil).outcome(t, 400, "invalid")
	f.ledger.down = true
	f.do(t, "GET", "/AuditEvent", "tok-alice", nil).outcome(t, 503, "transient")
}

// The FHIR API names the type and the interaction in every decision it
// asks for, with the caller's SMART scopes, for the policy to match; the
// gRPC API names the interaction and, for a put, the type.
func TestFHIRDecisionsNameTypeAndInteraction(t *testing.T) {
	f := newFHIRFixture(t)
	app := auth.Principal{Subject: "dr-app", Role: auth.RoleClinician, Org: "ProvidersMSP", Scoped: true, Scopes: "user/Observation.cruds"}
	f.serve(t, tokens{"tok-app": app})
	created := f.do(t, "POST", "/Observation", "tok-app", observation("alice", "x"))
	id := created.json(t)["id"].(string)
	f.do(t, "GET", "/Observation/"+id, "tok-app", nil)
	f.do(t, "GET", "/Observation?patient=alice", "tok-app", nil)
	f.do(t, "PUT", "/Observation/"+id, "tok-app", created.body, "If-Match", `W/"1"`)
	f.svc.Get(testContext(t), drWho, GetRequest{PatientID: "alice", RecordID: id})
	want := []string{
		"Observation c user/Observation.cruds", "Observation r user/Observation.cruds", "Observation s user/Observation.cruds",
		"Observation u user/Observation.cruds", " r ",
	}
	if !slices.Equal(f.decider.fhir, want) {
		t.Errorf("decisions asked for %q, want %q", f.decider.fhir, want)
	}
}

func TestSMARTConfiguration(t *testing.T) {
	f := newFHIRFixture(t)
	a := f.do(t, "GET", "/.well-known/smart-configuration", "", nil)
	var c struct {
		Capabilities    []string `json:"capabilities"`
		ScopesSupported []string `json:"scopes_supported"`
		FHIRBase        string   `json:"fhir_base"`
		TokenEndpoint   *string  `json:"token_endpoint"`
	}
	if a.code != 200 || json.Unmarshal(a.body, &c) != nil || !slices.Contains(c.Capabilities, "permission-v2") ||
		!slices.Contains(c.ScopesSupported, "patient/AuditEvent.rs") || c.FHIRBase != f.base || c.TokenEndpoint != nil {
		t.Fatalf("%d %s", a.code, a.body)
	}
}

// A SMART app reads the consents and the access log only within its scopes.
func TestFHIRLedgerViewsWithinScopes(t *testing.T) {
	f := newFHIRFixture(t)
	patientApp := func(scopes string) auth.Principal {
		return auth.Principal{Subject: "alice", Role: auth.RolePatient, Scoped: true, Scopes: scopes, LaunchPatient: "alice"}
	}
	f.serve(t, tokens{
		"tok-audit": patientApp("patient/AuditEvent.rs"), "tok-obs": patientApp("patient/Observation.rs"), "tok-all": patientApp("patient/*.rs"),
	})
	for _, c := range []struct {
		token, path string
		code        int
	}{
		{"tok-audit", "/AuditEvent", 200}, {"tok-audit", "/Consent", 403}, {"tok-obs", "/AuditEvent", 403},
		{"tok-all", "/Consent", 200}, {"tok-all", "/AuditEvent", 200},
	} {
		a := f.do(t, "GET", c.path, c.token, nil)
		if a.code != c.code {
			t.Errorf("%s %s: %d, want %d: %s", c.token, c.path, a.code, c.code, a.body)
		}
		if c.code == 403 && !bytes.Contains(a.body, []byte("SMART scopes do not allow")) {
			t.Errorf("denial does not name the scopes: %s", a.body)
		}
	}
}

// Wearable readings as vital-signs Observations, in a search that asks for
// them (category vital-signs, a date range of at most 7 days), under one
// consent decision for the patient's vitals.
func TestFHIRSearchWearableReadings(t *testing.T) {
	f := newFHIRFixture(t)
	f.svc.wearables = objectstoretest.New()
	archive := readingstore.NewArchive(f.svc.wearables, f.vault)
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	payload, err := mhealth.Batch{DeviceID: "watch-1", PatientID: "alice", Seq: 1, Readings: []mhealth.Reading{
		{Kind: mhealth.HeartRate, Value: 61, Unit: mhealth.UnitBeatsPerMinute, TimeFrame: mhealth.Instant(at)},
		{Kind: mhealth.HeartRate, Value: 64, Unit: mhealth.UnitBeatsPerMinute, TimeFrame: mhealth.Instant(at.Add(time.Minute))},
		{Kind: mhealth.BloodPressure, Value: 118, Diastolic: 76, Unit: mhealth.UnitMmHg, TimeFrame: mhealth.Instant(at.Add(2 * time.Minute))},
	}}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archive.StoreSigned(testContext(t), payload, []byte("signature"), at); err != nil {
		t.Fatal(err)
	}
	f.put(t, alice, PutRequest{PatientID: "alice", Resource: vitalSign("alice", "70")}) // a vitals record, 2025
	search := func(query string) (int, []string) {
		t.Helper()
		a := f.do(t, "GET", "/Observation?patient=alice&"+query, "tok-dr", nil)
		if a.code != http.StatusOK {
			t.Fatalf("%s: %d %s", query, a.code, a.body)
		}
		validR4(t, a.body)
		var b fhir.Bundle
		json.Unmarshal(a.body, &b)
		var ids []string
		for _, e := range b.Entry {
			validR4(t, e.Resource)
			var r struct{ ID string }
			json.Unmarshal(e.Resource, &r)
			ids = append(ids, r.ID)
		}
		return *b.Total, ids
	}
	hr0, _ := fhir.ReadingID("watch-1", 1, 0)
	if n, ids := search("category=vital-signs&date=ge2026-11-20&date=lt2026-11-21"); n != 3 || !slices.Contains(ids, hr0) {
		t.Errorf("readings of 20 November: %d %v", n, ids)
	}
	if n, _ := search("category=vital-signs&code=http://loinc.org|8867-4&date=ge2026-11-20T08:00:30Z&date=lt2026-11-21"); n != 1 {
		t.Errorf("heart rates after 08:00:30: %d", n)
	}
	if n, _ := search("category=vital-signs&date=ge2025-01-01&date=lt2025-01-02"); n != 1 {
		t.Errorf("the vitals record of 2025, no reading: %d", n)
	}
	if n, _ := search("category=vital-signs"); n != 1 { // no date range: records only
		t.Errorf("without a date range: %d", n)
	}
	f.do(t, "GET", "/Observation?patient=alice&category=vital-signs&date=ge2026-11-01&date=lt2026-11-21", "tok-dr", nil).outcome(t, 400, "invalid")
	f.do(t, "GET", "/Observation/"+hr0, "tok-dr", nil).outcome(t, 404, "not-supported")
	// Vitals denied: neither the record nor a reading.
	f.decider.allow = func(action string, r *consentv1.Resource) bool { return r.GetCategory() != "vitals" }
	if n, _ := search("category=vital-signs&date=ge2026-11-20&date=lt2026-11-21"); n != 0 {
		t.Errorf("vitals denied: %d", n)
	}
}

// A caller past the search rate is refused with 429 and Retry-After; a
// read is not a search, and another caller is not held up.
func TestFHIRSearchRate(t *testing.T) {
	f := newFHIRFixture(t)
	var err error
	if f.svc.searchLimit, err = serving.NewLimiter(serving.Rate{PerSecond: 0.01, Burst: 3}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if a := f.do(t, "GET", "/Observation?patient=alice", "tok-dr", nil); a.code != 200 {
			t.Fatalf("search %d: %d", i, a.code)
		}
	}
	a := f.do(t, "GET", "/AuditEvent", "tok-alice", nil)
	if a.code != 200 {
		t.Fatalf("another caller: %d %s", a.code, a.body)
	}
	a = f.do(t, "GET", "/Observation?patient=alice", "tok-dr", nil)
	a.outcome(t, http.StatusTooManyRequests, "throttled")
	if a.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}
