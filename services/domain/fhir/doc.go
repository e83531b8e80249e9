// Package fhir is the gate a FHIR R4 JSON resource passes before the
// exchange encrypts it and notarizes its hash on the ledger: Validate checks
// that the bytes are one well-formed R4 resource of a known clinical type
// (the structure checked by the R4 parser of github.com/google/fhir/go:
// elements, types, cardinalities, required elements, primitive formats)
// that belongs to the patient it is filed for and names its record
// category; Digest is the SHA-256 of the bytes exactly as filed. The
// package also speaks the FHIR REST API's JSON: search parameters, Bundles,
// OperationOutcomes and the server-managed id and meta of a resource.
//
// It must never accept a resource for a patient other than the one named:
// a missing, indirect or differently spelled patient reference is rejected,
// never guessed at. It must never change what was filed: decimals keep their
// precision as written (6.10 is not 6.1), and the digest is of the filed
// bytes. Input whose meaning is ambiguous (duplicate member names, invalid
// UTF-8, unpaired surrogate escapes, trailing data) is rejected, not
// repaired, so that every reader of the filed bytes sees one resource. Its
// errors name the JSON or FHIR path and the rule broken, never the
// resource's values, which are health information.
package fhir
