package ledger

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := NewConfig()
	good.Org = Org{MSPID: "ProvidersMSP", PeerEndpoint: "127.0.0.1:27051", TLSRootCert: "ca.pem", UserCert: "c.pem", UserKey: "k.pem"}
	if err := good.Validate(); err != nil {
		t.Fatalf("a complete config: %v", err)
	}
	tests := map[string]struct {
		change func(*Config)
		want   string
	}{
		"no channel":       {func(c *Config) { c.Channel = "" }, "channel"},
		"no chaincode":     {func(c *Config) { c.Chaincode = "" }, "chaincode"},
		"no MSP id":        {func(c *Config) { c.Org.MSPID = "" }, "MSP"},
		"no peer":          {func(c *Config) { c.Org.PeerEndpoint = "" }, "peer endpoint"},
		"no user key":      {func(c *Config) { c.Org.UserKey = "" }, "user key"},
		"zero timeout":     {func(c *Config) { c.CommitTimeout = 0 }, "timeout"},
		"negative timeout": {func(c *Config) { c.EvaluateTimeout = -time.Second }, "timeout"},
		"negative resend":  {func(c *Config) { c.CommitResendAfter = -time.Second }, "resend"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := good
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error about %q", err, tc.want)
			}
			if _, err := Dial(c); err == nil {
				t.Fatal("Dial accepted an invalid config")
			}
		})
	}
}

const networkJSON = `{"channel":"health","chaincode":"health","orgs":[
 {"name":"providers","mspId":"ProvidersMSP","peerEndpoint":"127.0.0.1:27051","peerHostName":"peer0.providers.hx.local",
  "tlsRootCert":"/x/ca.pem","userCert":"/x/cert.pem","userKey":"/x/key"},
 {"name":"research","mspId":"ResearchMSP","peerEndpoint":"127.0.0.1:27061","peerHostName":"peer0.research.hx.local",
  "tlsRootCert":"/y/ca.pem","userCert":"/y/cert.pem","userKey":"/y/key"}]}`

func TestConfigFromNetworkFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "network.json")
	if err := os.WriteFile(path, []byte(networkJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromNetworkFile(path, "research")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Org.MSPID != "ResearchMSP" || cfg.Org.PeerEndpoint != "127.0.0.1:27061" || cfg.Channel != "health" {
		t.Fatalf("research config: %+v", cfg)
	}
	if cfg.CommitTimeout != NewConfig().CommitTimeout {
		t.Fatalf("defaults not kept: %+v", cfg)
	}

	tests := map[string]struct {
		path, org, want string
	}{
		"unknown organisation": {path, "insurers", `no organisation "insurers"`},
		"missing file":         {filepath.Join(t.TempDir(), "nope.json"), "providers", "network-up"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ConfigFromNetworkFile(tc.path, tc.org)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// FuzzConfigFromNetworkFile: any file content yields a valid config or an
// error, never a panic or a half-filled config.
func FuzzConfigFromNetworkFile(f *testing.F) {
	f.Add([]byte(networkJSON), "providers")
	f.Add([]byte(`{"orgs":[{"name":"providers"}]}`), "providers")
	f.Add([]byte(`[]`), "")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content []byte, org string) {
		path := filepath.Join(dir, "network.json")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := ConfigFromNetworkFile(path, org)
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("accepted an invalid config: %v", verr)
			}
		}
	})
}

// An organisation with several gateway peers is dialled at all of them; one
// with a single endpoint at that one; the list, when given, is what counts.
func TestOrgPeers(t *testing.T) {
	one := Org{PeerEndpoint: "127.0.0.1:27051"}
	if got := one.Peers(); len(got) != 1 || got[0] != "127.0.0.1:27051" {
		t.Fatalf("Peers() of one endpoint = %v", got)
	}
	both := Org{PeerEndpoint: "10.231.0.21:7051", PeerEndpoints: []string{"10.231.0.21:7051", "10.231.0.22:7051"}}
	if got := both.Peers(); len(got) != 2 || got[1] != "10.231.0.22:7051" {
		t.Fatalf("Peers() of a list = %v", got)
	}
	c := NewConfig()
	c.Org = Org{MSPID: "ProvidersMSP", PeerEndpoints: []string{"10.231.0.21:7051"}, TLSRootCert: "ca.pem", UserCert: "c.pem", UserKey: "k.pem"}
	if err := c.Validate(); err != nil {
		t.Fatalf("a config with an endpoint list only: %v", err)
	}
}
