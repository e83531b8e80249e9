package records

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// newRecordID returns a new random record id ("rec-" and 24 hex digits).
func newRecordID() string {
	var b [12]byte
	rand.Read(b[:])
	return "rec-" + hex.EncodeToString(b[:])
}

// recordIDFor is the id of the record a put under an idempotency entry
// creates: derived from the entry (the patient, the caller and their key),
// so that every attempt of one put names the same record.
func recordIDFor(entryKey string) string {
	sum := sha256.Sum256([]byte("healthexchange/records/put/v1\x00" + entryKey))
	return "rec-" + hex.EncodeToString(sum[:12])
}

// newEventID returns a new random access-event id.
func newEventID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
