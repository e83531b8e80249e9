package shc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of objects and arrays a header, payload
// or key set may have. An SHC payload's FHIR Bundle is far shallower.
const maxDepth = 32

// b64 is the base64url encoding without padding of JWS (RFC 7515), strict
// about the unused bits of the last character.
var b64 = base64.RawURLEncoding.Strict()

// decodeB64 decodes s, which must be canonical base64url without padding.
// encoding/base64 skips CR and LF; a card may not contain them.
func decodeB64(s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if !isB64(s[i]) {
			return nil, false
		}
	}
	b, err := b64.DecodeString(s)
	return b, err == nil
}

func isB64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// checkObject reports whether data is exactly one JSON object, in valid
// UTF-8, nested at most maxDepth deep, with no object holding the same
// member name twice. encoding/json would silently keep the last of two
// duplicates and replace invalid UTF-8, so two readers of the same bytes
// could see different cards. The error names the rule broken, never a
// value.
func checkObject(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("not valid UTF-8")
	}
	type frame struct {
		names    map[string]struct{} // nil for an array
		wantName bool
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []frame
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errors.New("not valid JSON")
		}
		if n := len(stack); n > 0 && stack[n-1].names != nil && stack[n-1].wantName {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
			} else {
				name, _ := tok.(string)
				if _, dup := stack[n-1].names[name]; dup {
					return errors.New("an object has a duplicate member name")
				}
				stack[n-1].names[name] = struct{}{}
				stack[n-1].wantName = false
				continue
			}
		} else {
			if len(stack) == 0 {
				if values++; values > 1 {
					return errors.New("trailing data after the JSON object")
				}
				if tok != json.Delim('{') {
					return errors.New("not a JSON object")
				}
			}
			switch tok {
			case json.Delim('{'), json.Delim('['):
				if len(stack) == maxDepth {
					return errors.New("nested too deep")
				}
				f := frame{}
				if tok == json.Delim('{') {
					f = frame{names: map[string]struct{}{}, wantName: true}
				}
				stack = append(stack, f)
				continue
			case json.Delim(']'):
				stack = stack[:len(stack)-1]
			}
		}
		// A value is complete: its object, if any, wants a name next.
		if n := len(stack); n > 0 && stack[n-1].names != nil {
			stack[n-1].wantName = true
		}
	}
	if values == 0 || len(stack) != 0 {
		return errors.New("not valid JSON")
	}
	return nil
}

// object is one JSON object's members by their exact name. It is decoded
// only after checkObject, so no name is duplicated; looking members up by
// exact name avoids encoding/json's case-insensitive matching of struct
// fields ("ISS" is not "iss").
type object map[string]json.RawMessage

func parseObject(data []byte) (object, bool) {
	var o object
	if len(data) == 0 || data[0] != '{' || json.Unmarshal(data, &o) != nil {
		return nil, false
	}
	return o, true
}

// str is the string member name of o: present reports whether it is
// there at all, ok whether it is there and a JSON string.
func (o object) str(name string) (s string, present, ok bool) {
	raw, present := o[name]
	if !present {
		return "", false, false
	}
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", true, false
	}
	return s, true, true
}

// obj is the object member name of o.
func (o object) obj(name string) (object, bool) {
	return parseObject(o[name])
}
