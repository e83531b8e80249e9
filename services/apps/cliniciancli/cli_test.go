package cliniciancli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/apps/internal/clikit"
)

// filed is the resource the fake service stores and serves, as the real one
// would: exactly the bytes that were filed.
const filed = `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"value":6.10,"subject":{"reference":"Patient/pat-1"}}`

const denial = `{"code":7,"message":"access denied: no active consent for labs","details":[` +
	`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_DENIED","domain":"records.healthexchange",` +
	`"metadata":{"reasons":"no active consent for labs"}}]}`

// sent is one request the fake gateway received.
type sent struct {
	method, path, auth string
	query              map[string][]string
	body               []byte
}

// fakeGateway answers the records routes the CLI uses and keeps what it was
// sent.
type fakeGateway struct {
	mu    sync.Mutex
	calls []sent
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, sent{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.URL.Query(), body})
	f.mu.Unlock()
	v1 := &recordsv1.RecordVersion{RecordId: "r-1", PatientId: "pat-1", Version: 1, Sha256: strings.Repeat("a", 64),
		Category: "labs", Author: "dr-a", Org: "ProvidersMSP", NotarizedAt: "2026-01-02T03:04:05Z", TxId: "tx-1"}
	v2 := &recordsv1.RecordVersion{RecordId: "r-1", PatientId: "pat-1", Version: 2, Sha256: strings.Repeat("b", 64),
		PreviousSha256: strings.Repeat("a", 64), Category: "labs", Author: "dr-a", Org: "ProvidersMSP", NotarizedAt: "2026-01-03T03:04:05Z", TxId: "tx-2"}
	var answer proto.Message
	switch r.Method + " " + r.URL.Path {
	case "POST /v1/patients/pat-1/records":
		var req recordsv1.PutRecordRequest
		protojson.Unmarshal(body, &req)
		rec := proto.Clone(v1).(*recordsv1.RecordVersion)
		if req.GetRecordId() != "" {
			rec = v2
		}
		answer = &recordsv1.PutRecordResponse{Record: rec, Replayed: req.GetIdempotencyKey() == "retry-1"}
	case "GET /v1/patients/pat-1/records/r-1":
		answer = &recordsv1.GetRecordResponse{Record: v1, Resource: []byte(filed), ResourceType: "Observation", Obligations: []string{"log-access"}}
	case "GET /v1/patients/pat-1/records/r-1/history":
		answer = &recordsv1.GetRecordHistoryResponse{Versions: []*recordsv1.RecordVersion{v1, v2}}
	case "GET /v1/patients/pat-1/records":
		switch r.URL.Query().Get("page_token") {
		case "":
			answer = &recordsv1.ListRecordsResponse{Records: []*recordsv1.RecordVersion{v1}, NextPageToken: "p2", Withheld: 1}
		case "p2":
			answer = &recordsv1.ListRecordsResponse{Records: []*recordsv1.RecordVersion{{RecordId: "r-2", Version: 4, Category: "vitals", Author: "dr-b"}}, Withheld: 2}
		}
	case "POST /v1/records:verify":
		var req recordsv1.VerifyRecordRequest
		protojson.Unmarshal(body, &req)
		match := string(req.GetResource()) == filed || req.GetSha256() == v1.GetSha256()
		if match {
			answer = &recordsv1.VerifyRecordResponse{Match: true, Sha256: v1.GetSha256(),
				Matches: []*recordsv1.NotarizedVersion{{Version: v1.GetVersion(), NotarizedAt: v1.GetNotarizedAt()}}, Reason: "matches version 1"}
		} else {
			answer = &recordsv1.VerifyRecordResponse{Sha256: strings.Repeat("c", 64), Reason: "no notarized version has this hash"}
		}
	}
	if r.URL.Path == "/v1/patients/pat-1/records/r-denied" {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, denial)
		return
	}
	if answer == nil {
		http.NotFound(w, r)
		return
	}
	out, _ := protojson.Marshal(answer)
	w.Write(out)
}

func (f *fakeGateway) sent() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.calls...)
}

type fixture struct {
	gw     *fakeGateway
	server *httptest.Server
	ca     string
	dir    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{gw: &fakeGateway{}, dir: t.TempDir()}
	f.server = httptest.NewTLSServer(f.gw)
	t.Cleanup(f.server.Close)
	f.ca = filepath.Join(f.dir, "ca.pem")
	if err := os.WriteFile(f.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.server.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// file writes content into the fixture's folder and returns its path.
func (f *fixture) file(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type result struct {
	code        int
	out, errOut string
}

// run runs the CLI against the fixture's server and CA, with stdin; the
// token comes from the arguments or HX_TOKEN.
func (f *fixture) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	full := append([]string{args[0], "--server", f.server.URL, "--ca", f.ca}, args[1:]...)
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, full, strings.NewReader(stdin), &out, &errOut)
	if strings.Contains(out.String()+errOut.String(), "tok-secret") {
		t.Fatal("the bearer token was printed")
	}
	return result{code, out.String(), errOut.String()}
}

func TestUsage(t *testing.T) {
	t.Setenv("HX_TOKEN", "tok-secret")
	f := newFixture(t)
	tests := map[string]struct {
		args []string
		code int
	}{
		"no command":                  {nil, 2},
		"help":                        {[]string{"--help"}, 0},
		"unknown command":             {[]string{"frobnicate"}, 2},
		"command help":                {[]string{"put", "--help"}, 0},
		"unknown flag":                {[]string{"list", "--patient", "pat-1", "--nope"}, 2},
		"put without --patient":       {[]string{"put", "x.json"}, 2},
		"put without a file":          {[]string{"put", "--patient", "pat-1"}, 2},
		"base version without record": {[]string{"put", "--patient", "pat-1", "--base-version", "2", "x.json"}, 2},
		"get without a record":        {[]string{"get", "--patient", "pat-1"}, 2},
		"break-glass for research":    {[]string{"get", "--patient", "pat-1", "--break-glass", "unconscious", "--purpose", "research", "r-1"}, 2},
		"list with an argument":       {[]string{"list", "--patient", "pat-1", "r-1"}, 2},
		"list page size too large":    {[]string{"list", "--patient", "pat-1", "--page-size", "500"}, 2},
		"history without --patient":   {[]string{"history", "r-1"}, 2},
		"verify with nothing":         {[]string{"verify"}, 2},
		"verify with file and hash":   {[]string{"verify", "--sha256", strings.Repeat("a", 64), "x.json"}, 2},
		"verify with a bad hash":      {[]string{"verify", "--sha256", "abc"}, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var r result
			if len(tc.args) == 0 || strings.HasPrefix(tc.args[0], "-") || tc.args[0] == "frobnicate" {
				var out, errOut bytes.Buffer
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				r.code = run(ctx, tc.args, strings.NewReader(""), &out, &errOut)
				r.errOut = errOut.String()
			} else {
				r = f.run(t, "", tc.args...)
			}
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tc.code, r.errOut)
			}
		})
	}
	if n := len(f.gw.sent()); n != 0 {
		t.Fatalf("usage errors sent %d requests", n)
	}
}

func TestPut(t *testing.T) {
	t.Setenv("HX_TOKEN", "tok-secret")
	f := newFixture(t)
	// The CLI sends the bytes as they are: the service keeps them so.
	resource := "{\n  \"resourceType\": \"Observation\",\n  \"id\": \"o1\",\n  \"status\": \"final\",\n  \"subject\": {\"reference\": \"Patient/pat-1\"}\n}\n"
	file := f.file(t, "obs.json", resource)
	tests := map[string]struct {
		args          []string
		stdin         string
		wantKey       string // "" for a generated one, printed on stderr
		wantRecord    string // the record_id sent
		wantBase      int32
		wantOut       []string
		wantNotOut    string
		wantErrOutKey bool
	}{
		"a new record with a generated key": {
			args:    []string{"put", "--patient", "pat-1", file},
			wantOut: []string{"record    r-1", "version   1", "sha256    " + strings.Repeat("a", 64), "category  labs", "tx        tx-1"}, wantNotOut: "replayed",
		},
		"a new version from stdin": {
			args: []string{"put", "--patient", "pat-1", "--record", "r-1", "--base-version", "1", "--idempotency-key", "k-7", "-"}, stdin: resource,
			wantKey: "k-7", wantRecord: "r-1", wantBase: 1, wantOut: []string{"version   2"},
		},
		"a retry is answered, not stored": {
			args:    []string{"put", "--patient", "pat-1", "--idempotency-key", "retry-1", file},
			wantKey: "retry-1", wantOut: []string{"record    r-1", "(replayed: nothing new stored)"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := len(f.gw.sent())
			r := f.run(t, tc.stdin, tc.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.errOut)
			}
			calls := f.gw.sent()[before:]
			if len(calls) != 1 || calls[0].method != "POST" || calls[0].path != "/v1/patients/pat-1/records" || calls[0].auth != "Bearer tok-secret" {
				t.Fatalf("sent %+v", calls)
			}
			if !bytes.Contains(calls[0].body, []byte(base64.StdEncoding.EncodeToString([]byte(resource)))) {
				t.Fatalf("the body does not carry the file's bytes in base64: %s", calls[0].body)
			}
			var req recordsv1.PutRecordRequest
			if err := protojson.Unmarshal(calls[0].body, &req); err != nil {
				t.Fatal(err)
			}
			if string(req.GetResource()) != resource || req.GetPatientId() != "pat-1" || req.GetRecordId() != tc.wantRecord || req.GetBaseVersion() != tc.wantBase {
				t.Fatalf("sent %v", &req)
			}
			if tc.wantKey != "" && req.GetIdempotencyKey() != tc.wantKey {
				t.Fatalf("idempotency key %q, want %q", req.GetIdempotencyKey(), tc.wantKey)
			}
			if tc.wantKey == "" && (req.GetIdempotencyKey() == "" || !strings.Contains(r.errOut, "--idempotency-key "+req.GetIdempotencyKey())) {
				t.Fatalf("generated key %q; stderr %q should tell how to retry with it", req.GetIdempotencyKey(), r.errOut)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(r.out, want) {
					t.Errorf("output lacks %q:\n%s", want, r.out)
				}
			}
			if tc.wantNotOut != "" && strings.Contains(r.out, tc.wantNotOut) {
				t.Errorf("output has %q:\n%s", tc.wantNotOut, r.out)
			}
		})
	}
}

func TestPutRefusesBadInputBeforeSending(t *testing.T) {
	t.Setenv("HX_TOKEN", "tok-secret")
	f := newFixture(t)
	tests := map[string]struct {
		file    string
		wantErr string
	}{
		"a missing file": {file: filepath.Join(f.dir, "missing.json"), wantErr: "missing.json: no such file"},
		"not JSON":       {file: f.file(t, "notes.txt", "patient is fine"), wantErr: "is not JSON"},
		"empty":          {file: f.file(t, "empty.json", "\n"), wantErr: "is empty"},
		"too large":      {file: f.file(t, "big.json", `"`+strings.Repeat("x", clikit.MaxResource)+`"`), wantErr: "larger than 1 MiB"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := f.run(t, "", "put", "--patient", "pat-1", tc.file)
			if r.code != 1 || !strings.Contains(r.errOut, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", r.code, r.errOut, tc.wantErr)
			}
		})
	}
	if n := len(f.gw.sent()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestWithoutTokenNothingIsSent(t *testing.T) {
	t.Setenv("HX_TOKEN", "")
	f := newFixture(t)
	r := f.run(t, "", "list", "--patient", "pat-1")
	if r.code != 1 || !strings.Contains(r.errOut, "no bearer token") {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
	if n := len(f.gw.sent()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestGet(t *testing.T) {
	t.Setenv("HX_TOKEN", "tok-secret")
	f := newFixture(t)
	t.Run("--out gets the exact bytes, mode 0600", func(t *testing.T) {
		out := filepath.Join(f.dir, "r-1.json")
		f.file(t, "r-1.json", "an older, longer file that must be replaced entirely")
		os.Chmod(out, 0o644)
		r := f.run(t, "", "get", "--patient", "pat-1", "--out", out, "r-1")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		got, err := os.ReadFile(out)
		if err != nil || string(got) != filed {
			t.Fatalf("--out holds %q (%v), want %q", got, err, filed)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("--out mode %v (%v), want 0600", fi.Mode().Perm(), err)
		}
		if r.out != "" {
			t.Fatalf("stdout %q, want nothing with --out", r.out)
		}
		want := "record r-1 version 1 sha256 " + strings.Repeat("a", 64) + " verified against the ledger"
		if !strings.Contains(r.errOut, want) {
			t.Fatalf("stderr %q lacks %q", r.errOut, want)
		}
		if left, _ := filepath.Glob(filepath.Join(f.dir, ".r-1.json.tmp-*")); len(left) != 0 {
			t.Fatalf("temporary files left: %v", left)
		}
	})
	t.Run("stdout that is not a terminal gets the exact bytes", func(t *testing.T) {
		r := f.run(t, "", "get", "--patient", "pat-1", "--version", "1", "--break-glass", "unconscious in the ER", "r-1")
		if r.code != 0 || r.out != filed {
			t.Fatalf("exit %d, stdout %q; want %q", r.code, r.out, filed)
		}
		calls := f.gw.sent()
		q := calls[len(calls)-1].query
		if q["version"][0] != "1" || q["purpose"][0] != "emergency" || q["break_glass_reason"][0] != "unconscious in the ER" {
			t.Fatalf("query %v", q)
		}
	})
	t.Run("--json prints the whole answer", func(t *testing.T) {
		r := f.run(t, "", "get", "--patient", "pat-1", "--json", "r-1")
		var resp recordsv1.GetRecordResponse
		if err := protojson.Unmarshal([]byte(r.out), &resp); err != nil || string(resp.GetResource()) != filed || resp.GetRecord().GetSha256() == "" {
			t.Fatalf("exit %d, stdout %q (%v)", r.code, r.out, err)
		}
	})
}

func TestDenialIsShown(t *testing.T) {
	t.Setenv("HX_TOKEN", "tok-secret")
	f := newFixture(t)
	out := filepath.Join(f.dir, "denied.json")
	r := f.run(t, "", "get", "--patient", "pat-1", "--out", out, "r-denied")
	if r.code != 1 || !strings.Contains(r.errOut, "access denied: no active consent for labs (HTTP 403)") {
		t.Fatalf("exit %d, stderr %q; want 1 and the service's message", r.code, r.errOut)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("--out written on a denial (%v)", err)
	}
}

func TestList(t *testing.T) {
	t.Setenv("HX_TOKEN", "tok-secret")
	f := newFixture(t)
	tests := map[string]struct {
		args      []string
		wantPages int
		want      []string
		wantNot   []string
	}{
		"one page": {
			args: []string{"list", "--patient", "pat-1", "--page-size", "1"}, wantPages: 1,
			want: []string{"r-1", "ProvidersMSP", "2026-01-02T03:04:05Z", "1 records withheld (no consent)", "more: --page-token p2"}, wantNot: []string{"r-2"},
		},
		"--all follows the page tokens": {
			args: []string{"list", "--patient", "pat-1", "--all"}, wantPages: 2,
			want: []string{"r-1", "r-2", "vitals", "3 records withheld (no consent)"}, wantNot: []string{"more:"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := len(f.gw.sent())
			r := f.run(t, "", tc.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.errOut)
			}
			if n := len(f.gw.sent()) - before; n != tc.wantPages {
				t.Fatalf("%d pages read, want %d", n, tc.wantPages)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.out, w) {
					t.Errorf("output lacks %q:\n%s", w, r.out)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(r.out, w) {
					t.Errorf("output has %q:\n%s", w, r.out)
				}
			}
		})
	}
}

func TestHistory(t *testing.T) {
	t.Setenv("HX_TOKEN", "tok-secret")
	f := newFixture(t)
	r := f.run(t, "", "history", "r-1", "--patient", "pat-1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and two versions:\n%s", r.out)
	}
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	if f1 := strings.Fields(lines[1]); f1[0] != "1" || f1[1] != a || f1[2] != "-" {
		t.Errorf("version 1 line %q", lines[1])
	}
	if f2 := strings.Fields(lines[2]); f2[0] != "2" || f2[1] != b || f2[2] != a {
		t.Errorf("version 2 line %q", lines[2])
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	tests := map[string]struct {
		token    string
		args     []string
		stdin    string
		code     int
		want     []string
		wantAuth string
	}{
		"a matching resource, no token": {
			args: []string{"verify", f.file(t, "same.json", filed)}, code: 0,
			want: []string{"MATCH", "matches version 1", "notarized  version 1 at 2026-01-02T03:04:05Z"},
		},
		"a matching hash": {
			args: []string{"verify", "--sha256", strings.ToUpper(strings.Repeat("a", 64))}, code: 0, want: []string{"MATCH"},
		},
		"a changed resource from stdin, with a token": {
			token: "tok-secret", args: []string{"verify", "--record", "r-1", "-"}, stdin: `{"resourceType":"Observation","status":"amended"}`, code: 1,
			want: []string{"NO MATCH", "no notarized version has this hash"}, wantAuth: "Bearer tok-secret",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("HX_TOKEN", tc.token)
			before := len(f.gw.sent())
			r := f.run(t, tc.stdin, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", r.code, tc.code, r.errOut)
			}
			calls := f.gw.sent()[before:]
			if len(calls) != 1 || calls[0].path != "/v1/records:verify" || calls[0].auth != tc.wantAuth {
				t.Fatalf("sent %+v; want one verify with Authorization %q", calls, tc.wantAuth)
			}
			if tc.code == 1 && r.errOut != "" {
				t.Errorf("no match is an answer, not an error; stderr %q", r.errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.out, w) {
					t.Errorf("output lacks %q:\n%s", w, r.out)
				}
			}
			if tc.code == 0 && strings.Contains(r.out, "NO MATCH") {
				t.Errorf("a match printed NO MATCH:\n%s", r.out)
			}
		})
	}
}
