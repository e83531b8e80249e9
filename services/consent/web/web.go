// Package web is the patient's web app, served by the consent service at
// /app/: plain HTML, CSS and JavaScript modules embedded in the binary,
// nothing fetched from anywhere else. The patient's Ed25519 key is made in
// the page by WebCrypto as a non-extractable key and kept in IndexedDB; the
// page signs each consent change with exactly the payload the chaincode
// verifies (sign.js, tested against the Go signer with shared vectors), and
// signs in by signing a challenge of the service's. The session token lives
// in the page's memory only.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// static holds the app's files.
//
//go:embed static
var static embed.FS

// Files is the app's files, rooted at the app's folder.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded folder is there by construction
	}
	return sub
}

// ContentSecurityPolicy lets the page load its own files and call its own
// origin only: no inline script or style, no plugin, no frame around it.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the app under prefix ("/app/"), every answer with the
// policy and headers that keep it from being framed, sniffed or cached.
func Handler(prefix string) http.Handler {
	files := http.StripPrefix(prefix, http.FileServerFS(Files()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if strings.HasSuffix(r.URL.Path, ".js") {
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		}
		files.ServeHTTP(w, r)
	})
}
