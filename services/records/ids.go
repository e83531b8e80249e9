package records

import (
	"crypto/rand"
	"encoding/hex"
)

// newRecordID returns a new random record id ("rec-" and 24 hex digits).
func newRecordID() string {
	var b [12]byte
	rand.Read(b[:])
	return "rec-" + hex.EncodeToString(b[:])
}

// newEventID returns a new random access-event id.
func newEventID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
