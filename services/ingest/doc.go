// Package ingest is the ingest service: it takes signed batches of readings
// from wearables whose keys their patients registered on the ledger, stores
// each batch encrypted with the patient's data key (package vault) in object
// storage, and anchors the Merkle root of all batches stored in an anchoring
// period with one ledger transaction, so any reading can later be proven
// untouched. It serves readings and proofs to callers the consent service
// allows (category vitals).
//
// It must never acknowledge a batch before it is durably stored, store a
// batch whose signature does not verify against the device's registered key,
// accept a sequence number it has seen with other content, or serve a
// reading that was rejected.
package ingest
