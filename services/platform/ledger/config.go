package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// Org is one organisation's way into the network: the gateway peer its
// clients talk to (its own, or another organisation's when it has none),
// the CA that signed the peer's TLS certificate, and the client identity to
// act as.
type Org struct {
	Name  string `json:"name"`
	MSPID string `json:"mspId"`
	// PeerMSPID is the organisation of the gateway peer ("" means MSPID's
	// own).
	PeerMSPID    string `json:"peerMspId"`
	PeerEndpoint string `json:"peerEndpoint"`
	// PeerEndpoints, when set, are all the gateway peers of that
	// organisation (PeerEndpoint among them): calls are spread over those
	// that are up, and go on through the others when one is down. Their
	// TLS certificates all name PeerHostName.
	PeerEndpoints []string `json:"peerEndpoints,omitempty"`
	PeerHostName  string   `json:"peerHostName"`
	TLSRootCert   string   `json:"tlsRootCert"`
	UserCert      string   `json:"userCert"`
	UserKey       string   `json:"userKey"`
}

// Peers is the list of the gateway peers to dial: PeerEndpoints, or the
// one PeerEndpoint.
func (o Org) Peers() []string {
	if len(o.PeerEndpoints) > 0 {
		return o.PeerEndpoints
	}
	return []string{o.PeerEndpoint}
}

// Config says which channel, chaincode and organisation to connect as, and how
// long each step of a call may take.
type Config struct {
	Channel         string
	Chaincode       string
	Org             Org
	EvaluateTimeout time.Duration
	EndorseTimeout  time.Duration
	SubmitTimeout   time.Duration
	CommitTimeout   time.Duration
	// CommitResendAfter is how long a submitted transaction may go without
	// committing before it is sent to be ordered again (0: never).
	CommitResendAfter time.Duration
}

// NewConfig returns the defaults: channel and chaincode "health", timeouts
// that fit an interactive service on the loopback test network.
func NewConfig() Config {
	return Config{
		Channel:         "health",
		Chaincode:       "health",
		EvaluateTimeout: 5 * time.Second,
		EndorseTimeout:  15 * time.Second,
		SubmitTimeout:   5 * time.Second,
		CommitTimeout:   30 * time.Second,
		// Longer than a commit takes under load (tens of milliseconds to a
		// second), about a Raft election.
		CommitResendAfter: 5 * time.Second,
	}
}

// Validate reports the first missing or impossible setting.
func (c Config) Validate() error {
	switch {
	case c.Channel == "":
		return errors.New("ledger config: channel is empty")
	case c.Chaincode == "":
		return errors.New("ledger config: chaincode is empty")
	case c.Org.MSPID == "":
		return errors.New("ledger config: organisation MSP id is empty")
	case c.Org.PeerEndpoint == "" && len(c.Org.PeerEndpoints) == 0:
		return errors.New("ledger config: peer endpoint is empty")
	case c.Org.TLSRootCert == "" || c.Org.UserCert == "" || c.Org.UserKey == "":
		return errors.New("ledger config: TLS root certificate, user certificate and user key are all required")
	case c.EvaluateTimeout <= 0 || c.EndorseTimeout <= 0 || c.SubmitTimeout <= 0 || c.CommitTimeout <= 0:
		return errors.New("ledger config: every timeout must be positive")
	case c.CommitResendAfter < 0:
		return errors.New("ledger config: the commit resend interval must not be negative")
	}
	return nil
}

// networkFile is the client description that test-network/network.sh writes.
type networkFile struct {
	Channel   string `json:"channel"`
	Chaincode string `json:"chaincode"`
	Orgs      []Org  `json:"orgs"`
}

// ConfigFromNetworkFile reads the file written by `network.sh up` and returns
// the default Config for the organisation named org ("providers" or "research").
func ConfigFromNetworkFile(path, org string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("ledger config: %w (is the test network up? make network-up)", err)
	}
	var nf networkFile
	if err := json.Unmarshal(raw, &nf); err != nil {
		return Config{}, fmt.Errorf("ledger config: %s: %w", path, err)
	}
	cfg := NewConfig()
	cfg.Channel, cfg.Chaincode = nf.Channel, nf.Chaincode
	for _, o := range nf.Orgs {
		if o.Name == org {
			cfg.Org = o
			return cfg, cfg.Validate()
		}
	}
	return Config{}, fmt.Errorf("ledger config: %s has no organisation %q", path, org)
}
