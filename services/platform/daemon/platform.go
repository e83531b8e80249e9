package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/serving"
	"healthexchange/services/platform/vault"
)

// Platform is what a service is built with: its logger and state folder,
// and its backends, each opened on the first call that asks for it and
// closed by the skeleton when the daemon stops (or when start-up fails).
// Its methods are for building, from one goroutine; SetServing may be
// called from any.
type Platform struct {
	name     string
	log      *slog.Logger
	stateDir string
	httpAddr string
	tls      serving.TLSFiles
	cfg      Backends
	web      Web
	health   *health.Server
	verifier *auth.Verifier

	mu      sync.Mutex
	ledgers []*ledger.Client // opened in the order of cfg.Ledgers
	vault   *vault.Vault
	buckets map[string]*objectstore.Bucket
	conn    *grpc.ClientConn
}

func newPlatform(c Config, v *auth.Verifier) *Platform {
	return &Platform{name: c.Name, log: c.Log, stateDir: c.StateDir, httpAddr: c.HTTPAddr, tls: c.TLS, cfg: c.Backends, web: c.Web,
		health: health.NewServer(), verifier: v, buckets: map[string]*objectstore.Bucket{}}
}

// Name is the service's name.
func (p *Platform) Name() string { return p.name }

// Log is the service's logger.
func (p *Platform) Log() *slog.Logger { return p.log }

// StateDir is the service's state folder (made 0700 before the build), or
// an error if the configuration has none.
func (p *Platform) StateDir() (string, error) {
	if p.stateDir == "" {
		return "", fmt.Errorf("%s config: the state folder is required (-state)", p.name)
	}
	return p.stateDir, nil
}

// HTTPAddr is the address of the service's HTTP listener.
func (p *Platform) HTTPAddr() string { return p.httpAddr }

// SecretsDir is the folder of the vault's key-encryption key: every
// instance of a service that holds the KEK has it, so secrets the instances
// share (a health card issuer's signing key) are kept there.
func (p *Platform) SecretsDir() (string, error) {
	if p.cfg.KEKFile == "" {
		return "", fmt.Errorf("%s config: the KEK file is required (-kek-file)", p.name)
	}
	return filepath.Dir(p.cfg.KEKFile), nil
}

// Ledger is the ledger client of the service's own organisation (the first
// configured).
func (p *Platform) Ledger() (*ledger.Client, error) {
	all, err := p.Ledgers()
	if err != nil {
		return nil, err
	}
	return all[0], nil
}

// Ledgers are the ledger clients of every organisation the service acts
// for, its own first.
func (p *Platform) Ledgers() ([]*ledger.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ledgers != nil {
		return p.ledgers, nil
	}
	if len(p.cfg.Ledgers) == 0 {
		return nil, fmt.Errorf("%s config: no ledger connection is configured (-ledger-connection, -ledger-org)", p.name)
	}
	var opened []*ledger.Client
	for _, cfg := range p.cfg.Ledgers {
		l, err := ledger.Dial(cfg)
		if err != nil {
			for _, o := range opened {
				o.Close()
			}
			return nil, fmt.Errorf("%s: %w (-ledger-connection, -ledger-org)", p.name, err)
		}
		opened = append(opened, l)
	}
	p.ledgers = opened
	return opened, nil
}

// Vault is the vault of patients' data keys.
func (p *Platform) Vault() (*vault.Vault, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.vault != nil {
		return p.vault, nil
	}
	if p.cfg.KEKFile == "" || p.cfg.KeyDir == "" {
		return nil, fmt.Errorf("%s config: the KEK file and the key folder are both required (-kek-file, -key-dir)", p.name)
	}
	v, err := vault.OpenFiles(p.cfg.KEKFile, p.cfg.KeyDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	p.vault = v
	return v, nil
}

// Bucket is the named bucket of the object storage, made if missing.
func (p *Platform) Bucket(ctx context.Context, name string) (*objectstore.Bucket, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.buckets[name]; ok {
		return b, nil
	}
	if name == "" {
		return nil, fmt.Errorf("%s config: a bucket name is empty", p.name)
	}
	if p.cfg.Store.Endpoint == "" {
		return nil, fmt.Errorf("%s config: no object storage is configured (-store-config names its description)", p.name)
	}
	if err := p.cfg.Store.Validate(); err != nil {
		return nil, fmt.Errorf("%s config: object storage: %w (-store-config)", p.name, err)
	}
	b, err := objectstore.OpenBucket(ctx, p.cfg.Store, name, p.cfg.StoreTimeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	p.buckets[name] = b
	return b, nil
}

// Decisions is a client of the consent service's decision point, reached
// with this service's certificate.
func (p *Platform) Decisions() (consentv1.DecisionServiceClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		if p.cfg.ConsentAddr == "" {
			return nil, fmt.Errorf("%s config: the consent service's address is required (-consent)", p.name)
		}
		conn, err := serving.DialAsCaller(p.tls, p.cfg.ConsentAddr)
		if err != nil {
			return nil, fmt.Errorf("%s: consent service: %w", p.name, err)
		}
		p.conn = conn
	}
	return consentv1.NewDecisionServiceClient(p.conn), nil
}

// Web is the patient web app's setup (the consent service's).
func (p *Platform) Web() Web { return p.web }

// TLS are the service's certificate, key and CA files.
func (p *Platform) TLS() serving.TLSFiles { return p.tls }

// Verifier checks tokens, and the people another service vouches for,
// with the daemon's trusted issuers.
func (p *Platform) Verifier() *auth.Verifier { return p.verifier }

// SetServing says whether the service is ready: what its gRPC health check
// answers (SERVING or NOT_SERVING) for the whole server and each service.
func (p *Platform) SetServing(ready bool) {
	status := healthpb.HealthCheckResponse_NOT_SERVING
	if ready {
		status = healthpb.HealthCheckResponse_SERVING
	}
	p.health.SetServingStatus("", status)
}

// close closes whatever was opened.
func (p *Platform) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	if p.conn != nil {
		errs = append(errs, p.conn.Close())
	}
	for _, l := range p.ledgers {
		errs = append(errs, l.Close())
	}
	if p.vault != nil {
		errs = append(errs, p.vault.Close())
	}
	return errors.Join(errs...)
}
