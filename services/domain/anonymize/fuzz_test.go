package anonymize

import (
	"slices"
	"testing"
	"time"
)

// FuzzZIP3: whatever comes in, the result is an error or three digits that
// are not a restricted prefix.
func FuzzZIP3(f *testing.F) {
	for _, s := range []string{"12345", "03601", "12345-6789", "", "1234", " 99999 ", "８９３０１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		z, err := ZIP3(s)
		if err != nil {
			return
		}
		if len(z) != 3 || !allDigits(z) || slices.Contains(restrictedZIP3, z) {
			t.Fatalf("ZIP3(%q) = %q", s, z)
		}
	})
}

// FuzzAgeBand: a parsed birth date gives an error or a band the hierarchy
// accepts, and nothing past 89 but "90+".
func FuzzAgeBand(f *testing.F) {
	for _, s := range []string{"1930-05-05", "2024-02-29", "2024-02-29T10:00:00+14:00", "1800-01-01", "x"} {
		f.Add(s)
	}
	asOf := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		birth, err := ParseDate(s)
		if err != nil {
			return
		}
		band, err := AgeBand(birth, asOf)
		if err != nil {
			return
		}
		h := AgeBandHierarchy()
		for l := 0; l <= h.Depth(); l++ {
			if _, err := h.At(band, l); err != nil {
				t.Fatalf("AgeBand(%q) = %q, which the hierarchy refuses at level %d: %v", s, band, l, err)
			}
		}
		if badValue(Column{Kind: QuasiIdentifier, Rule: RuleAgeBand}, band) != "" {
			t.Fatalf("Verify refuses AgeBand's own output %q", band)
		}
	})
}

// FuzzHierarchies: arbitrary values never panic, and the top level is "*".
func FuzzHierarchies(f *testing.F) {
	for _, s := range []string{"35-39", "90+", "*", "100", "-", "5-9", "0-4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, h := range []Hierarchy{AgeBandHierarchy(), ZIP3Hierarchy(), CategoryHierarchy()} {
			for l := 0; l < h.Depth(); l++ {
				_, _ = h.At(s, l)
			}
			if top, err := h.At(s, h.Depth()); err != nil || top != Suppressed {
				t.Fatalf("top level of %q = %q, %v", s, top, err)
			}
		}
	})
}
