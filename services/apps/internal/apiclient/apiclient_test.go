package apiclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	recordsv1 "healthexchange/proto/records/v1"
)

// seen is what the fake gateway was sent.
type seen struct {
	method, path, query, auth, contentType string
	body                                   []byte
}

func serve(t *testing.T, status int, answer string, got *seen) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		*got = seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCall(t *testing.T) {
	const denial = `{"code":7,"message":"access denied: no active consent","details":[` +
		`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_DENIED","domain":"records.healthexchange",` +
		`"metadata":{"reasons":"no active consent\nnot the author"}}]}`
	tests := map[string]struct {
		token    string
		status   int
		answer   string
		wantAuth string
		wantErr  *StatusError // nil: success
	}{
		"answer decoded, token sent": {
			token: "tok-1", status: 200, answer: `{"match":true,"sha256":"ab","unknownField":1}`, wantAuth: "Bearer tok-1",
		},
		"no token, no Authorization header": {
			status: 200, answer: `{"match":true,"sha256":"ab"}`,
		},
		"status JSON becomes a StatusError": {
			token: "tok-1", status: 403, answer: denial, wantAuth: "Bearer tok-1",
			wantErr: &StatusError{HTTPStatus: 403, Code: 7, Message: "access denied: no active consent", Reason: "ACCESS_DENIED"},
		},
		"a body that is not a status still says the HTTP code": {
			status: 502, answer: "<html>bad gateway</html>",
			wantErr: &StatusError{HTTPStatus: 502},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got seen
			srv := serve(t, tc.status, tc.answer, &got)
			c, err := New(srv.URL+"/", writeCA(t, srv), tc.token)
			if err != nil {
				t.Fatal(err)
			}
			resp := &recordsv1.VerifyRecordResponse{}
			err = c.Call(testContext(t), "POST", "/v1/records:verify", &recordsv1.VerifyRecordRequest{Resource: []byte(`{"a":1}`)}, resp)
			if got.auth != tc.wantAuth {
				t.Errorf("Authorization %q, want %q", got.auth, tc.wantAuth)
			}
			if got.method != "POST" || got.path != "/v1/records:verify" || got.contentType != "application/json" {
				t.Errorf("sent %s %s (%s)", got.method, got.path, got.contentType)
			}
			var sent recordsv1.VerifyRecordRequest
			if err := protojson.Unmarshal(got.body, &sent); err != nil || string(sent.GetResource()) != `{"a":1}` {
				t.Errorf("sent body %s (%v)", got.body, err)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Call: %v", err)
				}
				if !resp.GetMatch() || resp.GetSha256() != "ab" {
					t.Fatalf("decoded %v", resp)
				}
				return
			}
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want a *StatusError", err, err)
			}
			if tc.wantErr.Reason != "" && se.Metadata["reasons"] != "no active consent\nnot the author" {
				t.Errorf("ErrorInfo metadata %v", se.Metadata)
			}
			if se.HTTPStatus != tc.wantErr.HTTPStatus || se.Code != tc.wantErr.Code || se.Message != tc.wantErr.Message || se.Reason != tc.wantErr.Reason {
				t.Fatalf("StatusError %+v, want %+v", se, tc.wantErr)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.wantErr.Message) || !strings.Contains(msg, "HTTP "+strconv.Itoa(tc.status)) {
				t.Fatalf("error text %q lacks the message or the HTTP code", msg)
			}
			if strings.Contains(err.Error(), "tok-1") {
				t.Fatal("the token is in the error")
			}
		})
	}
}

func TestTLSTrustsOnlyTheGivenCA(t *testing.T) {
	var got seen
	srv := serve(t, 200, `{}`, &got)
	tests := map[string]struct {
		ca      string
		wantErr string
	}{
		"the server's CA":         {ca: writeCA(t, srv)},
		"another CA":              {ca: otherCA(t), wantErr: "certificate"},
		"no CA file":              {ca: filepath.Join(t.TempDir(), "missing.pem"), wantErr: "CA certificate"},
		"a CA file that is empty": {ca: emptyFile(t), wantErr: "no PEM certificate"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := New(srv.URL, tc.ca, "tok-1")
			if err == nil {
				err = c.Call(testContext(t), "GET", "/v1/records", nil, &recordsv1.ListRecordsResponse{})
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Call: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one about %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "tok-1") {
				t.Fatal("the token is in the error")
			}
		})
	}
}

// otherCA writes a self-signed CA that did not sign the test server's
// certificate (every httptest server shares one certificate).
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func emptyFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNewRefuses(t *testing.T) {
	var got seen
	srv := serve(t, 200, `{}`, &got)
	ca := writeCA(t, srv)
	tests := map[string]struct {
		url  string
		opts []Option
	}{
		"plain http":               {url: "http://127.0.0.1:27112"},
		"one of a list plain http": {url: srv.URL + ",http://127.0.0.1:27112"},
		"an empty list entry":      {url: srv.URL + ","},
		"credentials in the URL":   {url: "https://user:pw@127.0.0.1:27112"},
		"no scheme":                {url: "127.0.0.1:27112"},
		"zero timeout":             {url: srv.URL, opts: []Option{WithTimeout(0)}},
		"negative max size":        {url: srv.URL, opts: []Option{WithMaxResponseBytes(-1)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(tc.url, ca, "tok-1", tc.opts...); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

func TestAnswerOverTheLimitIsAnError(t *testing.T) {
	var got seen
	srv := serve(t, 200, `{"sha256":"`+strings.Repeat("a", 100)+`"}`, &got)
	c, err := New(srv.URL, writeCA(t, srv), "", WithMaxResponseBytes(50))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Call(testContext(t), "POST", "/v1/records:verify", nil, &recordsv1.VerifyRecordResponse{})
	if err == nil || !strings.Contains(err.Error(), "larger than 50 bytes") {
		t.Fatalf("error %v, want the answer refused as too large", err)
	}
}

func TestGetPage(t *testing.T) {
	tests := map[string]struct {
		q         map[string][]string
		size      int
		token     string
		wantQuery string
	}{
		"first page":            {size: 50, wantQuery: "page_size=50"},
		"next page with query":  {q: map[string][]string{"purpose": {"research"}}, size: 10, token: "p2", wantQuery: "page_size=10&page_token=p2&purpose=research"},
		"server's default size": {wantQuery: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got seen
			srv := serve(t, 200, `{"records":[{"recordId":"r-1"}],"nextPageToken":"p3","withheld":2}`, &got)
			c, err := New(srv.URL, writeCA(t, srv), "tok-1")
			if err != nil {
				t.Fatal(err)
			}
			resp := &recordsv1.ListRecordsResponse{}
			if err := c.GetPage(testContext(t), "/v1/patients/pat-1/records", tc.q, tc.size, tc.token, resp); err != nil {
				t.Fatal(err)
			}
			if got.method != "GET" || got.path != "/v1/patients/pat-1/records" || got.query != tc.wantQuery {
				t.Fatalf("sent %s %s?%s, want query %q", got.method, got.path, got.query, tc.wantQuery)
			}
			if len(got.body) != 0 || got.contentType != "" {
				t.Fatalf("a GET sent a body %q (%s)", got.body, got.contentType)
			}
			if resp.GetNextPageToken() != "p3" || resp.GetWithheld() != 2 || resp.GetRecords()[0].GetRecordId() != "r-1" {
				t.Fatalf("decoded %v", resp)
			}
		})
	}
}

// TestInstancesFailOver: a client given two instances' gateways calls the
// second when nothing listens at the first, and from then on calls it
// first; a gateway that took the request and broke off is not asked again
// elsewhere (the request may have been carried out); when none answers the
// error names them all.
func TestInstancesFailOver(t *testing.T) {
	var got seen
	up := serve(t, 200, `{"match":true}`, &got)
	ca := writeCA(t, up)
	closed := httptest.NewUnstartedServer(nil)
	dead := "https://" + closed.Listener.Addr().String()
	closed.Listener.Close() // nothing listens there now

	c, err := New(dead+","+up.URL, ca, "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	var resp recordsv1.VerifyRecordResponse
	if err := c.Call(testContext(t), http.MethodPost, "/v1/records:verify", &recordsv1.VerifyRecordRequest{}, &resp); err != nil || !resp.GetMatch() {
		t.Fatalf("with the first instance down: %v", err)
	}
	if got.method != http.MethodPost || got.auth != "Bearer tok-1" || len(got.body) == 0 {
		t.Fatalf("the second instance got %+v, want the whole request", got)
	}
	if c.next.Load() != 1 {
		t.Fatalf("the instance tried first is %d, want the one that answered", c.next.Load())
	}

	var hits atomic.Int32
	broken := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // took the request, no answer
	}))
	t.Cleanup(broken.Close)
	got = seen{}
	c, err = New(broken.URL+","+up.URL, ca, "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Call(testContext(t), http.MethodPost, "/v1/records:verify", &recordsv1.VerifyRecordRequest{}, &resp)
	var unreachable *UnreachableError
	if !errors.As(err, &unreachable) || got.method != "" || hits.Load() == 0 {
		t.Fatalf("a gateway that broke off: %v (the other got %+v); want an error and no second send", err, got)
	}

	c, err = New(dead+","+dead, ca, "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Call(testContext(t), http.MethodGet, "/x", nil, nil)
	if !errors.As(err, &unreachable) || unreachable.URL != dead+","+dead {
		t.Fatalf("none answering: %v", err)
	}
}
