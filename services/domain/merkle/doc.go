// Package merkle builds Merkle trees over SHA-256 for anchoring wearable
// batches on the ledger: the ingest service hashes each stored batch, builds
// one tree over all batch hashes of an anchoring period, anchors the root and
// the number of leaves in one ledger transaction, and later hands out an
// inclusion proof that shows one batch (and through it one reading) is in the
// anchored tree. Trees, hashes and audit paths are exactly those of RFC 9162
// (Certificate Transparency 2.0, section 2.1), so any independent CT verifier
// can check the proofs.
//
// It must never accept a proof that does not recompute exactly the anchored
// root for the anchored tree size; never let a leaf be confused with an inner
// node (leaves are hashed with prefix 0x00, inner nodes with 0x01, and an odd
// node is never duplicated, so no two different leaf lists share a root, as
// they did in CVE-2012-2459); and never read or write a proof encoding other
// than the one canonical form.
package merkle
