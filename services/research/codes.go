package research

import "regexp"

// Limits of the coded fields of a fact: longer is not a code but text.
const (
	maxCodeLen   = 64
	maxSystemLen = 128
	maxUnitLen   = 40
)

var (
	// codeRE is a code: letters, digits and . - _ : only, starting with a
	// letter or a digit (a leading - would start a spreadsheet formula).
	codeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	// systemURLRE is an http or https URL of a host (and port) and a path
	// of letters, digits and - . _ ~ : only: no query, fragment, user or
	// escapes, none of which a code system needs.
	systemURLRE = regexp.MustCompile(`^https?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[A-Za-z0-9._~:-]*)*$`)
	oidRE       = regexp.MustCompile(`^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$`)
	uuidRE      = regexp.MustCompile(`^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// isCode reports whether s is a code in the conservative syntax a fact may
// carry: 1 to maxCodeLen letters, digits and . - _ : starting with a letter
// or a digit. LOINC, SNOMED CT, ICD-10, RxNorm and CVX codes all fit; a
// space, a quote, a comma or any other character means text, not a code.
func isCode(s string) bool {
	return len(s) <= maxCodeLen && codeRE.MatchString(s)
}

// isCodeSystem reports whether s is an absolute URI naming a code system:
// an http or https URL (http://loinc.org, http://snomed.info/sct) or a
// urn:oid: or urn:uuid: URN, at most maxSystemLen bytes.
func isCodeSystem(s string) bool {
	return len(s) <= maxSystemLen && (systemURLRE.MatchString(s) || oidRE.MatchString(s) || uuidRE.MatchString(s))
}

// isUCUMUnit reports whether s is a unit expression in the syntax of UCUM's
// case-sensitive grammar, the subset the exchange needs, at most maxUnitLen
// bytes. It checks the syntax only, not that each atom is in UCUM's table:
//
//	unit       = ["/"] term
//	term       = component {("." | "/") component}
//	component  = (symbol [exponent] | "10*" exponent | "10^" exponent | factor) [annotation]
//	           | annotation | "(" term ")"
//	symbol     = (letter | "%" | "[" bchar {bchar} "]") {letter | "%" | "[" bchar {bchar} "]"}
//	bchar      = letter | digit | "_" | "'"
//	annotation = "{" achar {achar} "}"
//	achar      = letter | digit | "." | "_" | "-" | "#" | "%" | "'"
//	exponent   = ["+" | "-"] digit {digit}
//	factor     = digit {digit}
//
// So %, mg/dL, /min, {beats}/min, kg/m2, 10*3/uL, [in_i] and mm[Hg] are
// units; a space, a comma, a double quote, = < > and every character the
// grammar does not name are refused, and no unit starts with = + - or @.
func isUCUMUnit(s string) bool {
	if s == "" || len(s) > maxUnitLen {
		return false
	}
	p := ucumParser{s: s}
	if p.peek() == '/' {
		p.i++
	}
	return p.term() && p.i == len(s)
}

// ucumParser reads a unit expression from s[i:] (isUCUMUnit's grammar); its
// length bound keeps the recursion on parentheses shallow.
type ucumParser struct {
	s string
	i int
}

// peek is the next byte, 0 at the end.
func (p *ucumParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *ucumParser) term() bool {
	for {
		if !p.component() {
			return false
		}
		if c := p.peek(); c != '.' && c != '/' {
			return true
		}
		p.i++
	}
}

func (p *ucumParser) component() bool {
	switch c := p.peek(); {
	case c == '(':
		p.i++
		if !p.term() || p.peek() != ')' {
			return false
		}
		p.i++
		return true
	case c == '{':
		return p.annotation()
	case isDigit(c):
		start := p.i
		p.digits()
		if c := p.peek(); p.s[start:p.i] == "10" && (c == '*' || c == '^') {
			p.i++
			if !p.exponent() {
				return false
			}
		}
	case isLetter(c) || c == '%' || c == '[':
		if !p.symbol() {
			return false
		}
		if c := p.peek(); c == '+' || c == '-' || isDigit(c) {
			if !p.exponent() {
				return false
			}
		}
	default:
		return false
	}
	if p.peek() == '{' {
		return p.annotation()
	}
	return true
}

func (p *ucumParser) symbol() bool {
	for {
		switch c := p.peek(); {
		case isLetter(c) || c == '%':
			p.i++
		case c == '[':
			if !p.enclosed('[', ']', func(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' || c == '\'' }) {
				return false
			}
		default:
			return true
		}
	}
}

func (p *ucumParser) annotation() bool {
	return p.enclosed('{', '}', func(c byte) bool {
		return isLetter(c) || isDigit(c) || c == '.' || c == '_' || c == '-' || c == '#' || c == '%' || c == '\''
	})
}

// enclosed reads open, one or more bytes allowed by ok, and close.
func (p *ucumParser) enclosed(open, close byte, ok func(byte) bool) bool {
	if p.peek() != open {
		return false
	}
	p.i++
	start := p.i
	for p.i < len(p.s) && ok(p.s[p.i]) {
		p.i++
	}
	if p.i == start || p.peek() != close {
		return false
	}
	p.i++
	return true
}

func (p *ucumParser) exponent() bool {
	if c := p.peek(); c == '+' || c == '-' {
		p.i++
	}
	return p.digits()
}

// digits reads one or more digits.
func (p *ucumParser) digits() bool {
	start := p.i
	for isDigit(p.peek()) {
		p.i++
	}
	return p.i > start
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
