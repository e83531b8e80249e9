// Package recordstore is the records bucket as the records service lays it
// out: where each sealed version of a patient's record lives, and how a
// version is read back and checked against the hash the ledger notarized.
// The records service writes through it; the research service reads
// through it after deciding access itself.
//
// It checks no consent, and it must never return bytes that do not hash to
// the notarized hash: anything else is ErrTampered.
package recordstore
