package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/serving"
)

// validConfig is a Config that Validate accepts.
func validConfig() Config {
	c := NewConfig("consent")
	c.GRPCAddr, c.HTTPAddr = "127.0.0.1:27101", "127.0.0.1:27102"
	c.TLS = serving.TLSFiles{CertFile: "consent.crt", KeyFile: "consent.key", CAFile: "ca.crt"}
	l := ledger.NewConfig()
	l.Org = ledger.Org{Name: "providers", MSPID: "ProvidersMSP", PeerEndpoint: "127.0.0.1:7051",
		PeerHostName: "peer0.providers", TLSRootCert: "tlsca.pem", UserCert: "user.pem", UserKey: "user.key"}
	c.Backends.Ledgers = []ledger.Config{l}
	c.Auth.Audience = "consent"
	c.Auth.Issuers = map[string]auth.Issuer{"https://idp.providers.example": {Keys: []string{"idp.pem"}, Org: "ProvidersMSP", Roles: []auth.Role{auth.RoleClinician}}}
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		// wantErr are substrings the error must contain; none: valid.
		wantErr []string
	}{
		{"the required settings", func(c *Config) {}, nil},
		{"IPv6 loopback", func(c *Config) { c.GRPCAddr, c.HTTPAddr = "[::1]:27101", "[::1]:27102" }, nil},
		{"another loopback address", func(c *Config) { c.GRPCAddr = "127.0.0.2:27101" }, nil},
		{"no addresses", func(c *Config) { c.GRPCAddr, c.HTTPAddr = "", "" }, []string{"grpc and http addresses are both required"}},
		{"grpc on every interface", func(c *Config) { c.GRPCAddr = "0.0.0.0:27101" }, []string{"grpc address", "loopback"}},
		{"http on a public address", func(c *Config) { c.HTTPAddr = "192.0.2.10:27102" }, []string{"http address", "loopback"}},
		{"a host name, even localhost", func(c *Config) { c.HTTPAddr = "localhost:27102" }, []string{"http address", "loopback"}},
		{"address without host", func(c *Config) { c.GRPCAddr = ":27101" }, []string{"grpc address", "loopback"}},
		{"address without port", func(c *Config) { c.HTTPAddr = "127.0.0.1" }, []string{"http address", "missing port"}},
		{"consent service elsewhere", func(c *Config) { c.Backends.ConsentAddr = "10.0.0.1:27101" }, []string{"consent address", "loopback"}},
		{"records service elsewhere (the web app's relay)", func(c *Config) { c.Web.RecordsURL = "https://127.0.0.1:27202,https://192.0.2.9:27202" }, []string{"records address", "loopback"}},
		{"records service on loopback", func(c *Config) { c.Web.RecordsURL = "https://127.0.0.1:27202" }, nil},
		{"every interface allowed off loopback", func(c *Config) {
			c.LoopbackOnly, c.GRPCAddr, c.Backends.ConsentAddr = false, "0.0.0.0:27101", "consent.example:443"
		}, nil},
		{"pprof never off loopback", func(c *Config) { c.LoopbackOnly, c.PprofAddr = false, "0.0.0.0:6060" }, []string{"pprof address", "loopback"}},
		{"no certificate", func(c *Config) { c.TLS.CertFile = "" }, []string{"TLS certificate, key and CA", "-tls-cert"}},
		{"no CA", func(c *Config) { c.TLS.CAFile = "" }, []string{"TLS certificate, key and CA"}},
		{"no logger", func(c *Config) { c.Log = nil }, []string{"no logger"}},
		{"no storage timeout", func(c *Config) { c.Backends.StoreTimeout = 0 }, []string{"storage timeout"}},
		{"auth config checked", func(c *Config) { c.Auth.Audience = "" }, []string{"consent config: auth config"}},
		{"tracing config checked", func(c *Config) { c.Tracing.Exporter = "zipkin" }, []string{"telemetry"}},
		{"limits checked", func(c *Config) { c.Limits.MaxBody = 0 }, []string{"limits"}},
		{"no name", func(c *Config) { c.Name = "" }, []string{"the service has no name"}},
		{"every problem at once", func(c *Config) {
			c.GRPCAddr, c.TLS.CAFile, c.Log = "10.0.0.1:27101", "", nil
		}, []string{"grpc address", "TLS certificate", "no logger"}},
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

func TestSettingsLoad(t *testing.T) {
	dir := t.TempDir()
	network := filepath.Join(dir, "network.json")
	writeFile(t, network, `{"channel":"health","chaincode":"health","orgs":[{"name":"providers","mspId":"ProvidersMSP",
		"peerEndpoint":"127.0.0.1:27051","peerHostName":"peer0","tlsRootCert":"ca.pem","userCert":"u.pem","userKey":"u.key"},
		{"name":"stmarys","mspId":"StMarysMSP","peerMspId":"ProvidersMSP",
		"peerEndpoint":"127.0.0.1:27051","peerHostName":"peer0","tlsRootCert":"ca.pem","userCert":"s.pem","userKey":"s.key"}]}`)
	store := filepath.Join(dir, "minio.json")
	writeFile(t, store, `{"endpoint":"127.0.0.1:27090","accessKey":"a","secretKey":"s"}`)

	t.Run("every file read", func(t *testing.T) {
		s := Settings{GRPCAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2", Issuers: []string{"iss-a=a.pem+a2.pem,org=ProvidersMSP,roles=clinician", "iss-b=b.pem,org=,roles=patient"},
			Audience: "records", LedgerConnection: network, LedgerOrg: "providers, stmarys", StoreConfig: store, ConsentAddr: "127.0.0.1:3"}
		c, err := s.Load("records")
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != "records" || len(c.Backends.Ledgers) != 2 || c.Backends.Ledgers[0].Org.MSPID != "ProvidersMSP" ||
			c.Backends.Ledgers[1].Org.PeerMSPID != "ProvidersMSP" || c.Backends.Store.Endpoint != "127.0.0.1:27090" ||
			c.Backends.ConsentAddr != "127.0.0.1:3" || c.Auth.Audience != "records" {
			t.Errorf("Load = %+v", c)
		}
		if got := c.Auth.Issuers; len(got) != 2 || len(got["iss-a"].Keys) != 2 || got["iss-b"].Keys[0] != "b.pem" || got["iss-a"].Org != "ProvidersMSP" {
			t.Errorf("issuers = %v", got)
		}
	})
	for name, tc := range map[string]struct {
		s    Settings
		want []string
	}{
		"a malformed issuer": {Settings{Issuers: []string{"no-equals-sign"}}, []string{`issuer "no-equals-sign" is not ISSUER=PEMFILE`}},
		"an issuer given twice": {Settings{Issuers: []string{"a=a.pem,org=,roles=patient", "a=b.pem,org=,roles=patient"}},
			[]string{`issuer "a" is given twice`}},
		"an organisation not there":  {Settings{LedgerConnection: network, LedgerOrg: "insurer"}, []string{`no organisation "insurer"`}},
		"a missing ledger file":      {Settings{LedgerConnection: filepath.Join(dir, "none.json")}, []string{"none.json"}},
		"a missing store file":       {Settings{StoreConfig: filepath.Join(dir, "none.json")}, []string{"objectstore config"}},
		"an unknown log level":       {Settings{LogLevel: "loud"}, []string{`log level "loud"`}},
		"every problem reported too": {Settings{LogLevel: "loud", Issuers: []string{"x"}}, []string{"log level", "ISSUER=PEMFILE"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.s.Load("records")
			if err == nil {
				t.Fatalf("Load = nil, want an error about %q", tc.want)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load = %q, want it to mention %q", err, want)
				}
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
