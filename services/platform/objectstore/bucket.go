package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
)

// Objects is the object storage the service keeps sealed records in. Get of
// a missing object fails with an error wrapping ErrNotFound, of
// one larger than maxSize with ErrTooLarge; every other failure means the
// store could not be used.
type Objects interface {
	Put(ctx context.Context, key string, data []byte) error
	Get(ctx context.Context, key string, maxSize int64) ([]byte, error)
	Delete(ctx context.Context, key string) error
	// List returns the keys under prefix, in key order.
	List(ctx context.Context, prefix string) ([]string, error)
}

// Bucket is Objects in one bucket of a MinIO server. Every call is bounded
// by a timeout, so a store that stops answering fails the call instead of
// holding it.
type Bucket struct {
	client  *minio.Client
	bucket  string
	timeout time.Duration
}

var _ Objects = (*Bucket)(nil)

// NewBucket returns the bucket named bucket (which must exist) of client,
// each call bounded by timeout.
func NewBucket(client *minio.Client, bucket string, timeout time.Duration) *Bucket {
	return &Bucket{client: client, bucket: bucket, timeout: timeout}
}

func (m *Bucket) Put(ctx context.Context, key string, data []byte) error {
	call, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	_, err := m.client.PutObject(call, m.bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		return m.fail(ctx, call, "put "+key, err)
	}
	return nil
}

func (m *Bucket) Get(ctx context.Context, key string, maxSize int64) ([]byte, error) {
	call, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	obj, err := m.client.GetObject(call, m.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, m.fail(ctx, call, "get "+key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(obj, maxSize+1))
	if err != nil {
		return nil, m.fail(ctx, call, "get "+key, err)
	}
	if int64(len(data)) > maxSize {
		return nil, fmt.Errorf("object store: get %s: %w: more than %d bytes", key, ErrTooLarge, maxSize)
	}
	return data, nil
}

func (m *Bucket) Delete(ctx context.Context, key string) error {
	call, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := m.client.RemoveObject(call, m.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return m.fail(ctx, call, "delete "+key, err)
	}
	return nil
}

func (m *Bucket) List(ctx context.Context, prefix string) ([]string, error) {
	call, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	var keys []string
	for info := range m.client.ListObjects(call, m.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return nil, m.fail(ctx, call, "list "+prefix, info.Err)
		}
		keys = append(keys, info.Key)
	}
	if err := call.Err(); err != nil {
		return nil, m.fail(ctx, call, "list "+prefix, err)
	}
	return keys, nil
}

// fail describes a failed call. When the call's own time limit ran out but
// the caller's context did not, the store is not answering: that is the
// store's failure, not a deadline of the caller's, so context's error is
// not wrapped (it would read as the caller's deadline).
func (m *Bucket) fail(caller, call context.Context, what string, err error) error {
	if caller.Err() == nil && call.Err() != nil {
		return fmt.Errorf("object store: %s: no answer within %v", what, m.timeout)
	}
	return fmt.Errorf("object store: %s: %w", what, Classify(err))
}

// ErrTooLarge: a stored object is larger than the caller's limit: larger
// than anything the service writes.
var ErrTooLarge = errors.New("objectstore: object too large")

// OpenBucket connects to the server cfg names and returns its bucket name,
// made if missing (within timeout), each later call bounded by timeout.
func OpenBucket(ctx context.Context, cfg Config, name string, timeout time.Duration) (*Bucket, error) {
	client, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := EnsureBucket(ctx, client, name); err != nil {
		return nil, fmt.Errorf("%w (is MinIO up? make minio-up)", err)
	}
	return NewBucket(client, name, timeout), nil
}

// PresignGet returns a URL that fetches key without credentials until expiry
// (at most 7 days). Anyone holding the URL can fetch the object: hand it only
// to a caller allowed to read it, and keep expiry short.
func (m *Bucket) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	u, err := m.client.PresignedGetObject(ctx, m.bucket, key, expiry, nil)
	if err != nil {
		return "", m.fail(ctx, ctx, "presign "+key, err)
	}
	return u.String(), nil
}
