// Package objectstoretest is an in-memory objectstore.Objects for the unit
// tests of the services, with failures on demand. It is never used outside
// tests.
package objectstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"healthexchange/services/platform/objectstore"
)

// ErrDown is what every call returns while the store is down.
var ErrDown = errors.New("dial tcp 127.0.0.1:27090: connection refused")

// Memory is objectstore.Objects in a map. Set Down to fail every call, or
// FailPut to fail the puts it returns true for.
type Memory struct {
	mu      sync.Mutex
	objects map[string][]byte
	down    bool
	failPut func(key string) bool
}

var _ objectstore.Objects = (*Memory)(nil)

// New returns an empty store.
func New() *Memory { return &Memory{objects: map[string][]byte{}} }

// SetDown makes every call fail (true) or work again (false).
func (m *Memory) SetDown(down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = down
}

// FailPuts makes the puts for which fail returns true fail; nil stops it.
func (m *Memory) FailPuts(fail func(key string) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failPut = fail
}

// Put implements objectstore.Objects.
func (m *Memory) Put(_ context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down || (m.failPut != nil && m.failPut(key)) {
		return ErrDown
	}
	m.objects[key] = bytes.Clone(data)
	return nil
}

// Get implements objectstore.Objects.
func (m *Memory) Get(_ context.Context, key string, maxSize int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, ErrDown
	}
	data, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, objectstore.ErrNotFound)
	}
	if int64(len(data)) > maxSize {
		return nil, fmt.Errorf("get %s: %w", key, objectstore.ErrTooLarge)
	}
	return bytes.Clone(data), nil
}

// PutStream stores the size bytes r yields, as objectstore.Bucket does
// (held in memory here); a short stream stores nothing.
func (m *Memory) PutStream(ctx context.Context, key string, r io.Reader, size int64) error {
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return m.Put(ctx, key, data)
}

// GetStream opens key for reading, as objectstore.Bucket does: a missing
// object is ErrNotFound and one larger than maxSize ErrTooLarge, before any
// byte is read.
func (m *Memory) GetStream(ctx context.Context, key string, maxSize int64) (io.ReadCloser, error) {
	data, err := m.Get(ctx, key, maxSize)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Delete implements objectstore.Objects.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return ErrDown
	}
	delete(m.objects, key)
	return nil
}

// List implements objectstore.Objects.
func (m *Memory) List(_ context.Context, prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, ErrDown
	}
	return m.keys(prefix), nil
}

func (m *Memory) keys(prefix string) []string {
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Keys lists every key under prefix, whether or not the store is down.
func (m *Memory) Keys(prefix string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys(prefix)
}

// Object returns a copy of an object, whether or not the store is down.
func (m *Memory) Object(key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.objects[key]
	return bytes.Clone(data), ok
}

// Set stores an object directly (to tamper with it), whether or not the
// store is down; nil deletes it.
func (m *Memory) Set(key string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if data == nil {
		delete(m.objects, key)
		return
	}
	m.objects[key] = bytes.Clone(data)
}
