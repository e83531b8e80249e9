package merkle

import (
	"bytes"
	"fmt"
	"strconv"
)

// The text form of a proof, for storing it and sending it, is
//
//	<index>/<size>:<hash>,<hash>,...
//
// with index and size in decimal without sign or leading zeros, and the path
// hashes in order as 64 lower-case hex digits each, for example
// "0/1:" (the only leaf of a one-leaf tree) or "2/3:<hash>". There is exactly
// one text for each proof: nothing else is accepted, not even spaces or a
// trailing newline. In JSON a Proof is a string holding this text.

const encodedHashLen = 2*hashSize + 1 // hex digits and the separator

// MarshalText writes p in its text form. It refuses, wrapping
// ErrInvalidProof, a proof whose shape UnmarshalText would refuse (index not
// in the tree, path of the wrong length), so what is written can be read.
func (p Proof) MarshalText() ([]byte, error) {
	if err := p.checkShape(); err != nil {
		return nil, err
	}
	out := make([]byte, 0, 2*20+2+len(p.Path)*encodedHashLen)
	out = strconv.AppendInt(out, int64(p.Index), 10)
	out = append(out, '/')
	out = strconv.AppendInt(out, int64(p.Size), 10)
	out = append(out, ':')
	for i, h := range p.Path {
		if i > 0 {
			out = append(out, ',')
		}
		out, _ = h.AppendText(out)
	}
	return out, nil
}

// UnmarshalText reads the text form written by MarshalText and nothing else:
// it refuses, wrapping ErrInvalidProof, signs, leading zeros, numbers that do
// not fit an int, an index outside the tree, a path of the wrong length, hex
// that is not 64 lower-case digits, and anything after the last hash. On error
// p is left unchanged.
func (p *Proof) UnmarshalText(text []byte) error {
	head, path, ok := bytes.Cut(text, []byte{':'})
	if !ok {
		return fmt.Errorf("%w: no ':' after index/size", ErrInvalidProof)
	}
	indexText, sizeText, ok := bytes.Cut(head, []byte{'/'})
	if !ok {
		return fmt.Errorf("%w: no '/' between index and size", ErrInvalidProof)
	}
	index, err := parseCount("index", indexText)
	if err != nil {
		return err
	}
	size, err := parseCount("size", sizeText)
	if err != nil {
		return err
	}
	q := Proof{Index: index, Size: size}
	if err := q.checkPosition(); err != nil {
		return err
	}
	want := pathLen(index, size)
	if wantBytes := max(want*encodedHashLen-1, 0); len(path) != wantBytes {
		return fmt.Errorf("%w: path of %d bytes, leaf %d of %d needs %d hashes in %d bytes", ErrInvalidProof, len(path), index, size, want, wantBytes)
	}
	q.Path = make([]Hash, want)
	for i := range q.Path {
		at := i * encodedHashLen
		if i > 0 && path[at-1] != ',' {
			return fmt.Errorf("%w: %q instead of ',' after path hash %d", ErrInvalidProof, path[at-1], i-1)
		}
		if err := parseHash(&q.Path[i], path[at:at+2*hashSize]); err != nil {
			return fmt.Errorf("%w: path hash %d: %w", ErrInvalidProof, i, err)
		}
	}
	*p = q
	return nil
}

// maxCountDigits is the number of digits of the largest int64.
const maxCountDigits = 19

// parseCount reads a non-negative decimal int with no sign and no leading
// zeros, so that every number has one spelling.
func parseCount(what string, text []byte) (int, error) {
	if len(text) == 0 {
		return 0, fmt.Errorf("%w: empty %s", ErrInvalidProof, what)
	}
	if len(text) > maxCountDigits {
		return 0, fmt.Errorf("%w: %s of %d digits does not fit an int", ErrInvalidProof, what, len(text))
	}
	if len(text) > 1 && text[0] == '0' {
		return 0, fmt.Errorf("%w: %s %q has a leading zero", ErrInvalidProof, what, text)
	}
	for _, c := range text {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %s %q is not a decimal number", ErrInvalidProof, what, text)
		}
	}
	n, err := strconv.Atoi(string(text))
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q does not fit an int", ErrInvalidProof, what, text)
	}
	return n, nil
}
