package consent

import (
	"strings"
	"testing"
	"time"

	"healthexchange/services/ledger"
	"healthexchange/services/serving"
)

// validConfig is a Config that Validate accepts.
func validConfig() Config {
	c := NewConfig()
	c.StateDir = "/var/lib/consent"
	c.TLS = serving.TLSFiles{CertFile: "consent.crt", KeyFile: "consent.key", CAFile: "ca.crt"}
	c.Ledger.Org = ledger.Org{Name: "providers", MSPID: "ProvidersMSP", PeerEndpoint: "127.0.0.1:7051",
		PeerHostName: "peer0.providers", TLSRootCert: "tlsca.pem", UserCert: "user.pem", UserKey: "user.key"}
	c.Auth.Audience = "consent"
	c.Auth.Issuers = map[string][]string{"https://idp.providers.example": {"idp.pem"}}
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		// wantErr are substrings the error must contain; none: valid.
		wantErr []string
	}{
		{"defaults with the required settings", func(c *Config) {}, nil},
		{"IPv6 loopback", func(c *Config) { c.GRPCAddr, c.HTTPAddr = "[::1]:27101", "[::1]:27102" }, nil},
		{"another loopback address", func(c *Config) { c.GRPCAddr = "127.0.0.2:27101" }, nil},
		{"event batch of 1", func(c *Config) { c.EventBatch = 1 }, nil},
		{"event batch of 500", func(c *Config) { c.EventBatch = 500 }, nil},
		{"grpc on every interface", func(c *Config) { c.GRPCAddr = "0.0.0.0:27101" }, []string{"grpc address", "loopback"}},
		{"http on a public address", func(c *Config) { c.HTTPAddr = "192.0.2.10:27102" }, []string{"http address", "loopback"}},
		{"address without host", func(c *Config) { c.GRPCAddr = ":27101" }, []string{"grpc address", "loopback"}},
		{"address without port", func(c *Config) { c.HTTPAddr = "127.0.0.1" }, []string{"http address"}},
		{"no state folder", func(c *Config) { c.StateDir = "" }, []string{"state folder"}},
		{"no certificate", func(c *Config) { c.TLS.CertFile = "" }, []string{"TLS certificate, key and CA"}},
		{"no key", func(c *Config) { c.TLS.KeyFile = "" }, []string{"TLS certificate, key and CA"}},
		{"no CA", func(c *Config) { c.TLS.CAFile = "" }, []string{"TLS certificate, key and CA"}},
		{"event batch of 0", func(c *Config) { c.EventBatch = 0 }, []string{"event batch must be 1 to 500"}},
		{"negative event batch", func(c *Config) { c.EventBatch = -1 }, []string{"event batch must be 1 to 500"}},
		{"event batch of 501", func(c *Config) { c.EventBatch = 501 }, []string{"event batch must be 1 to 500"}},
		{"zero flush interval", func(c *Config) { c.FlushEvery = 0 }, []string{"interval must be positive"}},
		{"negative retry", func(c *Config) { c.Retry = -time.Second }, []string{"interval must be positive"}},
		{"zero snapshot interval", func(c *Config) { c.SaveViewEvery = 0 }, []string{"interval must be positive"}},
		{"zero await", func(c *Config) { c.AwaitView = 0 }, []string{"interval must be positive"}},
		{"no logger", func(c *Config) { c.Log = nil }, []string{"no logger"}},
		{"ledger config checked", func(c *Config) { c.Ledger.Org.MSPID = "" }, []string{"ledger config"}},
		{"auth config checked", func(c *Config) { c.Auth.Audience = "" }, []string{"auth config"}},
		{"tracing config checked", func(c *Config) { c.Tracing.Exporter = "zipkin" }, []string{"telemetry"}},
		{"every problem at once", func(c *Config) {
			c.GRPCAddr, c.StateDir, c.TLS.CAFile, c.EventBatch = "10.0.0.1:27101", "", "", 0
		}, []string{"grpc address", "state folder", "TLS certificate", "event batch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want an error mentioning %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}
