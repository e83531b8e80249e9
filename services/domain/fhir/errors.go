package fhir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Every error from Validate wraps exactly one of these, for errors.Is.
var (
	// ErrInvalid: the input is not exactly one well-formed JSON object of the
	// expected shape (syntax, duplicate member names, trailing data, invalid
	// UTF-8, numbers out of range, malformed id or reference), or not a valid
	// R4 resource of its type.
	ErrInvalid = errors.New("invalid resource")
	// ErrTooLarge: the input is larger than MaxResourceBytes.
	ErrTooLarge = errors.New("resource too large")
	// ErrWrongPatient: the resource does not name the patient it is filed
	// for, or names another one.
	ErrWrongPatient = errors.New("resource does not belong to the patient")
	// ErrUnknownType: resourceType is not one of the clinical resource types
	// the exchange accepts.
	ErrUnknownType = errors.New("unknown resource type")
)

// failf wraps kind with the JSON path at fault and the rule broken.
func failf(kind error, path, format string, args ...any) error {
	return fmt.Errorf("fhir: %w: %s: %s", kind, path, fmt.Sprintf(format, args...))
}

// pathSeg is one step of a JSON path: a member name, or an array index when
// name is not set.
type pathSeg struct {
	name  string
	index int
	isKey bool
}

func key(name string) pathSeg { return pathSeg{name: name, isKey: true} }
func index(i int) pathSeg     { return pathSeg{index: i} }

// jsonPath renders segs as a JSONPath expression: $.subject.reference,
// $.category[0].coding[1], $["odd name"].
func jsonPath(segs ...pathSeg) string {
	var b strings.Builder
	b.WriteByte('$')
	for _, s := range segs {
		switch {
		case !s.isKey:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case plainName(s.name):
			b.WriteByte('.')
			b.WriteString(s.name)
		default:
			b.WriteByte('[')
			b.WriteString(strconv.Quote(s.name))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// plainName reports whether name can follow a dot in a path unquoted.
func plainName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
