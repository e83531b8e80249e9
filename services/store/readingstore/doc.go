// Package readingstore is the wearables bucket as the ingest service lays
// it out: where each signed batch of readings lives (sealed under the
// patient's key, filed by patient and hour) beside its anchor proof, and how
// batches are read back. The ingest service writes and reads through it; the
// research service reads through it after deciding access itself.
//
// It checks no consent and no signature: it hands back what was stored, or
// ErrTampered when that does not open or decode.
package readingstore
