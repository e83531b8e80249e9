package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"

	"healthexchange/services/platform/failover"
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

// Bucket is Objects in one bucket of a MinIO server (or any S3-compatible
// store). Every call is bounded by a timeout, so a store that stops
// answering fails the call instead of holding it. With several endpoints of
// the same store, a call that cannot reach one (the connection refused or
// unroutable, the name unknown) is made at the next, and the one that
// answered is tried first from then on; a call that reached a store and
// failed there is not repeated elsewhere.
type Bucket struct {
	clients   []*minio.Client
	preferred atomic.Int32
	bucket    string
	timeout   time.Duration
}

var _ Objects = (*Bucket)(nil)

// NewBucket returns the bucket named bucket (which must exist) of client,
// each call bounded by timeout.
func NewBucket(client *minio.Client, bucket string, timeout time.Duration) *Bucket {
	return &Bucket{clients: []*minio.Client{client}, bucket: bucket, timeout: timeout}
}

// client is the endpoint tried first.
func (m *Bucket) client() *minio.Client { return m.clients[m.preferred.Load()] }

// attempt runs op against the preferred endpoint, then, while the
// endpoint could not be reached and the call has time left, against the
// next ones in turn. op must be safe to repeat (every Put of this package
// stores the same bytes under the same key).
func (m *Bucket) attempt(call context.Context, op func(*minio.Client) error) error {
	first := int(m.preferred.Load())
	var err error
	for i := range m.clients {
		n := (first + i) % len(m.clients)
		if err = op(m.clients[n]); err == nil {
			m.preferred.Store(int32(n))
			return nil
		}
		if !failover.NotConnected(err) || call.Err() != nil {
			return err
		}
	}
	return err
}

func (m *Bucket) Put(ctx context.Context, key string, data []byte) error {
	call, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	err := m.attempt(call, func(c *minio.Client) error {
		_, err := c.PutObject(call, m.bucket, key, bytes.NewReader(data), int64(len(data)),
			minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
		return err
	})
	if err != nil {
		return m.fail(ctx, call, "put "+key, err)
	}
	return nil
}

func (m *Bucket) Get(ctx context.Context, key string, maxSize int64) ([]byte, error) {
	call, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	var data []byte
	err := m.attempt(call, func(c *minio.Client) error {
		obj, err := c.GetObject(call, m.bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer obj.Close()
		data, err = io.ReadAll(io.LimitReader(obj, maxSize+1))
		return err
	})
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
// they go to the store in parts as they are read. When the endpoint asked
// cannot be reached the upload is made at the next one, if r can give its
// bytes again: nothing of it was read yet, or it can seek back to its start
// (a file, a buffer). Otherwise the upload fails where it began.
func (m *Bucket) PutStream(ctx context.Context, key string, r io.Reader, size int64) error {
	call, cancel := context.WithTimeout(ctx, m.streamTimeout(size))
	defer cancel()
	body := &countingReader{r: r}
	start := int64(-1)
	if s, ok := r.(io.Seeker); ok {
		if at, err := s.Seek(0, io.SeekCurrent); err == nil {
			start = at
		}
	}
	var last error
	err := m.attempt(call, func(c *minio.Client) error {
		if body.n > 0 {
			// The endpoint before could not be reached, but the upload's
			// bytes were read: only a reader that seeks back can go on.
			if start < 0 {
				return last
			}
			if _, err := r.(io.Seeker).Seek(start, io.SeekStart); err != nil {
				return last
			}
			body.n = 0
		}
		_, last = c.PutObject(call, m.bucket, key, body, size,
			minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: 16 << 20})
		return last
	})
	if err != nil {
		return m.fail(ctx, call, "put "+key, err)
	}
	return nil
}

// countingReader counts what was read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
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
	var obj *minio.Object
	var info minio.ObjectInfo
	err := m.attempt(call, func(c *minio.Client) error {
		o, err := c.GetObject(call, m.bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		if info, err = o.Stat(); err != nil {
			o.Close()
			return err
		}
		obj = o
		return nil
	})
	if err != nil {
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
	if err := m.attempt(call, func(c *minio.Client) error {
		return c.RemoveObject(call, m.bucket, key, minio.RemoveObjectOptions{})
	}); err != nil {
		return m.fail(ctx, call, "delete "+key, err)
	}
	return nil
}

func (m *Bucket) List(ctx context.Context, prefix string) ([]string, error) {
	call, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	var keys []string
	err := m.attempt(call, func(c *minio.Client) error {
		keys = keys[:0]
		for info := range c.ListObjects(call, m.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if info.Err != nil {
				return info.Err
			}
			keys = append(keys, info.Key)
		}
		return nil
	})
	if err != nil {
		return nil, m.fail(ctx, call, "list "+prefix, err)
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
	clients, err := newClients(cfg)
	if err != nil {
		return nil, err
	}
	m := &Bucket{clients: clients, bucket: name, timeout: timeout}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := m.attempt(ctx, func(c *minio.Client) error { return EnsureBucket(ctx, c, name) }); err != nil {
		return nil, fmt.Errorf("%w (is MinIO up? make minio-up)", err)
	}
	return m, nil
}

// PresignGet returns a URL that fetches key without credentials until expiry
// (at most 7 days). Anyone holding the URL can fetch the object: hand it only
// to a caller allowed to read it, and keep expiry short.
func (m *Bucket) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	u, err := m.client().PresignedGetObject(ctx, m.bucket, key, expiry, nil)
	if err != nil {
		return "", m.fail(ctx, ctx, "presign "+key, err)
	}
	return u.String(), nil
}
