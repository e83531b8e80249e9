package merkle_test

import (
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"healthexchange/services/domain/merkle"
)

// The test data of RFC 6962 / RFC 9162 implementations: the eight leaf inputs
// of certificate-transparency's merkle_tree_test.cc (also in Trillian and
// transparency-dev/merkle), the roots of the trees over the first 1..8 of
// them, and their inclusion proofs. Another implementation that agrees on
// these can verify our proofs.
var ctLeafData = []string{
	"", "00", "10", "2021", "3031", "40414243",
	"5051525354555657", "606162636465666768696a6b6c6d6e6f",
}

var ctRoots = []string{ // ctRoots[n-1] is the root of the first n leaves
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

var ctProofs = []struct {
	index, size int
	path        []string
}{
	{0, 8, []string{
		"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
	}},
	{5, 8, []string{
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	}},
	{2, 3, []string{
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	}},
	{1, 5, []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	}},
}

func ctLeaves(t *testing.T) []merkle.Hash {
	t.Helper()
	leaves := make([]merkle.Hash, len(ctLeafData))
	for i, s := range ctLeafData {
		data, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		leaves[i] = merkle.LeafHash(data)
	}
	return leaves
}

func mustParse(t *testing.T, s string) merkle.Hash {
	t.Helper()
	h, err := merkle.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCTRoots(t *testing.T) {
	leaves := ctLeaves(t)
	for n := 1; n <= len(leaves); n++ {
		t.Run("size "+strconv.Itoa(n), func(t *testing.T) {
			want := ctRoots[n-1]
			tree, err := merkle.New(leaves[:n])
			if err != nil {
				t.Fatal(err)
			}
			if got := tree.Root().String(); got != want {
				t.Errorf("Tree.Root() = %s, CT says %s", got, want)
			}
			root, err := merkle.Root(leaves[:n])
			if err != nil {
				t.Fatal(err)
			}
			if got := root.String(); got != want {
				t.Errorf("Root() = %s, CT says %s", got, want)
			}
		})
	}
}

func TestCTProofs(t *testing.T) {
	leaves := ctLeaves(t)
	for _, v := range ctProofs {
		t.Run(strconv.Itoa(v.index)+" of "+strconv.Itoa(v.size), func(t *testing.T) {
			tree, err := merkle.New(leaves[:v.size])
			if err != nil {
				t.Fatal(err)
			}
			p, err := tree.Proof(v.index)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(p.Path))
			for i, h := range p.Path {
				got[i] = h.String()
			}
			if diff := cmp.Diff(v.path, got); diff != "" {
				t.Errorf("audit path differs from CT's (-CT +got):\n%s", diff)
			}
			root := mustParse(t, ctRoots[v.size-1])
			if err := p.Verify(leaves[v.index], root, v.size); err != nil {
				t.Errorf("CT's proof does not verify: %v", err)
			}
		})
	}
}
