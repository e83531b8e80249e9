package fhir

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// formatNumber renders f as ECMAScript's Number.prototype.toString does,
// which is the number serialization of RFC 8785 §3.2.2.3: the shortest
// decimal that reads back as f, in plain notation for decimal exponents from
// -7 to 20 and in exponent notation with an explicit sign otherwise. -0 is
// "0"; NaN and the infinities have no JSON form.
func formatNumber(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", errors.New("NaN and infinities have no JSON form")
	}
	if f == 0 {
		return "0", nil
	}
	var b strings.Builder
	if f < 0 {
		b.WriteByte('-')
		f = -f
	}
	// strconv's shortest round-trip digits are the digits ECMAScript asks
	// for; in 'e' form they come as d.ddde±x, which we take apart.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mantissa, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mantissa, ".", "", 1)
	x, err := strconv.Atoi(exp)
	if err != nil {
		return "", err // unreachable: strconv writes a decimal exponent
	}
	k := len(digits) // number of significant digits
	n := x + 1       // position of the decimal point relative to the digits
	switch {
	case k <= n && n <= 21: // an integer below 1e21: all digits, then zeros
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", n-k))
	case 0 < n && n <= 21: // a fraction with an integer part
		b.WriteString(digits[:n])
		b.WriteByte('.')
		b.WriteString(digits[n:])
	case -6 < n && n <= 0: // a small fraction: 0.000ddd
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -n))
		b.WriteString(digits)
	default: // d[.ddd]e±x
		b.WriteByte(digits[0])
		if k > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		if n-1 >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.Itoa(n - 1))
	}
	return b.String(), nil
}

// sameDecimal reports whether the JSON number literals a and b denote the
// same decimal value ("1.50" and "1.5e0" do, "-0" and "0" do,
// "9007199254740993" and "9007199254740992" do not).
func sameDecimal(a, b string) bool {
	an, ad, ae, aok := decimal(a)
	bn, bd, be, bok := decimal(b)
	return aok && bok && an == bn && ad == bd && ae == be
}

// decimal takes a JSON number literal apart into sign, significant digits
// without leading or trailing zeros, and the power of ten they are scaled
// by. Zero is (false, "", 0). ok is false when the exponent is too large to
// be worth comparing; no such literal is a finite non-zero double.
func decimal(s string) (neg bool, digits string, exp int, ok bool) {
	neg = strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mantissa, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	whole, frac, _ := strings.Cut(mantissa, ".")
	digits = strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return false, "", 0, true
	}
	if hasExp {
		e, err := strconv.Atoi(expPart)
		if err != nil || e > 1<<40 || e < -(1<<40) {
			return false, "", 0, false
		}
		exp = e
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed) - len(frac)
	return neg, trimmed, exp, true
}
