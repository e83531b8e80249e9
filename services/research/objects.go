package research

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// streamStore is the datasets bucket as the service uses it: a Store that
// also takes and gives objects as streams, because a dataset's files can be
// larger than memory.
type streamStore interface {
	Store
	// PutStream stores the size bytes r yields under key.
	PutStream(ctx context.Context, key string, r io.Reader, size int64) error
	// GetStream opens key for reading; a missing object is
	// objectstore.ErrNotFound, and reading past maxSize bytes fails with
	// objectstore.ErrTooLarge.
	GetStream(ctx context.Context, key string, maxSize int64) (io.ReadCloser, error)
}

// streams returns s itself when it streams, else s with each object held
// whole while it is put or read: correct, but a dataset's file then costs
// its size in memory (a test double may be in that case; *objectstore.Bucket
// streams).
func streams(s Store) streamStore {
	if ss, ok := s.(streamStore); ok {
		return ss
	}
	return wholeObjects{s}
}

// wholeObjects streams through a Store that cannot, one object held whole.
type wholeObjects struct{ Store }

func (w wholeObjects) PutStream(ctx context.Context, key string, r io.Reader, size int64) error {
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return err
	}
	return w.Put(ctx, key, data)
}

func (w wholeObjects) GetStream(ctx context.Context, key string, maxSize int64) (io.ReadCloser, error) {
	data, err := w.Get(ctx, key, maxSize)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// errAltered: a stored file does not hash to what was recorded.
var errAltered = errors.New("does not match its recorded hash")

// verifiedReader reads a stored file and ends in an error wrapping
// errAltered instead of io.EOF when the file does not hash to want. It holds
// back the last hold bytes until it knows, so a reader never gets a whole
// altered file, nor the end of one.
type verifiedReader struct {
	src     io.ReadCloser
	h       hash.Hash
	want    string
	hold    int
	buf     []byte // read ahead: hashed, not yet handed out
	start   int
	end     int
	eof     bool
	altered error // once eof: the file is not the one recorded
	what    string
}

func newVerifiedReader(src io.ReadCloser, want string, hold int, what string) *verifiedReader {
	return &verifiedReader{src: src, h: sha256.New(), want: want, hold: hold, buf: make([]byte, 2*hold), what: what}
}

func (v *verifiedReader) Read(p []byte) (int, error) {
	for !v.eof && v.end-v.start <= v.hold {
		if v.end == len(v.buf) { // make room: move what is held to the front
			v.end = copy(v.buf, v.buf[v.start:v.end])
			v.start = 0
		}
		n, err := v.src.Read(v.buf[v.end:])
		v.h.Write(v.buf[v.end : v.end+n])
		v.end += n
		switch {
		case errors.Is(err, io.EOF):
			v.eof = true
			if hex.EncodeToString(v.h.Sum(nil)) != v.want {
				v.altered = fmt.Errorf("%w: %s %w", ErrUnavailable, v.what, errAltered)
			}
		case err != nil:
			return 0, err
		}
	}
	avail := v.end - v.start
	switch {
	case !v.eof:
		avail -= v.hold
	case v.altered != nil:
		return 0, v.altered
	case avail == 0:
		return 0, io.EOF
	}
	n := copy(p, v.buf[v.start:v.start+avail])
	v.start += n
	return n, nil
}

func (v *verifiedReader) Close() error { return v.src.Close() }
