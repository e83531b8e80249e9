package ledgerapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Size limits of the documents Parse accepts.
const (
	// MaxPayloadBytes bounds a patient-signed payload.
	MaxPayloadBytes = 64 << 10
	// MaxBatchBytes bounds an access-event batch and a dataset release, which
	// carry up to MaxEvents events or MaxReleaseConsents consent ids.
	MaxBatchBytes = 2 << 20
)

// Input is a document the chaincode accepts as an argument, reached through a
// pointer so Parse can decode into it.
type Input[T any] interface {
	*T
	Validate() error
}

// Parse decodes data as exactly one JSON value of type T and validates it.
// One byte string has one meaning: Parse refuses oversized input, invalid
// UTF-8, keys that are not T's field names exactly (encoding/json would take
// "OP" for "op"), a key given twice (encoding/json would keep the last),
// unknown fields and trailing data, so what the chaincode acts on is exactly
// what was signed or sent, and what a person was shown of it.
func Parse[T any, P Input[T]](data []byte) (T, error) {
	var v, zero T
	limit := MaxPayloadBytes
	switch any(v).(type) {
	case AccessEvents, DatasetReleaseRequest:
		limit = MaxBatchBytes
	}
	if len(data) > limit {
		return zero, fmt.Errorf("%w: document is %d bytes, at most %d allowed", ErrInvalid, len(data), limit)
	}
	if !utf8.Valid(data) {
		return zero, fmt.Errorf("%w: document is not valid UTF-8", ErrInvalid)
	}
	if err := checkKeys(data, reflect.TypeOf(v)); err != nil {
		return zero, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return zero, fmt.Errorf("%w: malformed JSON: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return zero, fmt.Errorf("%w: unexpected data after the JSON document", ErrInvalid)
	}
	if err := P(&v).Validate(); err != nil {
		return zero, err
	}
	return v, nil
}

// checkKeys walks the JSON document beside the Go type it decodes into and
// refuses every object key that is not exactly a field's JSON name, and
// every key given twice. Malformed JSON is left for the decoder to report.
func checkKeys(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	err := walk(dec, t, "")
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// walk reads one JSON value from dec, checking the keys of its objects
// against t; path names the value in errors.
func walk(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, isDelim := tok.(json.Delim)
	if !isDelim {
		return nil // a scalar, or null
	}
	switch delim {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		seen := map[string]bool{}
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := keyTok.(string)
			name := key
			if path != "" {
				name = path + "." + key
			}
			if seen[key] {
				return fmt.Errorf("key %q is given twice", name)
			}
			seen[key] = true
			var ft reflect.Type
			if fields != nil {
				var ok bool
				if ft, ok = fields[key]; !ok {
					return fmt.Errorf("unknown key %q%s", name, caseHint(key, fields))
				}
			} else if t != nil && t.Kind() == reflect.Map {
				ft = t.Elem()
			}
			if err := walk(dec, ft, name); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// caseHint says which field a key differs from only in case.
func caseHint(key string, fields map[string]reflect.Type) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fmt.Sprintf(" (field names are exact: %q)", name)
		}
	}
	return ""
}

// jsonFields are a struct's fields by their JSON names, those of embedded
// structs promoted as encoding/json promotes them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" && tag == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, shadowed := out[k]; !shadowed {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
