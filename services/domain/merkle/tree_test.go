package merkle_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"healthexchange/services/domain/merkle"
)

// maxRefSize is the largest tree compared exhaustively with the reference:
// 70 in a full run (make fuzz), 17 with -short (make test), which still
// covers every shape up to a power of two and one past it.
func maxRefSize() int {
	if testing.Short() {
		return 17
	}
	return 70
}

func TestNoLeaves(t *testing.T) {
	for name, leaves := range map[string][]merkle.Hash{"nil": nil, "empty": {}} {
		t.Run(name, func(t *testing.T) {
			if tree, err := merkle.New(leaves); !errors.Is(err, merkle.ErrNoLeaves) {
				t.Errorf("New = %v, %v; want ErrNoLeaves", tree, err)
			}
			if root, err := merkle.Root(leaves); !errors.Is(err, merkle.ErrNoLeaves) {
				t.Errorf("Root = %s, %v; want ErrNoLeaves", root, err)
			}
		})
	}
}

func TestLeafHashMatchesReference(t *testing.T) {
	for name, data := range map[string][]byte{
		"nil":      nil,
		"one zero": {0},
		"one":      {1},
		"64 bytes": make([]byte, 64),
		"1 KiB":    make([]byte, 1024),
	} {
		t.Run(name, func(t *testing.T) {
			if got, want := merkle.LeafHash(data), merkle.Hash(refLeafHash(data)); got != want {
				t.Errorf("LeafHash = %s, reference %s", got, want)
			}
		})
	}
}

// TestAgainstReference builds every tree of 1 to maxRefSize leaves and checks
// for every leaf: the root and the audit path are the reference's, the proof
// verifies, and every single-bit change of leaf, root, path, index, proof
// size or anchored size makes Verify fail, as it does for the reference.
func TestAgainstReference(t *testing.T) {
	for n := 1; n <= maxRefSize(); n++ {
		t.Run("size "+strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			leaves, ref := testLeaves([]byte("reference"), n)
			want := merkle.Hash(refMTH(ref))
			tree, err := merkle.New(leaves)
			if err != nil {
				t.Fatal(err)
			}
			if tree.Len() != n {
				t.Errorf("Len = %d, want %d", tree.Len(), n)
			}
			if tree.Root() != want {
				t.Fatalf("Tree.Root = %s, reference %s", tree.Root(), want)
			}
			if root, err := merkle.Root(leaves); err != nil || root != want {
				t.Fatalf("Root = %s, %v; reference %s", root, err, want)
			}
			for i := range n {
				p, err := tree.Proof(i)
				if err != nil {
					t.Fatalf("Proof(%d): %v", i, err)
				}
				if p.Index != i || p.Size != n {
					t.Fatalf("Proof(%d) is for leaf %d of %d", i, p.Index, p.Size)
				}
				if diff := cmp.Diff(refPath(i, ref), toRef(p.Path), cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("Proof(%d) path differs from the reference (-ref +got):\n%s", i, diff)
				}
				c := verifyCase{leaf: leaves[i], root: want, size: n, proof: p}
				if err := c.verify(); err != nil {
					t.Fatalf("Proof(%d) does not verify: %v", i, err)
				}
				for k := range mutationCount(len(p.Path)) {
					m, what := mutation(c, k)
					err := m.verify()
					if err == nil {
						t.Fatalf("leaf %d: proof with %s changed verifies", i, what)
					}
					if !errors.Is(err, merkle.ErrInvalidProof) {
						t.Fatalf("leaf %d, %s changed: %v does not wrap ErrInvalidProof", i, what, err)
					}
					if m.refAccepts() {
						t.Fatalf("leaf %d: the reference accepts %s changed; the test is wrong", i, what)
					}
				}
			}
		})
	}
}

// TestProofsStayInTheirTree: a proof from the tree over the first n leaves
// never verifies against the anchor of the tree over the first m != n of the
// same leaves, neither as it is nor relabelled with size m, although the
// trees share most of their nodes.
func TestProofsStayInTheirTree(t *testing.T) {
	leaves, _ := testLeaves([]byte("prefix"), maxRefSize())
	trees := make([]*merkle.Tree, maxRefSize()+1)
	for n := 1; n <= maxRefSize(); n++ {
		trees[n] = must(merkle.New(leaves[:n]))
	}
	for n := 1; n <= maxRefSize(); n++ {
		t.Run("size "+strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			for i := range n {
				p := must(trees[n].Proof(i))
				for m := 1; m <= maxRefSize(); m++ {
					if m == n {
						continue
					}
					if err := p.Verify(leaves[i], trees[m].Root(), m); err == nil {
						t.Fatalf("proof of leaf %d of %d verifies against the tree of %d", i, n, m)
					}
					relabelled := merkle.Proof{Index: i, Size: m, Path: p.Path}
					if err := relabelled.Verify(leaves[i], trees[m].Root(), m); err == nil {
						t.Fatalf("proof of leaf %d of %d, relabelled, verifies against the tree of %d", i, n, m)
					}
					if err := p.Verify(leaves[i], trees[n].Root(), m); err == nil {
						t.Fatalf("proof of leaf %d of %d verifies with its root but anchored size %d", i, n, m)
					}
				}
			}
		})
	}
}

// TestRootDoesNotFixSize pins the example in Verify's comment, the reason
// Verify takes the anchored size: RFC 9162 roots do not commit to the tree
// size, so the path proving leaf 0 of 5 also hashes to the 5-leaf root when
// read as leaf 0 of 7. Only the anchored size tells the two apart.
func TestRootDoesNotFixSize(t *testing.T) {
	leaves, _ := testLeaves([]byte("size"), 5)
	tree := must(merkle.New(leaves))
	p := must(tree.Proof(0))
	relabelled := merkle.Proof{Index: 0, Size: 7, Path: p.Path}
	if err := relabelled.Verify(leaves[0], tree.Root(), 7); err != nil {
		t.Fatalf("the example in Verify's comment is wrong, fix the comment: %v", err)
	}
	if err := relabelled.Verify(leaves[0], tree.Root(), 5); !errors.Is(err, merkle.ErrInvalidProof) {
		t.Errorf("relabelled proof against the real anchor: %v, want ErrInvalidProof", err)
	}
}

func TestProofIndexOutOfRange(t *testing.T) {
	leaves, _ := testLeaves(nil, 5)
	tree := must(merkle.New(leaves))
	for name, index := range map[string]int{"negative": -1, "size": 5, "beyond": 6, "huge": int(^uint(0) >> 1)} {
		t.Run(name, func(t *testing.T) {
			if p, err := tree.Proof(index); !errors.Is(err, merkle.ErrIndexOutOfRange) {
				t.Errorf("Proof(%d) = %+v, %v; want ErrIndexOutOfRange", index, p, err)
			}
		})
	}
}

// TestTreeOwnsItsData: changing the slice passed to New, or a returned path,
// changes neither the tree nor later proofs.
func TestTreeOwnsItsData(t *testing.T) {
	leaves, _ := testLeaves(nil, 9)
	tree := must(merkle.New(leaves))
	root := tree.Root()
	leaves[3][0] ^= 1
	p := must(tree.Proof(2))
	p.Path[0][0] ^= 1
	if tree.Root() != root {
		t.Errorf("root changed from %s to %s", root, tree.Root())
	}
	leaves[3][0] ^= 1
	again := must(tree.Proof(2))
	if err := again.Verify(leaves[2], root, 9); err != nil {
		t.Errorf("proof after the caller changed a path: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
