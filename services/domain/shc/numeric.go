package shc

import "strings"

// NumericPrefix starts the numeric form of a card, the content of its QR
// code.
const NumericPrefix = "shc:/"

// The numeric form writes each character c of a JWS as the two decimal
// digits of c - '-': a JWS's characters are all between '-' (45) and 'z'
// (122), so the digits are 00 to 77.
const (
	numericBase = '-'
	numericMax  = 'z' - '-'
)

// Numeric is the numeric form of a card's JWS, as a QR code carries it in
// numeric mode: NumericPrefix, then two decimal digits per character.
// The JWS must be 1 to MaxJWSBytes characters between '-' and 'z'.
// Multi-chunk QR codes are not written.
func Numeric(jws string) (string, error) {
	switch {
	case jws == "":
		return "", fail(ErrMalformed, "empty card")
	case len(jws) > MaxJWSBytes:
		return "", fail(ErrTooLarge, "card is longer than %d bytes", MaxJWSBytes)
	}
	var b strings.Builder
	b.Grow(len(NumericPrefix) + 2*len(jws))
	b.WriteString(NumericPrefix)
	for i := 0; i < len(jws); i++ {
		c := jws[i]
		if c < numericBase || c > numericBase+numericMax {
			return "", fail(ErrMalformed, "character at offset %d is not between '-' and 'z'", i)
		}
		d := c - numericBase
		b.WriteByte('0' + d/10)
		b.WriteByte('0' + d%10)
	}
	return b.String(), nil
}

// FromNumeric is the JWS of a card's numeric form, the inverse of
// Numeric: s must start with NumericPrefix (in lower case) followed by an
// even number, at least two, of decimal digits, each pair at most 77,
// decoding to at most MaxJWSBytes characters. Multi-chunk QR codes
// (shc:/1/2/...) are refused with ErrUnsupported: their chunks must be
// joined first.
func FromNumeric(s string) (string, error) {
	digits, ok := strings.CutPrefix(s, NumericPrefix)
	switch {
	case !ok:
		return "", fail(ErrMalformed, "numeric form does not start with %s", NumericPrefix)
	case strings.Contains(digits, "/"):
		return "", fail(ErrUnsupported, "multi-chunk QR codes (shc:/N/M/...) are not supported")
	case len(digits) > 2*MaxJWSBytes:
		return "", fail(ErrTooLarge, "numeric form decodes to more than %d bytes", MaxJWSBytes)
	case digits == "" || len(digits)%2 != 0:
		return "", fail(ErrMalformed, "numeric form needs a non-zero even number of digits")
	}
	out := make([]byte, len(digits)/2)
	for i := range out {
		hi, lo := digits[2*i], digits[2*i+1]
		if hi < '0' || hi > '9' || lo < '0' || lo > '9' {
			return "", fail(ErrMalformed, "numeric form has a non-digit at offset %d", len(NumericPrefix)+2*i)
		}
		d := (hi-'0')*10 + lo - '0'
		if d > numericMax {
			return "", fail(ErrMalformed, "numeric form has a pair above 77 at offset %d", len(NumericPrefix)+2*i)
		}
		out[i] = numericBase + d
	}
	return string(out), nil
}
