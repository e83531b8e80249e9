package merkle_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"healthexchange/services/domain/merkle"
)

// FuzzProofDecode feeds arbitrary bytes to the proof decoder: it never
// panics, refuses with ErrInvalidProof, and whatever it accepts is written
// back as exactly the same bytes (one text per proof).
func FuzzProofDecode(f *testing.F) {
	leaves, _ := testLeaves([]byte("fuzz"), 13)
	tree := must(merkle.New(leaves))
	for i := range 13 {
		f.Add(must(must(tree.Proof(i)).MarshalText()))
	}
	h := strings.Repeat("0f", 32)
	for _, s := range []string{
		"", "0/1:", "0/1", "1/1:", "00/1:", "-0/1:", "0/9223372036854775807:",
		"0/9223372036854775808:", "0/2:" + h, "0/2:" + strings.ToUpper(h),
		"0/3:" + h + "," + h, "0/3:" + h + "," + h + ",", "0/2:" + h + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		var p merkle.Proof
		if err := p.UnmarshalText(text); err != nil {
			if !errors.Is(err, merkle.ErrInvalidProof) {
				t.Fatalf("refusal %v does not wrap ErrInvalidProof", err)
			}
			return
		}
		again, err := p.MarshalText()
		if err != nil {
			t.Fatalf("accepted %q as %+v, which does not write: %v", text, p, err)
		}
		if !bytes.Equal(again, text) {
			t.Fatalf("accepted %q, writes back as %q", text, again)
		}
	})
}

// FuzzVerify builds a tree of 1 to 1024 leaves, checks its root and the
// proof of one leaf against the reference, checks the proof verifies, and
// that one single-bit change of leaf, root, path, index, proof size or
// anchored size makes it fail.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("seed"), uint16(0), uint16(0), uint32(0))
	f.Add([]byte("seed"), uint16(4), uint16(0), uint32(1000))
	f.Add([]byte{}, uint16(69), uint16(68), uint32(2000))
	f.Add([]byte{1, 2, 3}, uint16(1023), uint16(511), uint32(7*256+500))
	f.Fuzz(func(t *testing.T, seed []byte, n, index uint16, flip uint32) {
		size := 1 + int(n)%1024
		i := int(index) % size
		leaves, ref := testLeaves(seed, size)
		tree, err := merkle.New(leaves)
		if err != nil {
			t.Fatal(err)
		}
		if want := merkle.Hash(refMTH(ref)); tree.Root() != want {
			t.Fatalf("root of %d leaves is %s, reference %s", size, tree.Root(), want)
		}
		p, err := tree.Proof(i)
		if err != nil {
			t.Fatal(err)
		}
		c := verifyCase{leaf: leaves[i], root: tree.Root(), size: size, proof: p}
		if err := c.verify(); err != nil || !c.refAccepts() {
			t.Fatalf("proof of leaf %d of %d: Verify %v, reference accepts %t", i, size, err, c.refAccepts())
		}
		m, what := mutation(c, int(flip%uint32(mutationCount(len(p.Path)))))
		if err := m.verify(); !errors.Is(err, merkle.ErrInvalidProof) {
			t.Fatalf("proof of leaf %d of %d with %s changed: Verify = %v, want ErrInvalidProof", i, size, what, err)
		}
		if m.refAccepts() {
			t.Fatalf("reference accepts leaf %d of %d with %s changed; the test is wrong", i, size, what)
		}
	})
}
