package objectstore

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// New validates cfg and returns a client for its first endpoint with
// static credentials. It does not contact the server.
func New(cfg Config) (*minio.Client, error) {
	clients, err := newClients(cfg)
	if err != nil {
		return nil, err
	}
	return clients[0], nil
}

// newClients validates cfg and returns a client for each of its endpoints.
// With more than one, a client gives up on an endpoint it cannot reach
// after one retry, and the bucket tries the next.
func newClients(cfg Config) ([]*minio.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var roots *x509.CertPool
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("objectstore: CA file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrInvalidConfig, cfg.CAFile)
		}
	}
	var clients []*minio.Client
	for _, endpoint := range cfg.Endpoints() {
		opts := &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Secure: cfg.UseTLS}
		if roots != nil {
			t, err := minio.DefaultTransport(true)
			if err != nil {
				return nil, fmt.Errorf("objectstore: transport: %w", err)
			}
			t.TLSClientConfig.RootCAs = roots
			opts.Transport = t
		}
		if len(cfg.Failover) > 0 {
			opts.MaxRetries = 2
		}
		c, err := minio.New(endpoint, opts)
		if err != nil {
			return nil, fmt.Errorf("objectstore: client for %s: %w", endpoint, err)
		}
		clients = append(clients, c)
	}
	return clients, nil
}

// BucketMaker is the part of *minio.Client that EnsureBucket needs.
type BucketMaker interface {
	BucketExists(ctx context.Context, bucketName string) (bool, error)
	MakeBucket(ctx context.Context, bucketName string, opts minio.MakeBucketOptions) error
}

// EnsureBucket makes the bucket name unless it exists already; a concurrent
// creation by the same owner counts as success.
func EnsureBucket(ctx context.Context, client BucketMaker, name string) error {
	exists, err := client.BucketExists(ctx, name)
	if err != nil {
		return fmt.Errorf("objectstore: bucket %q: %w", name, Classify(err))
	}
	if exists {
		return nil
	}
	err = client.MakeBucket(ctx, name, minio.MakeBucketOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
		return fmt.Errorf("objectstore: making bucket %q: %w", name, Classify(err))
	}
	return nil
}
