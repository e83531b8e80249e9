package merkle

import "errors"

var (
	// ErrInvalidProof: the proof does not show that the leaf is in the
	// anchored tree: it is malformed, for another tree size or index, or does
	// not recompute the root. Every Verify and decoding failure wraps it.
	ErrInvalidProof = errors.New("invalid merkle proof")
	// ErrInvalidHash: the text is not a hash: 64 lower-case hex digits.
	ErrInvalidHash = errors.New("invalid hash")
	// ErrNoLeaves: a tree needs at least one leaf. An empty anchoring period
	// has nothing to anchor.
	ErrNoLeaves = errors.New("merkle tree needs at least one leaf")
	// ErrIndexOutOfRange: there is no leaf at that index in the tree.
	ErrIndexOutOfRange = errors.New("leaf index out of range")
)
