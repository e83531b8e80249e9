// Package backends opens what an enforcement-point service (records,
// ingest) stands on: the ledger client, its bucket in object storage, the
// vault of patients' data keys, and the consent service's decision point,
// reached with the service's own certificate and the caller's token. It
// must never open any of them on a non-loopback address in development, nor
// hand out a half-opened set: Open either returns everything or closes what
// it opened.
package backends

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/devenv"
	"healthexchange/services/ledger"
	"healthexchange/services/objectstore"
	"healthexchange/services/serving"
	"healthexchange/services/vault"
)

// Settings are where the backends are.
type Settings struct {
	// TLS is the service's certificate (also its client certificate towards
	// the consent service) and the CA it trusts.
	TLS serving.TLSFiles
	// ConsentAddr is the consent service's gRPC address.
	ConsentAddr string
	Ledger      ledger.Config
	// Store, Bucket, StoreTimeout: the object storage, the service's bucket
	// (made if missing) and how long one storage call may take.
	Store        objectstore.Config
	Bucket       string
	StoreTimeout time.Duration
	// KEKFile is the vault's key-encryption key (a 32-byte file, mode
	// 0600); KeyDir the folder of patients' wrapped data keys.
	KEKFile, KeyDir string
}

// DefaultConsentAddr is where consentd listens by default.
const DefaultConsentAddr = "127.0.0.1:27101"

// NewSettings returns the defaults with bucket; the caller fills in TLS,
// ledger, store and keys.
func NewSettings(bucket string) Settings {
	return Settings{ConsentAddr: DefaultConsentAddr, Ledger: ledger.NewConfig(), Store: objectstore.NewConfig(),
		Bucket: bucket, StoreTimeout: 10 * time.Second}
}

// Validate reports every missing or impossible setting at once, as service's
// configuration errors.
func (s Settings) Validate(service string) error {
	errs := []error{
		serving.CheckLoopback(service, serving.NamedAddr{Name: "consent address", Addr: s.ConsentAddr}),
		s.TLS.Check(service), s.Ledger.Validate(), s.Store.Validate(),
	}
	if s.Bucket == "" {
		errs = append(errs, errors.New(service+" config: bucket is empty"))
	}
	if s.KEKFile == "" || s.KeyDir == "" {
		errs = append(errs, errors.New(service+" config: the KEK file and the key folder are both required"))
	}
	if s.StoreTimeout <= 0 {
		errs = append(errs, errors.New(service+" config: the storage timeout must be positive"))
	}
	return errors.Join(errs...)
}

// Backends are the opened backends; Close closes them.
type Backends struct {
	Vault     *vault.Vault
	Bucket    *objectstore.Bucket
	Ledger    *ledger.Client
	Decisions consentv1.DecisionServiceClient

	conn *grpc.ClientConn
}

// Open opens every backend of s (the bucket is made if missing, within the
// storage timeout). On error nothing stays open.
func Open(ctx context.Context, service string, s Settings) (_ *Backends, err error) {
	b := &Backends{}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if b.Vault, err = vault.OpenFiles(s.KEKFile, s.KeyDir); err != nil {
		return nil, err
	}
	if b.Bucket, err = objectstore.OpenBucket(ctx, s.Store, s.Bucket, s.StoreTimeout); err != nil {
		return nil, fmt.Errorf("%s: %w", service, err)
	}
	if b.Ledger, err = ledger.Dial(s.Ledger); err != nil {
		return nil, err
	}
	if b.conn, err = serving.DialAsCaller(s.TLS, s.ConsentAddr); err != nil {
		return nil, fmt.Errorf("%s: consent service: %w", service, err)
	}
	b.Decisions = consentv1.NewDecisionServiceClient(b.conn)
	return b, nil
}

// Close closes what is open.
func (b *Backends) Close() error {
	var errs []error
	if b.conn != nil {
		errs = append(errs, b.conn.Close())
	}
	if b.Ledger != nil {
		errs = append(errs, b.Ledger.Close())
	}
	if b.Vault != nil {
		errs = append(errs, b.Vault.Close())
	}
	return errors.Join(errs...)
}

// FromDevEnv points s at the test network's backends: the service's TLS
// files, org's ledger identity, the MinIO server that minioPath (a
// minio.json) describes, and the development vault keys.
func (s *Settings) FromDevEnv(env devenv.Env, service, org, minioPath string) error {
	if env.Vault.KEK == "" || env.Vault.Keys == "" {
		return errors.New(env.Path + " has no vault section; run make network-down network-up")
	}
	var err error
	if s.Ledger, err = env.Ledger(org); err != nil {
		return err
	}
	if s.Store, err = objectstore.ConfigFromFile(minioPath); err != nil {
		return err
	}
	s.TLS = serving.TLSFiles(env.TLS(service))
	s.KEKFile, s.KeyDir = env.Vault.KEK, env.Vault.Keys
	return nil
}
