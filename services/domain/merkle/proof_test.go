package merkle_test

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"healthexchange/services/domain/merkle"
)

// TestVerifyRejects: each way a proof can be wrong is refused with
// ErrInvalidProof and a message that says which way.
func TestVerifyRejects(t *testing.T) {
	leaves, _ := testLeaves([]byte("verify"), 8)
	tree := must(merkle.New(leaves))
	root := tree.Root()
	good := must(tree.Proof(5)) // path of 3
	inner := must(merkle.Root(leaves[0:2]))
	innerProof := must(tree.Proof(0))

	tests := []struct {
		name string
		c    verifyCase
		want string // in the error message
	}{
		{"other anchored size", verifyCase{leaves[5], root, 9, good}, "proof is for a tree of 8 leaves, the anchored tree has 9"},
		{"zero size", verifyCase{leaves[5], root, 0, merkle.Proof{Index: 0, Size: 0}}, "tree size 0"},
		{"negative size", verifyCase{leaves[5], root, -8, merkle.Proof{Index: 5, Size: -8, Path: good.Path}}, "tree size -8"},
		{"negative index", verifyCase{leaves[5], root, 8, merkle.Proof{Index: -1, Size: 8, Path: good.Path}}, "leaf index -1 outside a tree of 8 leaves"},
		{"index equals size", verifyCase{leaves[5], root, 8, merkle.Proof{Index: 8, Size: 8, Path: good.Path}}, "leaf index 8 outside"},
		{"path too short", verifyCase{leaves[5], root, 8, merkle.Proof{Index: 5, Size: 8, Path: good.Path[:2]}}, "path of 2 hashes, leaf 5 of 8 needs 3"},
		{"path too long", verifyCase{leaves[5], root, 8, merkle.Proof{Index: 5, Size: 8, Path: append(good.Path[:3:3], root)}}, "path of 4 hashes"},
		{"no path", verifyCase{leaves[5], root, 8, merkle.Proof{Index: 5, Size: 8}}, "path of 0 hashes"},
		{"other leaf", verifyCase{leaves[4], root, 8, good}, "recomputes root"},
		{"other root", verifyCase{leaves[5], inner, 8, good}, "recomputes root"},
		{"other index, same path", verifyCase{leaves[5], root, 8, merkle.Proof{Index: 4, Size: 8, Path: good.Path}}, "recomputes root"},
		{"path reordered", verifyCase{leaves[5], root, 8, merkle.Proof{Index: 5, Size: 8, Path: []merkle.Hash{good.Path[1], good.Path[0], good.Path[2]}}}, "recomputes root"},
		// The node over leaves 0 and 1 presented as a leaf of a smaller
		// tree: the second-preimage trick that domain separation and the
		// anchored size rule out.
		{"inner node as leaf", verifyCase{inner, root, 8, merkle.Proof{Index: 0, Size: 8, Path: innerProof.Path[1:]}}, "path of 2 hashes, leaf 0 of 8 needs 3"},
		{"inner node as leaf of a 4-leaf tree", verifyCase{inner, root, 8, merkle.Proof{Index: 0, Size: 4, Path: innerProof.Path[1:]}}, "proof is for a tree of 4 leaves"},
		{"plain SHA-256 instead of LeafHash", verifyCase{sha256.Sum256(leafData([]byte("verify"), 5)), root, 8, good}, "recomputes root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.verify()
			if !errors.Is(err, merkle.ErrInvalidProof) {
				t.Fatalf("Verify = %v, want ErrInvalidProof", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %q, want it to say %q", err, tt.want)
			}
		})
	}
}
