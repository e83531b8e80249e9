package shc

import (
	"errors"
	"strings"
	"testing"
)

func TestNumeric(t *testing.T) {
	tests := []struct {
		name    string
		jws     string
		want    string
		wantErr error
	}{
		{"JWS start", "eyJ", "shc:/567629", nil},
		{"range ends", "-z", "shc:/0077", nil},
		{"every JWS character class", "-.09AZ_az", "shc:/000103122045505277", nil},
		{"empty", "", "", ErrMalformed},
		{"below '-'", "a,b", "", ErrMalformed},
		{"above 'z'", "a{b", "", ErrMalformed},
		{"non-ASCII", "aéb", "", ErrMalformed},
		{"too long", strings.Repeat("a", MaxJWSBytes+1), "", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Numeric(tt.jws)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Numeric: %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Numeric %q, want %q", got, tt.want)
			}
			if err != nil {
				return
			}
			back, err := FromNumeric(got)
			if err != nil || back != tt.jws {
				t.Fatalf("FromNumeric: %q, %v", back, err)
			}
		})
	}
}

func TestFromNumeric(t *testing.T) {
	tests := []struct {
		name    string
		s       string
		want    string
		wantErr error
	}{
		{"JWS start", "shc:/567629", "eyJ", nil},
		{"range ends", "shc:/0077", "-z", nil},
		{"upper-case prefix", "SHC:/567629", "", ErrMalformed},
		{"no prefix", "567629", "", ErrMalformed},
		{"prefix without slash", "shc:567629", "", ErrMalformed},
		{"empty", "", "", ErrMalformed},
		{"prefix only", "shc:/", "", ErrMalformed},
		{"odd digit count", "shc:/56762", "", ErrMalformed},
		{"pair above 77", "shc:/5678", "", ErrMalformed},
		{"pair 99", "shc:/99", "", ErrMalformed},
		{"letter", "shc:/56a6", "", ErrMalformed},
		{"space", "shc:/56 76", "", ErrMalformed},
		{"sign", "shc:/+5", "", ErrMalformed},
		{"multi-chunk", "shc:/1/2/567629", "", ErrUnsupported},
		{"trailing slash", "shc:/567629/", "", ErrUnsupported},
		{"too long", "shc:/" + strings.Repeat("56", MaxJWSBytes+1), "", ErrTooLarge},
		{"at the limit", "shc:/" + strings.Repeat("56", MaxJWSBytes), strings.Repeat("e", MaxJWSBytes), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromNumeric(tt.s)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FromNumeric: %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("FromNumeric returned %d bytes, want %d", len(got), len(tt.want))
			}
		})
	}
}
