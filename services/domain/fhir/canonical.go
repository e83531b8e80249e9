package fhir

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"unicode/utf16"
)

// Canonicalize returns the RFC 8785 JSON Canonicalization Scheme form of
// the JSON text raw: no insignificant whitespace, object members sorted by
// the UTF-16 code units of their names, strings with only the escapes JCS
// prescribes, numbers as ECMAScript writes IEEE 754 doubles. Inputs that
// mean the same JSON value have the same canonical form.
//
// It takes any JSON value, but rejects with ErrInvalid what RFC 8785 leaves
// undefined (duplicate member names, invalid UTF-8, unpaired surrogate
// escapes, numbers beyond the double range, anything after the value), and
// with ErrTooLarge input over MaxResourceBytes. It rounds numbers to doubles
// as RFC 8785 does; Validate is what refuses a resource whose numbers that
// would change.
func Canonicalize(raw []byte) ([]byte, error) {
	v, err := parse(raw, false)
	if err != nil {
		return nil, err
	}
	return appendCanonical(make([]byte, 0, len(raw)), v), nil
}

// Hash returns the canonical form of raw, as Canonicalize, and the SHA-256
// of it in lower-case hex: the digest the exchange notarizes. Call Validate
// first; Hash checks JSON, not FHIR.
func Hash(raw []byte) (canonical []byte, sha256hex string, err error) {
	canonical, err = Canonicalize(raw)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(canonical)
	return canonical, hex.EncodeToString(sum[:]), nil
}

func appendCanonical(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case string:
		return appendString(b, v)
	case number:
		return append(b, v.canonical...)
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, e)
		}
		return append(b, ']')
	case object:
		type sortable struct {
			units []uint16
			m     member
		}
		members := make([]sortable, len(v))
		for i, m := range v {
			members[i] = sortable{utf16.Encode([]rune(m.name)), m}
		}
		// Names are unique, so the order is total.
		slices.SortFunc(members, func(x, y sortable) int { return slices.Compare(x.units, y.units) })
		b = append(b, '{')
		for i, s := range members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s.m.name)
			b = append(b, ':')
			b = appendCanonical(b, s.m.value)
		}
		return append(b, '}')
	}
	panic("fhir: unexpected parsed value") // unreachable: parse builds only the types above
}

// appendString writes s as JSON.stringify does (RFC 8785 §3.2.2.2): the
// two-character escapes for \b \t \n \f \r " and \, \u00xx in lower-case hex
// for the other control characters, and every other character as itself.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		// Bytes of multi-byte characters are all >= 0x80 and copied as they
		// are; the decoder has already made the string valid UTF-8.
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}
