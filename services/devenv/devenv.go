// Package devenv reads the development environment that
// `test-network/network.sh up` describes in network.json: the ledger's
// organisations, the services' TLS material, the development identity
// provider and the vault's key files. Services, tools and tests use it
// instead of hard-coded paths.
//
// It is for this machine's test network only; nothing here is how a
// production deployment is configured (see deploy/).
package devenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"healthexchange/services/auth"
	"healthexchange/services/ledger"
)

// Env is a loaded network.json.
type Env struct {
	Path        string
	ServicesTLS struct {
		Dir string `json:"dir"`
		CA  string `json:"ca"`
	} `json:"servicesTls"`
	DevIdP IdP `json:"devIdp"`
	// Vault is the development key-encryption key and key folder.
	Vault struct {
		KEK  string `json:"kek"`
		Keys string `json:"keys"`
	} `json:"vault"`
}

// IdP is the development identity provider: who it is, the audience its
// tokens are for, and its key files.
type IdP struct {
	Issuer    string `json:"issuer"`
	Audience  string `json:"audience"`
	Key       string `json:"key"`
	PublicKey string `json:"publicKey"`
}

// TLSFiles are one service's certificate and key and the CA they chain to.
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
}

// StateDir is the test network's state folder, as network.sh chooses it:
// $HX_STATE, else $HX_CACHE/network, else .cache/network under the
// repository that contains the working directory.
func StateDir() string {
	if s := os.Getenv("HX_STATE"); s != "" {
		return s
	}
	if c := os.Getenv("HX_CACHE"); c != "" {
		return filepath.Join(c, "network")
	}
	if dir, err := os.Getwd(); err == nil {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "test-network", "network.sh")); err == nil {
				return filepath.Join(d, ".cache", "network")
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return filepath.Join(".cache", "network")
}

// DefaultPath is network.json in the state folder.
func DefaultPath() string { return filepath.Join(StateDir(), "network.json") }

// Load reads the environment file.
func Load(path string) (Env, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Env{}, fmt.Errorf("devenv: %w (is the test network up? make network-up)", err)
	}
	var e Env
	if err := json.Unmarshal(raw, &e); err != nil {
		return Env{}, fmt.Errorf("devenv: %s: %w", path, err)
	}
	if e.ServicesTLS.Dir == "" || e.ServicesTLS.CA == "" || e.DevIdP.Issuer == "" || e.DevIdP.PublicKey == "" {
		return Env{}, errors.New("devenv: " + path + " has no services TLS or identity provider section; run make network-down network-up")
	}
	e.Path = path
	return e, nil
}

// Ledger is the ledger client configuration of an organisation
// ("providers" or "research").
func (e Env) Ledger(org string) (ledger.Config, error) {
	return ledger.ConfigFromNetworkFile(e.Path, org)
}

// TLS returns a service's TLS files (consent, records, ingest, research, cli).
func (e Env) TLS(service string) TLSFiles {
	return TLSFiles{
		CertFile: filepath.Join(e.ServicesTLS.Dir, service+".crt"),
		KeyFile:  filepath.Join(e.ServicesTLS.Dir, service+".key"),
		CAFile:   e.ServicesTLS.CA,
	}
}

// TrustIdP makes c accept the development identity provider's tokens: its
// issuer and public key, and its audience.
func (e Env) TrustIdP(c *auth.Config) {
	c.Issuers = map[string][]string{e.DevIdP.Issuer: {e.DevIdP.PublicKey}}
	c.Audience = e.DevIdP.Audience
}
