package ledgerapi

import (
	"slices"
	"testing"
)

func TestConsentSetSHA256(t *testing.T) {
	ids := []string{"c", "a", "b"}
	// printf 'a\nb\nc' | sha256sum
	const want = "ea7fb08b7a2dc4619ffb7c7bb38d95a2047935fa165d71b12efd3852a2e6d0cc"
	if got := ConsentSetSHA256(ids); got != want {
		t.Fatalf("ConsentSetSHA256 = %s, want %s", got, want)
	}
	if !slices.Equal(ids, []string{"c", "a", "b"}) {
		t.Fatalf("ConsentSetSHA256 reordered its input: %q", ids)
	}
}
