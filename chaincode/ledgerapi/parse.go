package ledgerapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Parse decodes data as exactly one JSON value of type T and validates it. It
// refuses oversized input, unknown fields and trailing data, so what the
// chaincode acts on is exactly what was signed or sent.
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
