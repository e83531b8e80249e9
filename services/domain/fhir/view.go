package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ServerMeta is what a FHIR server manages itself on a resource it serves:
// the logical id, the version and when that version was stored.
type ServerMeta struct {
	ID          string
	VersionID   int
	LastUpdated string // an R4 instant
}

// WithServerMeta returns the resource raw as the FHIR REST API serves it: id
// set to m.ID, meta.versionId and meta.lastUpdated set to m's, every other
// element (and every other member of meta) exactly as filed, byte for byte,
// in its filed order after resourceType, id and meta. raw must be a JSON
// object that Validate accepted.
func WithServerMeta(raw []byte, m ServerMeta) ([]byte, error) {
	members, err := topMembers(raw)
	if err != nil {
		return nil, err
	}
	var metaRaw json.RawMessage
	for _, mb := range members {
		if mb.name == "meta" {
			metaRaw = mb.value
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for _, mb := range members {
		if mb.name == "resourceType" {
			b.WriteString(`"resourceType":`)
			b.Write(mb.value)
		}
	}
	fmt.Fprintf(&b, `,"id":%s,"meta":{"versionId":%s,"lastUpdated":%s`,
		strconv.Quote(m.ID), strconv.Quote(strconv.Itoa(m.VersionID)), strconv.Quote(m.LastUpdated))
	if metaRaw != nil {
		inner, err := topMembers(metaRaw)
		if err != nil {
			return nil, fmt.Errorf("%w: meta: %w", ErrInvalid, err)
		}
		for _, mb := range inner {
			if mb.name != "versionId" && mb.name != "lastUpdated" {
				b.WriteByte(',')
				b.Write(mb.key)
				b.WriteByte(':')
				b.Write(mb.value)
			}
		}
	}
	b.WriteByte('}')
	for _, mb := range members {
		switch mb.name {
		case "resourceType", "id", "meta":
			continue
		}
		b.WriteByte(',')
		b.Write(mb.key)
		b.WriteByte(':')
		b.Write(mb.value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// rawMember is one member of an object: its name, its name as written (the
// quoted string, escapes kept) and its value as written.
type rawMember struct {
	name  string
	key   []byte
	value json.RawMessage
}

// topMembers splits a JSON object into its members, keeping each value's
// bytes as written.
func topMembers(raw []byte) ([]rawMember, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	var out []rawMember
	for dec.More() {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: expected a member name", ErrInvalid)
		}
		key := bytes.TrimRight(bytes.TrimLeft(raw[start:dec.InputOffset()], " \t\r\n,"), " \t\r\n:")
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		out = append(out, rawMember{name: name, key: key, value: v})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("%w: unterminated object", ErrInvalid)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	return out, nil
}

// PatientOf returns the id of the patient a resource of one of the accepted
// types names: the Patient's id, or the patient reference's id
// ("Patient/<id>" in subject or patient, as Validate requires). It does not
// validate; Validate does, against the id returned.
func PatientOf(raw []byte) (string, error) {
	var r struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Subject      *struct {
			Reference string `json:"reference"`
		} `json:"subject"`
		Patient *struct {
			Reference string `json:"reference"`
		} `json:"patient"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return "", failf(ErrInvalid, "$", "not a JSON object of a resource")
	}
	kind, ok := kinds[r.ResourceType]
	if !ok {
		return "", failf(ErrUnknownType, "$.resourceType", "not one of the R4 clinical resource types the exchange accepts")
	}
	var ref string
	switch kind.patientField {
	case "":
		return r.ID, nil
	case "subject":
		if r.Subject != nil {
			ref = r.Subject.Reference
		}
	case "patient":
		if r.Patient != nil {
			ref = r.Patient.Reference
		}
	}
	id, ok := strings.CutPrefix(ref, "Patient/")
	if !ok || !validID(id) {
		return "", failf(ErrWrongPatient, jsonPath(key(kind.patientField), key("reference")),
			"missing: the resource must name its patient as the reference Patient/<id>")
	}
	return id, nil
}

// Categories returns the record categories a resource of type typ can be
// in: what a search of that type has to look through.
func Categories(typ string) []string {
	kind, ok := kinds[typ]
	if !ok {
		return nil
	}
	if typ == "Observation" {
		return []string{"labs", "vitals"}
	}
	return []string{kind.category}
}

// ResourceTypeOf returns raw's resourceType, without validating raw.
func ResourceTypeOf(raw []byte) (string, error) {
	var r struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.ResourceType == "" {
		return "", failf(ErrInvalid, "$.resourceType", "missing, or not a JSON object")
	}
	return r.ResourceType, nil
}

// ResourceID returns raw's id, without validating raw.
func ResourceID(raw []byte) (string, error) {
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return "", failf(ErrInvalid, "$", "not a JSON object")
	}
	return r.ID, nil
}

// Types are the resource types the exchange files, sorted.
func Types() []string {
	out := make([]string, 0, len(kinds))
	for t := range kinds {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
