// Package vault encrypts patients' objects before they reach object storage
// (envelope encryption): each patient has one random AES-256 data key,
// stored only wrapped by a key-encryption key (KEK, a local key file or a
// KMS behind the KEK interface), and every object is sealed with AES-256-GCM
// under a header that names the key, bound to the patient and the object key
// it was sealed for. Erasing a patient deletes their data key and leaves a
// tombstone, so all their objects become unreadable for good
// (crypto-shredding) while the ledger stays immutable.
//
// It must never write plaintext anywhere (not to disk, not into an error or
// a log), and it must never return the plaintext of an object that fails
// authentication: a changed, truncated or moved object is ErrTampered, an
// erased patient's object is ErrErased, and neither is ever "best effort".
package vault
