package merkle

import (
	"errors"
	"strconv"
	"testing"
)

// TestRecomputeChecksHeight: the RFC 9162 algorithm's own checks of the path
// length hold even without checkShape in front of them, so the two cannot
// drift apart silently.
func TestRecomputeChecksHeight(t *testing.T) {
	for n := 1; n <= 70; n++ {
		t.Run("size "+strconv.Itoa(n), func(t *testing.T) {
			for i := range n {
				want := pathLen(i, n)
				for _, l := range []int{want - 1, want + 1} {
					if l < 0 {
						continue
					}
					p := Proof{Index: i, Size: n, Path: make([]Hash, l)}
					if _, err := p.recompute(Hash{}); !errors.Is(err, ErrInvalidProof) {
						t.Fatalf("leaf %d of %d, path of %d hashes (needs %d): %v", i, n, l, want, err)
					}
				}
			}
		})
	}
}
