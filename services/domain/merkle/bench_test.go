package merkle_test

import (
	"testing"

	"healthexchange/services/domain/merkle"
)

// benchLeaves is the number of batches of a large anchoring period.
const benchLeaves = 10_000

// BenchmarkNew is building the tree over one period's batch hashes.
func BenchmarkNew(b *testing.B) {
	leaves, _ := testLeaves([]byte("bench"), benchLeaves)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := merkle.New(leaves); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoot is the root alone, without keeping the tree.
func BenchmarkRoot(b *testing.B) {
	leaves, _ := testLeaves([]byte("bench"), benchLeaves)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := merkle.Root(leaves); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProof is one inclusion proof from a tree of benchLeaves, cycling
// through all leaves as the ingest service does for a period.
func BenchmarkProof(b *testing.B) {
	leaves, _ := testLeaves([]byte("bench"), benchLeaves)
	tree := must(merkle.New(leaves))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := tree.Proof(i); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % benchLeaves
	}
}

// BenchmarkVerify is checking one proof from a tree of benchLeaves.
func BenchmarkVerify(b *testing.B) {
	leaves, _ := testLeaves([]byte("bench"), benchLeaves)
	tree := must(merkle.New(leaves))
	proofs := make([]merkle.Proof, benchLeaves)
	for i := range proofs {
		proofs[i] = must(tree.Proof(i))
	}
	root := tree.Root()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := proofs[i].Verify(leaves[i], root, benchLeaves); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % benchLeaves
	}
}
