package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := Config{ID: "health:abc", Address: "127.0.0.1:9999", TLSKeyFile: "key.pem", TLSCertFile: "cert.pem"}
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"valid", func(c *Config) {}, ""},
		{"no id", func(c *Config) { c.ID = "" }, "chaincode id"},
		{"no port", func(c *Config) { c.Address = "127.0.0.1" }, "host:port"},
		{"no TLS key", func(c *Config) { c.TLSKeyFile = "" }, "TLS key"},
		{"no TLS certificate", func(c *Config) { c.TLSCertFile = "" }, "TLS certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// tlsFiles writes a server key pair and returns its paths and certificate.
func tlsFiles(t *testing.T) (keyFile, certFile string, cert []byte) {
	t.Helper()
	cert, key := selfSigned(t, "localhost")
	dir := t.TempDir()
	keyFile, certFile = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, certFile, cert
}

func TestServeRefusesBadTLS(t *testing.T) {
	keyFile, certFile, _ := tlsFiles(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name      string
		key, cert string
		want      string
	}{
		{"missing key file", filepath.Join(t.TempDir(), "none.pem"), certFile, "read TLS key"},
		{"certificate that is not PEM", keyFile, keyFile, "chaincode server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Serve(ctx, Config{ID: "health:1", Address: "127.0.0.1:0", TLSKeyFile: tc.key, TLSCertFile: tc.cert})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Serve() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// TestServeTLS starts the server, completes a TLS handshake with it, and
// stops it by cancelling the context.
func TestServeTLS(t *testing.T) {
	keyFile, certFile, cert := tlsFiles(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, Config{ID: "health:1", Address: addr, TLSKeyFile: keyFile, TLSCertFile: certFile})
	}()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(cert)
	dialer := &tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"h2"}}}
	for {
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case err := <-served:
			t.Fatalf("server stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("no TLS handshake before the deadline: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve() = %v, want context.Canceled", err)
	}
}
