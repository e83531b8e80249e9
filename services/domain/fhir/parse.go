package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxResourceBytes is the largest resource, in bytes of JSON, that Validate
// accepts.
const MaxResourceBytes = 1 << 20

// maxDepth bounds the nesting of arrays and objects. FHIR resources nest a
// few levels deep (contained resources, nested extensions); the bound keeps
// a hostile input from driving the recursion of the parser and encoder.
const maxDepth = 100

// The parsed form of a JSON text: nil, bool, string, number, []any or object.
type (
	// object holds an object's members in input order; names are unique.
	object []member
	member struct {
		name  string
		value any
	}
	// number is a number's literal, as written.
	number string
)

// get returns the value of the member called name.
func (o object) get(name string) (any, bool) {
	for _, m := range o {
		if m.name == name {
			return m.value, true
		}
	}
	return nil, false
}

// parser reads one JSON text token by token, keeping the path of the value
// it is in so that every error can name it.
type parser struct {
	raw  []byte
	dec  *json.Decoder
	path []pathSeg
}

// parse reads raw as exactly one JSON value. It rejects what JSON parsers
// disagree on or silently repair, since either would let two readers of the
// same filed bytes see two different resources: invalid UTF-8, unpaired
// surrogate escapes, duplicate member names, numbers beyond the range of an
// IEEE 754 double, and anything after the value.
func parse(raw []byte) (any, error) {
	if len(raw) > MaxResourceBytes {
		return nil, failf(ErrTooLarge, "$", "%d bytes, the limit is %d", len(raw), MaxResourceBytes)
	}
	if !utf8.Valid(raw) {
		return nil, failf(ErrInvalid, "$", "not valid UTF-8 (at byte %d)", invalidUTF8At(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	p := &parser{raw: raw, dec: dec}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, failf(ErrInvalid, "$", "trailing data after the JSON value (at byte %d)", dec.InputOffset())
	}
	return v, nil
}

// token reads the next token and, for a string, checks its escapes.
func (p *parser) token() (json.Token, error) {
	start := p.dec.InputOffset()
	tok, err := p.dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, p.fail("unexpected end of input")
	}
	if err != nil {
		return nil, p.fail("%v (at byte %d)", err, p.dec.InputOffset())
	}
	// The decoder turns an unpaired surrogate escape into U+FFFD, so "\ud800"
	// would mean the same as "\ufffd": look at the literal itself.
	if s, ok := tok.(string); ok && strings.ContainsRune(s, utf8.RuneError) &&
		unpairedSurrogate(p.raw[start:p.dec.InputOffset()]) {
		return nil, p.fail("string has an unpaired UTF-16 surrogate escape")
	}
	return tok, nil
}

func (p *parser) fail(format string, args ...any) error {
	return failf(ErrInvalid, jsonPath(p.path...), format, args...)
}

// value reads the next value; depth is the number of arrays and objects
// around it.
func (p *parser) value(depth int) (any, error) {
	tok, err := p.token()
	if err != nil {
		return nil, err
	}
	return p.valueFrom(tok, depth)
}

// valueFrom reads the value that starts with tok.
func (p *parser) valueFrom(tok json.Token, depth int) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, p.fail("nested deeper than %d arrays and objects", maxDepth)
		}
		if t == '{' {
			return p.object(depth + 1)
		}
		if t == '[' {
			return p.array(depth + 1)
		}
		return nil, p.fail("unexpected %q", rune(t)) // unreachable: the decoder rejects a misplaced delimiter
	case json.Number:
		return p.number(string(t))
	case string, bool, nil:
		return t, nil
	default:
		return nil, p.fail("unexpected token %T", t)
	}
}

func (p *parser) object(depth int) (object, error) {
	obj := object{}
	seen := map[string]bool{}
	for {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			return obj, nil
		}
		name, ok := tok.(string)
		if !ok {
			return nil, p.fail("expected a member name") // unreachable: the decoder rejects it first
		}
		p.path = append(p.path, key(name))
		if seen[name] {
			return nil, p.fail("duplicate member name")
		}
		seen[name] = true
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		obj = append(obj, member{name: name, value: v})
	}
}

func (p *parser) array(depth int) ([]any, error) {
	arr := []any{}
	for i := 0; ; i++ {
		p.path = append(p.path, index(i))
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim(']') {
			p.path = p.path[:len(p.path)-1]
			return arr, nil
		}
		v, err := p.valueFrom(tok, depth)
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		arr = append(arr, v)
	}
}

func (p *parser) number(literal string) (number, error) {
	f, err := strconv.ParseFloat(literal, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", p.fail("number is beyond the range of an IEEE 754 double")
	}
	return number(literal), nil
}

// unpairedSurrogate reports whether the JSON string literal in seg (after
// any whitespace, comma or colon before it) has a \u escape for a UTF-16
// surrogate that is not half of a high-low pair.
func unpairedSurrogate(seg []byte) bool {
	i := bytes.IndexByte(seg, '"')
	if i < 0 {
		return false
	}
	high := false // the previous character was a high surrogate escape
	for i++; i < len(seg); i++ {
		if seg[i] != '\\' || i+1 >= len(seg) {
			if high {
				return true
			}
			continue
		}
		i++
		if seg[i] != 'u' || i+4 >= len(seg) {
			if high {
				return true
			}
			continue
		}
		r, err := strconv.ParseUint(string(seg[i+1:i+5]), 16, 16)
		i += 4
		switch {
		case err != nil:
			return true
		case 0xD800 <= r && r < 0xDC00:
			if high {
				return true
			}
			high = true
		case 0xDC00 <= r && r < 0xE000:
			if !high {
				return true
			}
			high = false
		case high:
			return true
		}
	}
	return high
}

// invalidUTF8At returns the offset of the first byte of raw that is not
// part of valid UTF-8.
func invalidUTF8At(raw []byte) int {
	for i := 0; i < len(raw); {
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(raw)
}
