// Package fhir is the gate a FHIR R4 JSON resource passes before the
// exchange encrypts it and notarizes its hash on the ledger: Validate checks
// that the bytes are one well-formed resource of a known clinical type that
// belongs to the patient it is filed for and names its record category, and
// Canonicalize and Hash produce its RFC 8785 (JCS) canonical form and the
// SHA-256 of that form.
//
// It must never accept a resource for a patient other than the one named:
// a missing, indirect or differently spelled patient reference is rejected,
// never guessed at. It must never hash two different canonical forms for the
// same resource: input is rejected, not repaired, when its meaning is
// ambiguous (duplicate member names, invalid UTF-8, unpaired surrogate
// escapes, trailing data), and Validate also rejects numbers whose canonical
// form would change their value. Its errors name the JSON path and the rule
// broken, never the resource's values, which are health information.
package fhir
