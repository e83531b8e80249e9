package research

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

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
