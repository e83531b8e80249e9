package mtls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthexchange/services/platform/mtls"
	"healthexchange/services/platform/mtls/mtlstest"
)

// pki is one test's certificates: a CA with a server and a client
// certificate, and a second CA with its own client certificate.
type pki struct {
	ca, otherCA               *mtlstest.CA
	serverCert, serverKey     string
	clientCert, clientKey     string
	strangerCert, strangerKey string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	p := pki{ca: mtlstest.NewCA(t, "hx-services"), otherCA: mtlstest.NewCA(t, "elsewhere")}
	p.serverCert, p.serverKey = p.ca.Issue(t, "consent", "127.0.0.1", "consent.hx.internal")
	p.clientCert, p.clientKey = p.ca.Issue(t, "records")
	p.strangerCert, p.strangerKey = p.otherCA.Issue(t, "records")
	return p
}

// handshake serves one connection with serverCfg on 127.0.0.1:0, connects
// with clientCfg, and reports each side's error. A server that completes
// the handshake writes "ok", so the client also learns of a rejection that
// TLS 1.3 only reports after the client's half of the handshake.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer conn.Close()
		tc := conn.(*tls.Conn)
		if err := tc.HandshakeContext(ctx); err != nil {
			served <- err
			return
		}
		_, err = tc.Write([]byte("ok"))
		served <- err
	}()

	clientErr = func() error {
		d := tls.Dialer{Config: clientCfg}
		conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		defer conn.Close()
		if deadline, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(deadline)
		}
		buf := make([]byte, 2)
		if _, err := io.ReadFull(conn, buf); err != nil {
			return err
		}
		if string(buf) != "ok" {
			return errors.New("server sent " + string(buf))
		}
		return nil
	}()
	select {
	case serverErr = <-served:
	case <-ctx.Done():
		t.Fatal("server did not finish the handshake in time")
	}
	return serverErr, clientErr
}

func TestHandshake(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name string
		// server
		clientCA string
		// client
		ca, cert, key, serverName string
		maxVersion                uint16
		// forceCert sends the client certificate even when the server
		// asks for another CA's, as an attacker's client would.
		forceCert bool
		wantOK    bool
		// wantErr is in the server's or the client's error.
		wantErr string
	}{
		{name: "mutual TLS with a client certificate from the CA", clientCA: p.ca.CertFile, ca: p.ca.CertFile, cert: p.clientCert, key: p.clientKey, wantOK: true},
		{name: "mutual TLS checks the server name", clientCA: p.ca.CertFile, ca: p.ca.CertFile, cert: p.clientCert, key: p.clientKey, serverName: "consent.hx.internal", wantOK: true},
		{name: "mutual TLS refuses a client without a certificate", clientCA: p.ca.CertFile, ca: p.ca.CertFile, wantErr: "didn't provide a certificate"},
		{name: "mutual TLS refuses a client certificate from another CA", clientCA: p.ca.CertFile, ca: p.ca.CertFile, cert: p.strangerCert, key: p.strangerKey, forceCert: true, wantErr: "unknown authority"},
		{name: "a well-behaved client does not even offer another CA's certificate", clientCA: p.ca.CertFile, ca: p.ca.CertFile, cert: p.strangerCert, key: p.strangerKey, wantErr: "didn't provide a certificate"},
		{name: "server-only TLS accepts a client without a certificate", ca: p.ca.CertFile, wantOK: true},
		{name: "client refuses a server certificate from a CA it does not trust", clientCA: p.ca.CertFile, ca: p.otherCA.CertFile, cert: p.clientCert, key: p.clientKey, wantErr: "unknown authority"},
		{name: "client refuses a server certificate for another name", clientCA: p.ca.CertFile, ca: p.ca.CertFile, cert: p.clientCert, key: p.clientKey, serverName: "records.hx.internal", wantErr: "not records.hx.internal"},
		{name: "server refuses TLS 1.2", clientCA: p.ca.CertFile, ca: p.ca.CertFile, cert: p.clientCert, key: p.clientKey, maxVersion: tls.VersionTLS12, wantErr: "unsupported versions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serverCfg, err := mtls.ServerConfig(p.serverCert, p.serverKey, tt.clientCA)
			if err != nil {
				t.Fatalf("ServerConfig: %v", err)
			}
			clientCfg, err := mtls.ClientConfig(tt.ca, tt.cert, tt.key, tt.serverName)
			if err != nil {
				t.Fatalf("ClientConfig: %v", err)
			}
			if tt.serverName == "" {
				clientCfg.ServerName = "127.0.0.1" // what gRPC and tls.Dial take from the address
			}
			if tt.maxVersion != 0 {
				clientCfg.MinVersion, clientCfg.MaxVersion = tls.VersionTLS12, tt.maxVersion
			}
			if tt.forceCert {
				cert := clientCfg.Certificates[0]
				clientCfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
			}
			serverErr, clientErr := handshake(t, serverCfg, clientCfg)
			if tt.wantOK {
				if serverErr != nil || clientErr != nil {
					t.Fatalf("want a connection, got server error %v, client error %v", serverErr, clientErr)
				}
				return
			}
			if serverErr == nil && clientErr == nil {
				t.Fatal("connection accepted, want it refused")
			}
			if clientErr == nil {
				t.Fatalf("client did not notice the refusal (server: %v)", serverErr)
			}
			if both := fmt.Sprintf("server: %v; client: %v", serverErr, clientErr); !strings.Contains(both, tt.wantErr) {
				t.Fatalf("refused for another reason than %q: %s", tt.wantErr, both)
			}
		})
	}
}

func TestServerRequiresClientCertOnlyWithCA(t *testing.T) {
	p := newPKI(t)
	for _, tt := range []struct {
		name     string
		clientCA string
		want     tls.ClientAuthType
	}{
		{"with a client CA", p.ca.CertFile, tls.RequireAndVerifyClientCert},
		{"without a client CA", "", tls.NoClientCert},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := mtls.ServerConfig(p.serverCert, p.serverKey, tt.clientCA)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ClientAuth != tt.want || cfg.MinVersion != tls.VersionTLS13 {
				t.Fatalf("ClientAuth %v MinVersion %x, want %v and TLS 1.3", cfg.ClientAuth, cfg.MinVersion, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		build  func() error
		wantIn []string
		wantIs error
	}{
		{
			name:   "server certificate file missing",
			build:  func() error { _, err := mtls.ServerConfig(missing, p.serverKey, ""); return err },
			wantIn: []string{"read certificate", missing},
			wantIs: fs.ErrNotExist,
		},
		{
			name:   "server key file missing",
			build:  func() error { _, err := mtls.ServerConfig(p.serverCert, missing, ""); return err },
			wantIn: []string{"read key", missing},
			wantIs: fs.ErrNotExist,
		},
		{
			name:   "server key does not match the certificate",
			build:  func() error { _, err := mtls.ServerConfig(p.serverCert, p.clientKey, ""); return err },
			wantIn: []string{p.serverCert, p.clientKey, "does not match"},
		},
		{
			name:   "server certificate and key swapped",
			build:  func() error { _, err := mtls.ServerConfig(p.serverKey, p.serverCert, ""); return err },
			wantIn: []string{p.serverKey},
		},
		{
			name:   "server without certificate",
			build:  func() error { _, err := mtls.ServerConfig("", "", p.ca.CertFile); return err },
			wantIn: []string{"both required"},
		},
		{
			name:   "client CA file missing",
			build:  func() error { _, err := mtls.ServerConfig(p.serverCert, p.serverKey, missing); return err },
			wantIn: []string{"client CA", missing},
			wantIs: fs.ErrNotExist,
		},
		{
			name:   "client CA file without certificates",
			build:  func() error { _, err := mtls.ServerConfig(p.serverCert, p.serverKey, garbage); return err },
			wantIn: []string{garbage, "no PEM certificate"},
		},
		{
			name:   "client CA file holding a key",
			build:  func() error { _, err := mtls.ServerConfig(p.serverCert, p.serverKey, p.clientKey); return err },
			wantIn: []string{"PRIVATE KEY, want CERTIFICATE"},
		},
		{
			name:   "client without CA",
			build:  func() error { _, err := mtls.ClientConfig("", p.clientCert, p.clientKey, ""); return err },
			wantIn: []string{"CA file is required"},
		},
		{
			name:   "client certificate without key",
			build:  func() error { _, err := mtls.ClientConfig(p.ca.CertFile, p.clientCert, "", ""); return err },
			wantIn: []string{"both a certificate and a key"},
		},
		{
			name:   "client key does not match the certificate",
			build:  func() error { _, err := mtls.ClientConfig(p.ca.CertFile, p.clientCert, p.serverKey, ""); return err },
			wantIn: []string{"does not match"},
		},
		{
			name:   "client CA file missing",
			build:  func() error { _, err := mtls.ClientConfig(missing, "", "", ""); return err },
			wantIn: []string{missing},
			wantIs: fs.ErrNotExist,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.build()
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
}
