package researchercli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFetchOnlyFromThisMachine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("a,b\n1,2\n")) }))
	defer srv.Close()
	got, err := fetch(context.Background(), srv.URL+"/datasets/ds-1/dataset.csv?X-Amz-Signature=x")
	if err != nil || string(got) != "a,b\n1,2\n" {
		t.Fatalf("fetch from loopback: %q, %v", got, err)
	}
	for _, u := range []string{"http://203.0.113.7:9000/datasets/x", "http://example.invalid/x", "::not a url"} {
		if _, err := fetch(context.Background(), u); err == nil {
			t.Fatalf("fetch(%q) succeeded", u)
		}
	}
}

func TestUsage(t *testing.T) {
	tests := map[string]struct {
		args []string
		code int
		want string
	}{
		"no command":             {nil, 2, "Usage"},
		"download without --out": {[]string{"download", "ds-1", "--token", "t"}, 2, "--out is required"},
		"status without id":      {[]string{"status", "--token", "t"}, 2, "DATASET"},
		"bad readings mode":      {[]string{"create", "--token", "t", "--readings", "hourly"}, 2, "--readings"},
		"no token":               {[]string{"list"}, 1, "no bearer token"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("HX_TOKEN", "")
			var out, errOut bytes.Buffer
			if code := Run(context.Background(), tc.args, &out, &errOut); code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut.String(), tc.code, tc.want)
			}
		})
	}
}
