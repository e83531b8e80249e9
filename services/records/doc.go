// Package records is the records service: it stores patients' FHIR R4
// records encrypted with the patient's data key (package vault) in object
// storage, notarizes the hash of every version on the ledger, and serves a
// record only to a caller the consent service allows, only after checking
// that the bytes it decrypted hash to the notarized hash.
//
// It must never serve a record it could not verify, never store plaintext,
// and never let a failed put look stored: a record exists once its hash is
// notarized, and nothing else is listed or served.
package records
