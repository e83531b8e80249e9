package merkle

import "fmt"

// Proof is an RFC 9162 inclusion proof: the leaf at Index is in the tree of
// Size leaves whose root the Path recomputes. Path is the audit path of RFC
// 9162 section 2.1.3.1, from the leaf's sibling up to the root's child; a
// tree of one leaf has an empty path.
type Proof struct {
	Index int
	Size  int
	Path  []Hash
}

// Verify returns nil only if leaf is the leaf at p.Index of the tree whose
// anchored root and size are root and size: p.Size equals size, the path has
// exactly the length that index and size call for, and hashing leaf up the
// path (RFC 9162 section 2.1.3.2) gives exactly root. Any other outcome is an
// error wrapping ErrInvalidProof that says what is wrong.
//
// The size must come from the anchor, never from the proof: a root alone does
// not commit to its tree size. For example, the path that proves leaf 0 of a
// 5-leaf tree also hashes up to the same root when read as a proof for leaf 0
// of a 7-leaf tree, so a verifier trusting the proof's Size would believe in
// a 7-leaf tree that does not exist.
func (p Proof) Verify(leaf, root Hash, size int) error {
	if p.Size != size {
		return fmt.Errorf("%w: proof is for a tree of %d leaves, the anchored tree has %d", ErrInvalidProof, p.Size, size)
	}
	if err := p.checkShape(); err != nil {
		return err
	}
	got, err := p.recompute(leaf)
	if err != nil {
		return err
	}
	if got != root {
		return fmt.Errorf("%w: leaf %d of %d recomputes root %s, the anchored root is %s", ErrInvalidProof, p.Index, p.Size, got, root)
	}
	return nil
}

// checkShape checks everything about p that does not need a hash: size at
// least 1, index in range, path length as index and size call for.
func (p Proof) checkShape() error {
	if err := p.checkPosition(); err != nil {
		return err
	}
	if want := pathLen(p.Index, p.Size); len(p.Path) != want {
		return fmt.Errorf("%w: path of %d hashes, leaf %d of %d needs %d", ErrInvalidProof, len(p.Path), p.Index, p.Size, want)
	}
	return nil
}

// checkPosition checks that the tree has a leaf and Index is one of them.
func (p Proof) checkPosition() error {
	if p.Size < 1 {
		return fmt.Errorf("%w: tree size %d, a tree has at least one leaf", ErrInvalidProof, p.Size)
	}
	if p.Index < 0 || p.Index >= p.Size {
		return fmt.Errorf("%w: leaf index %d outside a tree of %d leaves", ErrInvalidProof, p.Index, p.Size)
	}
	return nil
}

// recompute is the root that leaf and p.Path hash up to, following RFC 9162
// section 2.1.3.2 step by step. checkShape has already been passed; the
// algorithm's own size checks stay as a second line.
func (p Proof) recompute(leaf Hash) (Hash, error) {
	fn, sn := p.Index, p.Size-1
	r := leaf
	for i := range p.Path {
		if sn == 0 {
			return Hash{}, fmt.Errorf("%w: path longer than the tree is high", ErrInvalidProof)
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(&p.Path[i], &r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(&r, &p.Path[i])
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return Hash{}, fmt.Errorf("%w: path shorter than the tree is high", ErrInvalidProof)
	}
	return r, nil
}

// pathLen is the number of hashes in the audit path of leaf index in a tree
// of size leaves: one per level at which the node on the way up has a
// sibling. The last node of a level with an odd count has none.
func pathLen(index, size int) int {
	n := 0
	for width := size; width > 1; width = width/2 + width%2 {
		if index^1 < width {
			n++
		}
		index >>= 1
	}
	return n
}
