//go:build integration

package demo

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"healthexchange/services/dev/devenv"
)

// TestStory runs `make demo`'s story on the real network and checks that each
// turn of it happened: allowed, denied for the right reasons, tamper seen,
// forgeries refused, and denied after the revoke.
func TestStory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, Config{NetworkFile: devenv.DefaultPath(), Out: &out}); err != nil {
		t.Fatalf("story failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		`read labs for treatment: ALLOWED by consent consent-treatment-`,
		`read imaging for treatment: DENIED \(category imaging is not granted`,
		`read labs for research: DENIED \(purpose research is not granted`,
		`verify the stored bytes: MATCH, version 1`,
		`verify a copy with one digit changed: MISMATCH`,
		`2 access events of its clinician written in one transaction`,
		`dataset ds-\S+ released`,
		`grant signed with another key .*: refused \(signature rejected`,
		`sent a second time: refused \(stale or replayed nonce`,
		`consent consent-treatment-\S+ is now revoked`,
		`read labs for treatment: DENIED \(consent consent-treatment-\S+ is revoked\)`,
		`The story ran to the end.`,
	} {
		if !regexp.MustCompile(want).Match(out.Bytes()) {
			t.Errorf("the story does not show %q:\n%s", want, out.String())
		}
	}
}
