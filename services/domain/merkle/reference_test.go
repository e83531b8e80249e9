package merkle_test

import (
	"crypto/sha256"
	"math/bits"
	"slices"
	"strconv"

	"healthexchange/services/domain/merkle"
)

// An independent, deliberately naive RFC 9162 implementation, written from
// the RFC's recursive definitions (section 2.1.1 MTH, 2.1.3.1 PATH) and not
// from the package code, to check the package against.

func refLeafHash(data []byte) [32]byte {
	return sha256.Sum256(append([]byte{0x00}, data...))
}

func refNodeHash(left, right [32]byte) [32]byte {
	b := append([]byte{0x01}, left[:]...)
	return sha256.Sum256(append(b, right[:]...))
}

// refSplit is the largest power of two smaller than n (n > 1).
func refSplit(n int) int {
	k := 1
	for 2*k < n {
		k *= 2
	}
	return k
}

// refMTH is MTH(D[n]) over leaf hashes.
func refMTH(d [][32]byte) [32]byte {
	if len(d) == 1 {
		return d[0]
	}
	k := refSplit(len(d))
	return refNodeHash(refMTH(d[:k]), refMTH(d[k:]))
}

// refPath is PATH(m, D[n]).
func refPath(m int, d [][32]byte) [][32]byte {
	if len(d) == 1 {
		return nil
	}
	k := refSplit(len(d))
	if m < k {
		return append(refPath(m, d[:k]), refMTH(d[k:]))
	}
	return append(refPath(m-k, d[k:]), refMTH(d[:k]))
}

// refVerify recomputes the root by walking PATH's definition backwards: the
// last path element is the sibling of the subtree that holds leaf m.
func refVerify(m, n int, leaf [32]byte, path [][32]byte, root [32]byte) bool {
	got, ok := refRootFromPath(m, n, leaf, path)
	return ok && got == root
}

func refRootFromPath(m, n int, leaf [32]byte, path [][32]byte) ([32]byte, bool) {
	if n < 1 || m < 0 || m >= n {
		return [32]byte{}, false
	}
	if n == 1 {
		return leaf, len(path) == 0
	}
	if len(path) == 0 {
		return [32]byte{}, false
	}
	k := refSplit(n)
	last, rest := path[len(path)-1], path[:len(path)-1]
	if m < k {
		sub, ok := refRootFromPath(m, k, leaf, rest)
		return refNodeHash(sub, last), ok
	}
	sub, ok := refRootFromPath(m-k, n-k, leaf, rest)
	return refNodeHash(last, sub), ok
}

// leafData is the test data of leaf i: distinct for every i and seed.
func leafData(seed []byte, i int) []byte {
	return append(slices.Clip(seed), byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
}

// testLeaves are n leaf hashes, as the package computes them, and the same
// as the reference computes them.
func testLeaves(seed []byte, n int) ([]merkle.Hash, [][32]byte) {
	got := make([]merkle.Hash, n)
	ref := make([][32]byte, n)
	for i := range n {
		got[i] = merkle.LeafHash(leafData(seed, i))
		ref[i] = refLeafHash(leafData(seed, i))
	}
	return got, ref
}

func toRef(path []merkle.Hash) [][32]byte {
	out := make([][32]byte, len(path))
	for i, h := range path {
		out[i] = h
	}
	return out
}

// verifyCase is what Verify is called with: the leaf, the anchor (root and
// size from the ledger) and the proof.
type verifyCase struct {
	leaf, root merkle.Hash
	size       int
	proof      merkle.Proof
}

func (c verifyCase) verify() error {
	return c.proof.Verify(c.leaf, c.root, c.size)
}

// refAccepts is the reference verifier's verdict on c.
func (c verifyCase) refAccepts() bool {
	return c.proof.Size == c.size && refVerify(c.proof.Index, c.size, c.leaf, toRef(c.proof.Path), c.root)
}

// mutationCount is the number of single-bit changes of a verifyCase whose
// path has pathLen hashes: every bit of the leaf, the root and each path
// hash, and every bit of the proof's index, the proof's size and the
// anchored size.
func mutationCount(pathLen int) int {
	return 256*(2+pathLen) + 3*bits.UintSize
}

// mutation is the k-th single-bit change of c (0 <= k < mutationCount).
func mutation(c verifyCase, k int) (verifyCase, string) {
	flip := func(h merkle.Hash, bit int) merkle.Hash {
		h[bit/8] ^= 1 << (bit % 8)
		return h
	}
	flipInt := func(v, bit int) int { return int(uint(v) ^ 1<<bit) }
	switch {
	case k < 256:
		c.leaf = flip(c.leaf, k)
		return c, "leaf bit " + strconv.Itoa(k)
	case k < 512:
		c.root = flip(c.root, k-256)
		return c, "root bit " + strconv.Itoa(k-256)
	case k < 256*(2+len(c.proof.Path)):
		k -= 512
		path := slices.Clone(c.proof.Path)
		path[k/256] = flip(path[k/256], k%256)
		c.proof.Path = path
		return c, "path[" + strconv.Itoa(k/256) + "] bit " + strconv.Itoa(k%256)
	}
	k -= 256 * (2 + len(c.proof.Path))
	switch bit := k % bits.UintSize; k / bits.UintSize {
	case 0:
		c.proof.Index = flipInt(c.proof.Index, bit)
		return c, "proof index bit " + strconv.Itoa(bit)
	case 1:
		c.proof.Size = flipInt(c.proof.Size, bit)
		return c, "proof size bit " + strconv.Itoa(bit)
	default:
		c.size = flipInt(c.size, bit)
		return c, "anchored size bit " + strconv.Itoa(bit)
	}
}
