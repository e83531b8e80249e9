package objectstore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"healthexchange/services/platform/objectstore"
)

func validConfig() objectstore.Config {
	return objectstore.Config{Endpoint: "127.0.0.1:27090", AccessKey: "access", SecretKey: "secret"}
}

func TestValidateWantsCredentials(t *testing.T) {
	cfg := objectstore.Config{Endpoint: "127.0.0.1:27090"}
	if err := cfg.Validate(); !errors.Is(err, objectstore.ErrInvalidConfig) {
		t.Fatalf("Validate() of a config without credentials = %v, want ErrInvalidConfig", err)
	}
}

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		change  func(*objectstore.Config)
		wantErr string // "" for valid
	}{
		"defaults with credentials":   {change: func(*objectstore.Config) {}},
		"localhost plain http":        {change: func(c *objectstore.Config) { c.Endpoint = "localhost:9000" }},
		"IPv6 loopback plain http":    {change: func(c *objectstore.Config) { c.Endpoint = "[::1]:9000" }},
		"remote host over TLS":        {change: func(c *objectstore.Config) { c.Endpoint, c.UseTLS = "objects.example.org", true }},
		"remote host:port over TLS":   {change: func(c *objectstore.Config) { c.Endpoint, c.UseTLS = "objects.example.org:9443", true }},
		"empty endpoint":              {change: func(c *objectstore.Config) { c.Endpoint = "" }, wantErr: "endpoint is empty"},
		"scheme in endpoint":          {change: func(c *objectstore.Config) { c.Endpoint = "http://127.0.0.1:9000" }, wantErr: "without scheme"},
		"path in endpoint":            {change: func(c *objectstore.Config) { c.Endpoint = "127.0.0.1:9000/bucket" }, wantErr: "without scheme or path"},
		"no host":                     {change: func(c *objectstore.Config) { c.Endpoint = ":9000" }, wantErr: "has no host"},
		"empty port":                  {change: func(c *objectstore.Config) { c.Endpoint = "127.0.0.1:" }, wantErr: "port must be"},
		"port out of range":           {change: func(c *objectstore.Config) { c.Endpoint = "127.0.0.1:70000" }, wantErr: "port must be"},
		"missing access key":          {change: func(c *objectstore.Config) { c.AccessKey = "" }, wantErr: "access key and secret key"},
		"missing secret key":          {change: func(c *objectstore.Config) { c.SecretKey = "" }, wantErr: "access key and secret key"},
		"plain http to a remote host": {change: func(c *objectstore.Config) { c.Endpoint = "objects.example.org:9000" }, wantErr: "not a loopback address"},
		"plain http to a LAN address": {change: func(c *objectstore.Config) { c.Endpoint = "10.0.0.5:9000" }, wantErr: "not a loopback address"},
		"failover endpoints":          {change: func(c *objectstore.Config) { c.Failover = []string{"127.0.0.1:9001", "[::1]:9002"} }},
		"failover over TLS": {change: func(c *objectstore.Config) {
			c.Endpoint, c.Failover, c.UseTLS = "s3-a.example.org", []string{"s3-b.example.org"}, true
		}},
		"failover to a remote host over plain http": {change: func(c *objectstore.Config) { c.Failover = []string{"objects.example.org:9000"} }, wantErr: "not a loopback address"},
		"an empty failover endpoint":                {change: func(c *objectstore.Config) { c.Failover = []string{""} }, wantErr: "an endpoint is empty"},
		"a failover endpoint with a scheme":         {change: func(c *objectstore.Config) { c.Failover = []string{"https://a:9000"} }, wantErr: "without scheme"},
		"the same endpoint twice":                   {change: func(c *objectstore.Config) { c.Failover = []string{c.Endpoint} }, wantErr: "given twice"},
		"a private CA over TLS": {change: func(c *objectstore.Config) {
			c.Endpoint, c.UseTLS, c.CAFile = "10.231.0.41:9000", true, "ca.crt"
		}},
		"a CA file without TLS": {change: func(c *objectstore.Config) { c.CAFile = "ca.crt" }, wantErr: "a CA file is for TLS"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := validConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%v) = %v, want nil", cfg, err)
				}
				return
			}
			if !errors.Is(err, objectstore.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate(%v) = %v, want ErrInvalidConfig mentioning %q", cfg, err, tc.wantErr)
			}
		})
	}
}

func TestNewRejectsAnInvalidConfig(t *testing.T) {
	cfg := validConfig()
	cfg.SecretKey = ""
	if _, err := objectstore.New(cfg); !errors.Is(err, objectstore.ErrInvalidConfig) {
		t.Fatalf("New without a secret key = %v, want ErrInvalidConfig", err)
	}
	if _, err := objectstore.New(validConfig()); err != nil {
		t.Fatalf("New(valid) = %v", err)
	}
	tlsCfg := validConfig()
	tlsCfg.UseTLS = true
	tlsCfg.CAFile = filepath.Join("testdata", "credentials.env") // no certificate in it
	if _, err := objectstore.New(tlsCfg); !errors.Is(err, objectstore.ErrInvalidConfig) || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("New with a CA file holding no certificate = %v, want ErrInvalidConfig", err)
	}
	tlsCfg.CAFile = filepath.Join("testdata", "missing.pem")
	if _, err := objectstore.New(tlsCfg); err == nil {
		t.Fatal("New with a missing CA file succeeded")
	}
}

func TestConfigNeverPrintsTheSecretKey(t *testing.T) {
	cfg := validConfig()
	cfg.SecretKey = "s3cr3t-value"
	for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
		if out := fmt.Sprintf(verb, cfg); strings.Contains(out, cfg.SecretKey) {
			t.Errorf("Sprintf(%q) = %s, which contains the secret key", verb, out)
		}
	}
}

func TestConfigFromFile(t *testing.T) {
	tests := map[string]struct {
		path string
		want objectstore.Config
	}{
		"credentials in a file beside minio.json": {
			path: filepath.Join("testdata", "minio.json"),
			want: objectstore.Config{Endpoint: "127.0.0.1:27090", AccessKey: "hxfixtureuser",
				SecretKey: "fixture-password-not-a-secret"},
		},
		"credentials inline": {
			path: filepath.Join("testdata", "inline.json"),
			want: objectstore.Config{Endpoint: "objects.example.org:443", AccessKey: "fixture-access",
				SecretKey: "fixture-secret", UseTLS: true},
		},
		"a private CA beside minio.json, several nodes": {
			path: filepath.Join("testdata", "private-ca.json"),
			want: objectstore.Config{Endpoint: "10.231.0.41:9000", Failover: []string{"10.231.0.42:9000"},
				AccessKey: "fixture-access", SecretKey: "fixture-secret", UseTLS: true,
				CAFile: filepath.Join("testdata", "ca.crt")},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := objectstore.ConfigFromFile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("ConfigFromFile(%s) (-want +got):\n%s", tc.path, diff)
			}
		})
	}
}

func TestConfigFromFileErrors(t *testing.T) {
	tests := map[string]struct {
		json, credentials string // credentials "" writes no credentials file
		wantErr           string
		wantInvalid       bool
	}{
		"no such file": {
			wantErr: "is MinIO up?",
		},
		"not JSON": {
			json: `endpoint=127.0.0.1`, wantErr: "invalid character",
		},
		"unknown field": {
			json: `{"endpoint":"127.0.0.1:1","accesKey":"typo"}`, wantErr: "unknown field",
		},
		"credentials file missing": {
			json: `{"endpoint":"127.0.0.1:1","credentialsFile":"credentials.env"}`, wantErr: "no such file",
		},
		"credentials file lacks the password": {
			json:        `{"endpoint":"127.0.0.1:1","credentialsFile":"credentials.env"}`,
			credentials: "MINIO_ROOT_USER=u\n", wantErr: "lacks MINIO_ROOT_USER or MINIO_ROOT_PASSWORD", wantInvalid: true,
		},
		"credentials file with a malformed line": {
			json:        `{"endpoint":"127.0.0.1:1","credentialsFile":"credentials.env"}`,
			credentials: "MINIO_ROOT_USER=u\nthe-password\n", wantErr: "line 2 is not KEY=VALUE", wantInvalid: true,
		},
		"both a credentials file and keys": {
			json:        `{"endpoint":"127.0.0.1:1","credentialsFile":"credentials.env","accessKey":"a","secretKey":"s"}`,
			credentials: "MINIO_ROOT_USER=u\nMINIO_ROOT_PASSWORD=p\n", wantErr: "keep one", wantInvalid: true,
		},
		"plain http to a remote host": {
			json:    `{"endpoint":"objects.example.org:9000","accessKey":"a","secretKey":"s"}`,
			wantErr: "not a loopback address", wantInvalid: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "minio.json")
			if tc.json != "" {
				writeFile(t, path, tc.json)
			}
			if tc.credentials != "" {
				writeFile(t, filepath.Join(dir, "credentials.env"), tc.credentials)
			}
			_, err := objectstore.ConfigFromFile(path)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ConfigFromFile = %v, want an error mentioning %q", err, tc.wantErr)
			}
			if got := errors.Is(err, objectstore.ErrInvalidConfig); got != tc.wantInvalid {
				t.Fatalf("errors.Is(%v, ErrInvalidConfig) = %v, want %v", err, got, tc.wantInvalid)
			}
			if strings.Contains(err.Error(), "the-password") {
				t.Fatalf("the error %v quotes the credentials file", err)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
