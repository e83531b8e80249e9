package web

import (
	"io"
	"io/fs"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// Every answer carries the strict policy; the page has no inline script or
// style and loads nothing from elsewhere; nothing outside the app's folder
// is served.
func TestHandler(t *testing.T) {
	h := Handler("/app/")
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	for _, path := range []string{"/app/", "/app/app.js", "/app/sign.js", "/app/app.css", "/app/nothing-here"} {
		w := get(path)
		if w.Header().Get("Content-Security-Policy") != ContentSecurityPolicy || w.Header().Get("X-Content-Type-Options") != "nosniff" ||
			w.Header().Get("X-Frame-Options") != "DENY" || w.Code == 200 && w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: headers %v", path, w.Header())
		}
	}
	if w := get("/app/app.js"); w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
		t.Fatalf("app.js: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	for _, path := range []string{"/app/../web.go", "/app/%2e%2e/web.go", "/app/static/index.html"} {
		if w := get(path); w.Code == 200 && strings.Contains(w.Body.String(), "package web") {
			t.Fatalf("%s served the source", path)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") {
		t.Fatal("the policy allows unsafe sources")
	}
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|<style|style\s*=|javascript:`)
	remote := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`)
	fs.WalkDir(Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, _ := Files().Open(path)
		body, _ := io.ReadAll(f)
		f.Close()
		if strings.HasSuffix(path, ".html") && inline.Match(body) {
			t.Errorf("%s has inline script or style: %s", path, inline.Find(body))
		}
		if remote.Match(body) || regexp.MustCompile(`(?i)fetch\(\s*["']https?:`).Match(body) {
			t.Errorf("%s loads something from elsewhere", path)
		}
		if strings.HasSuffix(path, ".js") && regexp.MustCompile(`localStorage|sessionStorage|document\.cookie|innerHTML|eval\(`).Match(body) {
			t.Errorf("%s uses storage, cookies, innerHTML or eval", path)
		}
		return nil
	})
}
