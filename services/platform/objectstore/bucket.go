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

// streamRate is the slowest transfer a stream is allowed: a stream's time
// limit is the call timeout plus its size at this rate.
const streamRate = 8 << 20 // bytes per second

// streamTimeout is the time limit of a stream of size bytes.
func (m *Bucket) streamTimeout(size int64) time.Duration {
	return m.timeout + time.Duration(size/streamRate+1)*time.Second
}

// PutStream stores the size bytes r yields under key without holding them:
// they go to the store in parts as they are read.
func (m *Bucket) PutStream(ctx context.Context, key string, r io.Reader, size int64) error {
	call, cancel := context.WithTimeout(ctx, m.streamTimeout(size))
	defer cancel()
	_, err := m.client.PutObject(call, m.bucket, key, r, size,
		minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: 16 << 20})
	if err != nil {
		return m.fail(ctx, call, "put "+key, err)
	}
	return nil
}

// GetStream opens key for reading. A missing object fails with an error
// wrapping ErrNotFound, one larger than maxSize with ErrTooLarge, before
// any byte is read. The reader must be closed; reading it is bounded by
// the call timeout plus the object's size at streamRate.
func (m *Bucket) GetStream(ctx context.Context, key string, maxSize int64) (io.ReadCloser, error) {
	// One request: the call timeout until the object is known, then the
	// time its size needs.
	call, cancel := context.WithCancel(ctx)
	limit := time.AfterFunc(m.timeout, cancel)
	fail := func(err error) (io.ReadCloser, error) {
		timedOut := !limit.Stop() && ctx.Err() == nil
		cancel()
		if timedOut {
			return nil, fmt.Errorf("object store: get %s: no answer within %v", key, m.timeout)
		}
		return nil, fmt.Errorf("object store: get %s: %w", key, Classify(err))
	}
	obj, err := m.client.GetObject(call, m.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return fail(err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		return fail(err)
	}
	if info.Size > maxSize {
		obj.Close()
		limit.Stop()
		cancel()
		return nil, fmt.Errorf("object store: get %s: %w: %d bytes, more than %d", key, ErrTooLarge, info.Size, maxSize)
	}
	if !limit.Stop() {
		obj.Close()
		cancel()
		return nil, fmt.Errorf("object store: get %s: no answer within %v", key, m.timeout)
	}
	limit = time.AfterFunc(m.streamTimeout(info.Size), cancel)
	return &objectReader{r: io.LimitReader(obj, maxSize), obj: obj, cancel: func() { limit.Stop(); cancel() }}, nil
}

// objectReader is an open object; Close ends its transfer.
type objectReader struct {
	r      io.Reader
	obj    *minio.Object
	cancel context.CancelFunc
}

func (o *objectReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("object store: read: %w", Classify(err))
	}
	return n, err
}

func (o *objectReader) Close() error {
	err := o.obj.Close()
	o.cancel()
	return err
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
