package merkle

import "fmt"

// Tree is a Merkle tree built once over a list of leaf hashes. It keeps every
// level, about 2n hashes for n leaves, so that a proof is O(log n) look-ups.
// A Tree is immutable: any number of goroutines may call its methods at once.
type Tree struct {
	// levels[0] are the leaves, levels[len-1] is the root alone. Node j of
	// level l+1 is the hash of nodes 2j and 2j+1 of level l; when a level
	// has an odd number of nodes the last one moves up unchanged. That is
	// the RFC 9162 tree: its split at the largest power of two smaller than
	// n puts exactly these nodes together, and leaves no node to duplicate.
	levels [][]Hash
}

// New builds the tree over leaves (leaf hashes, from LeafHash) in O(n) time.
// It copies leaves, so the caller may reuse the slice.
func New(leaves []Hash) (*Tree, error) {
	if len(leaves) == 0 {
		return nil, ErrNoLeaves
	}
	level := make([]Hash, len(leaves))
	copy(level, leaves)
	levels := [][]Hash{level}
	for len(level) > 1 {
		next := make([]Hash, (len(level)+1)/2)
		reduce(next, level)
		levels = append(levels, next)
		level = next
	}
	return &Tree{levels: levels}, nil
}

// Root is the RFC 9162 Merkle tree hash of leaves, computed without keeping
// the tree: for anchoring when no proofs are wanted.
func Root(leaves []Hash) (Hash, error) {
	if len(leaves) == 0 {
		return Hash{}, ErrNoLeaves
	}
	level := make([]Hash, len(leaves))
	copy(level, leaves)
	for len(level) > 1 {
		next := level[:(len(level)+1)/2]
		reduce(next, level)
		level = next
	}
	return level[0], nil
}

// reduce writes the level above level into next (len (len(level)+1)/2). next
// may share level's start: node j is written after nodes 2j and 2j+1 are read.
func reduce(next, level []Hash) {
	for j := range len(level) / 2 {
		next[j] = nodeHash(&level[2*j], &level[2*j+1])
	}
	if len(level)%2 == 1 {
		next[len(next)-1] = level[len(level)-1]
	}
}

// Root is the tree's root hash, to anchor on the ledger together with Len.
func (t *Tree) Root() Hash {
	return t.levels[len(t.levels)-1][0]
}

// Len is the number of leaves, the tree size that is anchored with the root
// and that Verify must be given.
func (t *Tree) Len() int {
	return len(t.levels[0])
}

// Proof is the inclusion proof of the leaf at index: its RFC 9162 audit path,
// from the leaf's sibling up to the root's child.
func (t *Tree) Proof(index int) (Proof, error) {
	if index < 0 || index >= t.Len() {
		return Proof{}, fmt.Errorf("%w: %d in a tree of %d leaves", ErrIndexOutOfRange, index, t.Len())
	}
	path := make([]Hash, 0, len(t.levels)-1)
	i := index
	for _, level := range t.levels[:len(t.levels)-1] {
		if sibling := i ^ 1; sibling < len(level) {
			path = append(path, level[sibling])
		}
		i >>= 1
	}
	return Proof{Index: index, Size: t.Len(), Path: path}, nil
}
