package fhir

import (
	"bytes"
	"encoding/json"
)

// ContentType is the media type of every FHIR response.
const ContentType = "application/fhir+json; charset=utf-8"

// Issue is one issue of an OperationOutcome.
type Issue struct {
	Severity    string `json:"severity"`
	Code        string `json:"code"`
	Diagnostics string `json:"diagnostics,omitempty"`
	// Details carries machine-readable reasons (a policy's reason codes).
	Details *Concept `json:"details,omitempty"`
}

// Concept is a CodeableConcept of codes and a text.
type Concept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Coding is one code of a system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// OperationOutcome is the R4 resource every error of the FHIR API is.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []Issue `json:"issue"`
}

// NewOutcome is an OperationOutcome of one error issue.
func NewOutcome(code, diagnostics string, details *Concept) OperationOutcome {
	return OperationOutcome{ResourceType: "OperationOutcome",
		Issue: []Issue{{Severity: "error", Code: code, Diagnostics: diagnostics, Details: details}}}
}

// Bundle is an R4 Bundle of a search or a history.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Total        *int          `json:"total,omitempty"`
	Link         []BundleLink  `json:"link,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// BundleLink is a link of a Bundle (self, next, previous).
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleEntry is one entry; Resource is the resource's JSON as served.
type BundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *EntrySearch    `json:"search,omitempty"`
	Request  *EntryRequest   `json:"request,omitempty"`
	Response *EntryResponse  `json:"response,omitempty"`
}

// EntrySearch says why an entry is in a searchset.
type EntrySearch struct {
	Mode string `json:"mode"`
}

// EntryRequest is the interaction that made a history entry's version.
type EntryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// EntryResponse is the outcome of that interaction.
type EntryResponse struct {
	Status       string `json:"status"`
	Etag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// Marshal encodes v as the FHIR API serves JSON: the resources inside a
// Bundle keep their elements and numbers as written (only whitespace
// between tokens goes), and no character is escaped that was not (an
// XHTML narrative's "<" stays "<").
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
