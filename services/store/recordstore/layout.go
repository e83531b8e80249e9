package recordstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Object layout in the records bucket, all under the patient's prefix so an
// erasure deletes everything of theirs with one listing:
//
//	<patientId>/<recordId>/v<version>-<sha256>   a sealed record version
//	<patientId>/.idempotency/<sha256 of author and key>   a put's plan
//
// A version's key names its hash, so two writers racing for the same version
// never overwrite each other's object, and cleaning up after a failed put
// removes only that put's object. Record ids start with a letter or digit
// (ledgerapi.ValidateID), so none is ".idempotency".

// VersionKey is the object key of a record version.
func VersionKey(patientID, recordID string, version int, sha256Hex string) string {
	return fmt.Sprintf("%s/%s/v%d-%s", patientID, recordID, version, sha256Hex)
}

// PatientPrefix is the prefix of every object of a patient.
func PatientPrefix(patientID string) string { return patientID + "/" }

const idempotencyFolder = ".idempotency"

// IdempotencyKey is the object key of an author's put under key.
func IdempotencyKey(patientID, author, key string) string {
	h := sha256.New()
	h.Write([]byte("healthexchange/records/idempotency/v1\x00" + author + "\x00" + key))
	return patientID + "/" + idempotencyFolder + "/" + hex.EncodeToString(h.Sum(nil))
}

// IsIdempotencyKey reports whether an object key is an idempotency entry.
func IsIdempotencyKey(key string) bool {
	return strings.Contains(key, "/"+idempotencyFolder+"/")
}
