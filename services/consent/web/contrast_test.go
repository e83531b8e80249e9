package web

import (
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"testing"
)

// luminance is a colour's relative luminance (WCAG 2.x).
func luminance(hex string) float64 {
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		s := float64(v) / 255
		if s <= 0.03928 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// Every pair of text and background colours the stylesheet uses has a
// contrast of at least 4.5:1 (WCAG AA for normal text).
func TestContrast(t *testing.T) {
	css, err := fs.ReadFile(Files(), "app.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	for _, name := range []string{"ink", "paper", "accent", "bad", "ok", "warn-bg"} {
		if vars[name] == "" {
			t.Fatalf("app.css has no --%s colour", name)
		}
	}
	const white = "#ffffff"
	for _, pair := range [][2]string{
		{vars["ink"], vars["paper"]},      // text
		{vars["accent"], vars["paper"]},   // links, secondary buttons
		{white, vars["accent"]},           // primary buttons
		{vars["bad"], vars["paper"]},      // errors, refusals
		{vars["ok"], vars["paper"]},       // status
		{vars["ink"], vars["warn-bg"]},    // emergency rows
		{vars["bad"], vars["warn-bg"]},    // emergency answers
		{vars["accent"], vars["warn-bg"]}, // links in them
	} {
		if c := contrast(pair[0], pair[1]); c < 4.5 {
			t.Errorf("%s on %s: contrast %.2f:1, below 4.5:1", pair[0], pair[1], c)
		} else {
			t.Logf("%s on %s: %.2f:1", pair[0], pair[1], c)
		}
	}
}
