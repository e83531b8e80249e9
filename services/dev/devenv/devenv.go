// Package devenv is the one place where the development environment is
// read: the description that `test-network/network.sh up` writes
// (network.json: the ledger's organisations, the services' addresses and TLS
// material, the development identity provider, the vault's key files) and
// the MinIO client description beside it. Daemons take their defaults from
// it as a profile, the CLIs their servers and CA, tests everything.
//
// Only mains, CLIs and tests import it; libraries receive configuration as
// values. Nothing here is how a production deployment is configured (see
// deploy/).
package devenv

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/daemon"
	"healthexchange/services/platform/ledger"
)

// Env is a loaded network.json.
type Env struct {
	Path        string
	ServicesTLS struct {
		Dir string `json:"dir"`
		CA  string `json:"ca"`
	} `json:"servicesTls"`
	// IdPs are the development identity providers: one per organisation,
	// and the patients'.
	IdPs []IdP `json:"idps"`
	// Vault is the development key-encryption key and key folder.
	Vault struct {
		KEK  string `json:"kek"`
		Keys string `json:"keys"`
	} `json:"vault"`
	// Services are where the services listen, and the organisation whose
	// ledger identity each uses.
	Services map[string]Service `json:"services"`
}

// Service is one service of the development network: where it listens,
// and the organisations whose ledger identities it uses, its own first (the
// consent service records every organisation's accesses, as each of them;
// the records service files records for the hospitals it serves).
type Service struct {
	// GRPC is where its clients call it: one address, or, when it runs as
	// several instances (the high-availability profile), each instance's
	// separated by commas (serving.DialAsCaller spreads calls over those
	// that are up). HTTP is its HTTP/JSON gateway, or its instances'
	// separated by commas.
	GRPC string   `json:"grpc"`
	HTTP string   `json:"http"`
	Orgs []string `json:"orgs"`
	// Instances are its instances when there are several.
	Instances []Instance `json:"instances,omitempty"`
}

// Instance is one instance of a service: its node's name (consent-a) and
// addresses.
type Instance struct {
	Name string `json:"name"`
	GRPC string `json:"grpc"`
	HTTP string `json:"http"`
}

// IdP is a development identity provider: who it is, the one organisation
// it speaks for ("" for the patients') and the roles it may assert, and its
// key files.
type IdP struct {
	Name      string   `json:"name"`
	Issuer    string   `json:"issuer"`
	Org       string   `json:"org"`
	Roles     []string `json:"roles"`
	Key       string   `json:"key"`
	PublicKey string   `json:"publicKey"`
}

// Spec is the provider as a service's -issuer flag gives it
// (auth.ParseIssuer).
func (p IdP) Spec() string {
	return p.Issuer + "=" + p.PublicKey + ",org=" + p.Org + ",roles=" + strings.Join(p.Roles, "+")
}

// IdPFor is the provider that speaks for org ("" for the patients').
func (e Env) IdPFor(org string) (IdP, error) {
	for _, p := range e.IdPs {
		if p.Org == org {
			return p, nil
		}
	}
	if org == "" {
		return IdP{}, errors.New("devenv: no identity provider for patients in " + e.Path)
	}
	return IdP{}, fmt.Errorf("devenv: no identity provider speaks for organisation %q (the exchange's organisations: %v)", org, ledgerapi.MemberMSPs())
}

// Audience is the audience a token for the named service must carry: each
// service accepts only tokens meant for it.
func Audience(service string) string { return "health-exchange/" + service }

// AudiencesFor are the services a person of role uses, as a development
// token names them: the patient's app calls the consent service, the
// records service (to erase) and the ingest service (their own readings); a
// clinician's the records, ingest and consent services; a researcher's the
// research service.
func AudiencesFor(role string) []string {
	var names []string
	switch role {
	case "patient":
		names = []string{"consent", "records", "ingest"}
	case "clinician":
		names = []string{"consent", "records", "ingest"}
	case "researcher":
		names = []string{"research"}
	default:
		names = []string{"consent", "records"}
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = Audience(n)
	}
	return out
}

// TLSFiles are one service's certificate and key and the CA they chain to.
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
}

// Names of the services of the development network, in the order they
// start.
var Names = []string{"consent", "records", "ingest", "research"}

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
	if root, ok := RepoRoot(); ok {
		return filepath.Join(root, ".cache", "network")
	}
	return filepath.Join(".cache", "network")
}

// RepoRoot is the repository that contains the working directory: the
// nearest folder above it with test-network/network.sh.
func RepoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "test-network", "network.sh")); err == nil {
			return d, true
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

// DefaultPath is network.json in the state folder.
func DefaultPath() string { return filepath.Join(StateDir(), "network.json") }

// MinIOConfigPath is $HX_MINIO_CONFIG if set, else minio/minio.json in the
// state folder: where `minio.sh up` writes its client description.
func MinIOConfigPath() string {
	return cmp.Or(os.Getenv("HX_MINIO_CONFIG"), filepath.Join(StateDir(), "minio", "minio.json"))
}

// Load reads the environment file.
func Load(path string) (Env, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Env{}, fmt.Errorf("the development network's description: %w (is it up? make up)", err)
	}
	var e Env
	if err := json.Unmarshal(raw, &e); err != nil {
		return Env{}, fmt.Errorf("devenv: %s: %w", path, err)
	}
	if e.ServicesTLS.Dir == "" || e.ServicesTLS.CA == "" || len(e.IdPs) == 0 || len(e.Services) == 0 {
		return Env{}, errors.New("devenv: " + path + " was written by an older network.sh; run make down up")
	}
	e.Path = path
	return e, nil
}

// LoadDefault reads the environment file at DefaultPath.
func LoadDefault() (Env, error) { return Load(DefaultPath()) }

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

// Service is where the named service listens.
func (e Env) Service(name string) (Service, error) {
	s, ok := e.Services[name]
	if !ok {
		return Service{}, fmt.Errorf("devenv: %s names no service %q", e.Path, name)
	}
	return s, nil
}

// URL is the https:// address of a service's HTTP/JSON gateway, or of
// each of its instances' separated by commas ("" if the description has no
// such service).
func (e Env) URL(name string) string {
	s, ok := e.Services[name]
	if !ok || s.HTTP == "" {
		return ""
	}
	var urls []string
	for _, a := range strings.Split(s.HTTP, ",") {
		urls = append(urls, "https://"+strings.TrimSpace(a))
	}
	return strings.Join(urls, ",")
}

// TrustIdPs makes c accept the development identity providers' tokens for
// the named service: each provider for its organisation and roles, and the
// service's audience.
func (e Env) TrustIdPs(c *auth.Config, service string) error {
	c.Issuers = map[string]auth.Issuer{}
	for _, p := range e.IdPs {
		name, iss, err := auth.ParseIssuer(p.Spec())
		if err != nil {
			return err
		}
		c.Issuers[name] = iss
	}
	c.Audience = Audience(service)
	return nil
}

func (e Env) issuerSpecs() []string {
	out := make([]string, len(e.IdPs))
	for i, p := range e.IdPs {
		out[i] = p.Spec()
	}
	return out
}

// Settings are the daemon settings of the named service on this network:
// its addresses, state folder (beside network.json), TLS files, the
// development issuer, its organisation's ledger identity, MinIO (when
// minio.sh has described it beside network.json), the vault keys and the
// consent service's address.
func (e Env) Settings(name string) (daemon.Settings, error) {
	svc, err := e.Service(name)
	if err != nil {
		return daemon.Settings{}, err
	}
	consent := e.Services["consent"]
	tls := e.TLS(name)
	store := filepath.Join(filepath.Dir(e.Path), "minio", "minio.json")
	if _, err := os.Stat(store); err != nil {
		store = "" // not every service needs MinIO; those that do say so
	}
	s := daemon.Settings{
		GRPCAddr: svc.GRPC, HTTPAddr: svc.HTTP,
		StateDir: filepath.Join(filepath.Dir(e.Path), name),
		TLSCert:  tls.CertFile, TLSKey: tls.KeyFile, TLSCA: tls.CAFile,
		Issuers:          e.issuerSpecs(),
		Audience:         Audience(name),
		LedgerConnection: e.Path, LedgerOrg: strings.Join(svc.Orgs, ","),
		StoreConfig: store,
		KEKFile:     e.Vault.KEK, KeyDir: e.Vault.Keys,
		ConsentAddr: consent.GRPC,
		// The development network lives on loopback addresses only.
		LoopbackOnly: true,
	}
	if name == "consent" {
		// The patient web app: every instance signs its sessions with the
		// sign-in key (the services trust it among the IdPs), for itself
		// and the records service, which the records page reads through it.
		if p, ok := e.idp(SignInIdP); ok {
			s.SignInKey = p.Key
		}
		s.SignInAudiences = []string{Audience("records")}
		s.WebRecords = e.URL("records")
	}
	return s, nil
}

// SignInIdP is the name of the patient web app's sign-in among the IdPs.
const SignInIdP = "signin"

// idp is the provider named name.
func (e Env) idp(name string) (IdP, bool) {
	for _, p := range e.IdPs {
		if p.Name == name {
			return p, true
		}
	}
	return IdP{}, false
}

// Profile is the development network as a daemon profile: the daemons'
// defaults come from network.json (DefaultPath unless -env names another).
type Profile struct{}

var _ daemon.Profile = Profile{}

// DefaultPath is DefaultPath.
func (Profile) DefaultPath() string { return DefaultPath() }

// Apply sets s to the named service's settings on the network that path
// describes; MinIO's description is $HX_MINIO_CONFIG when that is set.
func (Profile) Apply(path, name string, s *daemon.Settings) error {
	e, err := Load(path)
	if err != nil {
		return err
	}
	if *s, err = e.Settings(name); err != nil {
		return err
	}
	if p := os.Getenv("HX_MINIO_CONFIG"); p != "" {
		s.StoreConfig = p
	}
	return nil
}

// ServiceNames are the services of Names that the description has, in
// start order.
func (e Env) ServiceNames() []string {
	var names []string
	for _, n := range Names {
		if _, ok := e.Services[n]; ok {
			names = append(names, n)
		}
	}
	return names
}

// ServerURL is where a CLI finds a service's HTTP/JSON gateway by default:
// $HX_<SERVICE>_URL, else the development network's ("" if neither).
func ServerURL(service string) string {
	if u := os.Getenv("HX_" + strings.ToUpper(service) + "_URL"); u != "" {
		return u
	}
	if e, err := LoadDefault(); err == nil {
		return e.URL(service)
	}
	return ""
}

// CA is the services' CA of the development network, for the CLIs' --ca
// default ("" when the network is not up).
func CA() string {
	if e, err := LoadDefault(); err == nil {
		return e.ServicesTLS.CA
	}
	return ""
}

// UnreachableHint is what a CLI adds when it cannot reach a service of the
// development network.
const UnreachableHint = "is the exchange running? `make up` starts it on this machine, `make status` shows what runs"
