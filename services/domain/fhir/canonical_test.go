package fhir_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"healthexchange/services/domain/fhir"
)

var update = flag.Bool("update", false, "rewrite the golden canonical forms in testdata/")

func canonical(t *testing.T, raw string) string {
	t.Helper()
	out, err := fhir.Canonicalize([]byte(raw))
	if err != nil {
		t.Fatalf("Canonicalize(%q): %v", raw, err)
	}
	return string(out)
}

// RFC 8785 §3.2.4: the example of the whole transformation.
func TestCanonicalizeRFC8785Example(t *testing.T) {
	in := `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`
	want := `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`
	if got := canonical(t, in); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestCanonicalizeNumbers(t *testing.T) {
	cases := []struct{ in, want string }{
		{"1e+30", "1e+30"},
		{"1E30", "1e+30"},
		{"1e30", "1e+30"},
		{"0.000001", "0.000001"},
		{"1e-6", "0.000001"},
		{"1e-7", "1e-7"},
		{"0.0000001", "1e-7"},
		{"-0", "0"},
		{"-0.0e10", "0"},
		{"0.0", "0"},
		{"100", "100"},
		{"1e2", "100"},
		{"100.000", "100"},
		{"1.5e3", "1500"},
		{"4.50", "4.5"},
		{"2e-3", "0.002"},
		{"0.1", "0.1"},
		{"-1.5", "-1.5"},
		{"123456789", "123456789"},
		{"9007199254740992", "9007199254740992"},
		{"9007199254740993", "9007199254740992"}, // JCS rounds to the double; Validate refuses it
		{"100000000000000000000", "100000000000000000000"},
		{"1e20", "100000000000000000000"},
		{"1e21", "1e+21"},
		{"123e20", "1.23e+22"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"},
		{"5e-324", "5e-324"},
		{"1e-400", "0"}, // underflows to 0, as a double does
		{"0.30000000000000004", "0.30000000000000004"},
		{"0.1e1", "1"},
		{"-1E-7", "-1e-7"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := canonical(t, "["+c.in+"]"); got != "["+c.want+"]" {
				t.Errorf("%s: got %s, want [%s]", c.in, got, c.want)
			}
		})
	}
}

// RFC 8785 Appendix B: IEEE 754 doubles and their canonical forms. Each is
// fed in with 17 significant digits, which reads back as the same double but
// is not its shortest form.
func TestCanonicalizeNumbersRFC8785AppendixB(t *testing.T) {
	cases := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, c := range cases {
		in := strconv.FormatFloat(math.Float64frombits(c.bits), 'e', 16, 64)
		t.Run(strconv.FormatUint(c.bits, 16), func(t *testing.T) {
			if got := canonical(t, "["+in+"]"); got != "["+c.want+"]" {
				t.Errorf("%016x written %s: got %s, want [%s]", c.bits, in, got, c.want)
			}
		})
	}
}

// RFC 8785 §3.2.3: names are sorted by UTF-16 code units, so U+1F600 (the
// surrogates D83D DE00) comes before U+FB33, although its code point and its
// UTF-8 bytes are larger.
func TestCanonicalizeSortsNamesByUTF16CodeUnits(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{
			"RFC 8785 example",
			`{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{"supplementary before private use", `{"\ue000":1,"😀":2}`, `{"😀":2,"` + "\ue000" + `":1}`},
		{"prefix first", `{"ab":1,"a":2,"":3}`, `{"":3,"a":2,"ab":1}`},
		{"upper case before lower case", `{"b":1,"a":2,"B":3,"A":4}`, `{"A":4,"B":3,"a":2,"b":1}`},
		{"digits by code unit, not value", `{"10":1,"9":2,"1":3}`, `{"1":3,"10":1,"9":2}`},
		{"not by locale", `{"péché":1,"pêche":2,"peach":3}`, `{"peach":3,"péché":1,"pêche":2}`},
		{"escaped and raw names sort alike", `{"\u00e9":1,"e":2,"z":3}`, `{"e":2,"z":3,"é":1}`},
		{"nested objects sorted, arrays kept in order", `{"b":[{"y":1,"x":2},3,{"d":[],"c":{}}],"a":null}`, `{"a":null,"b":[{"x":2,"y":1},3,{"c":{},"d":[]}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := canonical(t, c.in); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// RFC 8785 §3.2.2.2: strings as JSON.stringify writes them.
func TestCanonicalizeEscapes(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"quote and backslash", `"a\"b\\c"`, `"a\"b\\c"`},
		{"short escapes kept", `"\b\f\n\r\t"`, `"\b\f\n\r\t"`},
		{"short escapes written as u-escapes", `"\u0008\u000C\u000a\u000D\u0009"`, `"\b\f\n\r\t"`},
		{"other controls in lower-case hex", `"\u0000\u0001\u000B\u000e\u001F"`, `"\u0000\u0001\u000b\u000e\u001f"`},
		{"solidus unescaped", `"a\/b"`, `"a/b"`},
		{"escaped letters unescaped", `"\u0041\u0062"`, `"Ab"`},
		{"escaped quote and backslash", `"\u0022\u005c"`, `"\"\\"`},
		{"DEL as itself", `"\u007f"`, "\"\x7f\""},
		{"HTML characters as themselves", `"<a href='x'>&amp;</a>"`, `"<a href='x'>&amp;</a>"`},
		{"escaped HTML characters unescaped", `"\u003c\u003e\u0026"`, `"<>&"`},
		{"line and paragraph separators as themselves", `"\u2028\u2029"`, "\"\u2028\u2029\""},
		{"non-ASCII as itself", `"Zo\u00eb M\u00fcller"`, `"Zoë Müller"`},
		{"raw non-ASCII kept", `"Köln €"`, `"Köln €"`},
		{"surrogate pair as the character", `"\ud83d\ude00"`, `"😀"`},
		{"surrogate pair in upper case", `"\uD83D\uDE00"`, `"😀"`},
		{"replacement character kept", `"\ufffd"`, `"` + "\ufffd" + `"`},
		{"names escaped alike", `{"a\u000ab\"":"x"}`, `{"a\nb\"":"x"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := canonical(t, c.in); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestCanonicalizeOtherValues(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"literals", " [ true , false , null ] ", "[true,false,null]"},
		{"empty containers", `{ "a" : [ ] , "b" : { } }`, `{"a":[],"b":{}}`},
		{"scalar at the top", ` "x" `, `"x"`},
		{"number at the top", "\n1.0\n", "1"},
		{"all JSON whitespace", "\t{\r\n \"a\"\t:\n[ 1 ,\r2 ]\n}\r\n", `{"a":[1,2]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := canonical(t, c.in); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestCanonicalizeRejects(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
	}{
		{"empty", "", fhir.ErrInvalid},
		{"syntax error", `{"a":}`, fhir.ErrInvalid},
		{"trailing data", `{"a":1}{"a":2}`, fhir.ErrInvalid},
		{"two scalars", `1 2`, fhir.ErrInvalid},
		{"duplicate names", `{"a":1,"a":2}`, fhir.ErrInvalid},
		{"duplicate names that differ only in escaping", `{"a":1,"\u0061":1}`, fhir.ErrInvalid},
		{"duplicate nested names", `[{"b":{"c":1,"c":1}}]`, fhir.ErrInvalid},
		{"invalid UTF-8", "[\"\xff\"]", fhir.ErrInvalid},
		{"overlong UTF-8", "[\"\xc0\xaf\"]", fhir.ErrInvalid},
		{"UTF-8 encoded surrogate", "[\"\xed\xa0\x80\"]", fhir.ErrInvalid},
		{"unpaired surrogate escape", `["\ud800"]`, fhir.ErrInvalid},
		{"unpaired surrogate escape before a letter", `["\ud800\u0041"]`, fhir.ErrInvalid},
		{"two high surrogate escapes", `["\ud800\ud800\udc00"]`, fhir.ErrInvalid},
		{"number beyond the double range", `[1e309]`, fhir.ErrInvalid},
		{"too deep", strings.Repeat("[", 101) + strings.Repeat("]", 101), fhir.ErrInvalid},
		{"too large", "[" + strings.Repeat(" ", fhir.MaxResourceBytes) + "]", fhir.ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := fhir.Canonicalize([]byte(c.in))
			if !errors.Is(err, c.want) {
				t.Fatalf("Canonicalize = %q, %v; want %v", out, err, c.want)
			}
			if _, _, err := fhir.Hash([]byte(c.in)); !errors.Is(err, c.want) {
				t.Errorf("Hash: err = %v, want %v", err, c.want)
			}
		})
	}
}

// heartRate is one resource; its variants below are the same resource
// written differently and must hash the same.
const heartRate = `{"resourceType":"Observation","id":"hr-1","status":"final",` +
	`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"Heart rate"},` +
	`"subject":{"reference":"Patient/pat-1"},"valueQuantity":{"value":72,"unit":"beats/minute"},` +
	`"component":[{"valueQuantity":{"value":0.5}},{"valueQuantity":{"value":1500}}]}`

func TestHashIsTheSameForTheSameResource(t *testing.T) {
	variants := []struct{ name, raw string }{
		{"pretty printed", `{
	"resourceType": "Observation",
	"id": "hr-1",
	"status": "final",
	"code": {
		"coding": [ { "system": "http://loinc.org", "code": "8867-4" } ],
		"text": "Heart rate"
	},
	"subject": { "reference": "Patient/pat-1" },
	"valueQuantity": { "value": 72, "unit": "beats/minute" },
	"component": [ { "valueQuantity": { "value": 0.5 } }, { "valueQuantity": { "value": 1500 } } ]
}
`},
		{"members in another order", `{"valueQuantity":{"unit":"beats/minute","value":72},"subject":{"reference":"Patient/pat-1"},` +
			`"component":[{"valueQuantity":{"value":0.5}},{"valueQuantity":{"value":1500}}],` +
			`"code":{"text":"Heart rate","coding":[{"code":"8867-4","system":"http://loinc.org"}]},"status":"final","id":"hr-1","resourceType":"Observation"}`},
		{"numbers written otherwise", strings.NewReplacer(`"value":72,`, `"value":7.20E1,`, `0.5`, `5e-1`, `1500`, `1.5e3`).Replace(heartRate)},
		{"numbers with trailing zeros", strings.NewReplacer(`"value":72,`, `"value":72.000,`, `0.5`, `0.50`).Replace(heartRate)},
		{"characters escaped", strings.NewReplacer(`"Heart rate"`, `"\u0048eart\u0020rate"`, `beats/minute`, `beats\/minute`, `"status"`, `"st\u0061tus"`).Replace(heartRate)},
	}
	want, wantHash, err := fhir.Hash([]byte(heartRate))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			got, gotHash, err := fhir.Hash([]byte(v.raw))
			if err != nil {
				t.Fatal(err)
			}
			if gotHash != wantHash {
				t.Errorf("hash %s, want %s\ncanonical %s\nwant      %s", gotHash, wantHash, got, want)
			}
		})
	}
}

func TestHashDiffersForADifferentResource(t *testing.T) {
	variants := []struct{ name, from, to string }{
		{"another value", `"value":72,`, `"value":73,`},
		{"a value changed in the last digit", `"value":0.5`, `"value":0.5000000000000001`},
		{"a number as a string", `"value":72,`, `"value":"72",`},
		{"another string", `"Heart rate"`, `"Heart  rate"`},
		{"string case", `"final"`, `"Final"`},
		{"array order", `[{"valueQuantity":{"value":0.5}},{"valueQuantity":{"value":1500}}]`, `[{"valueQuantity":{"value":1500}},{"valueQuantity":{"value":0.5}}]`},
		{"a member renamed", `"unit"`, `"units"`},
		{"a member added", `"status":"final",`, `"status":"final","issued":null,`},
		{"null instead of a value", `"status":"final"`, `"status":null`},
		{"another patient", `Patient/pat-1`, `Patient/pat-2`},
		{"an empty array instead of an empty object", `{"value":0.5}`, `{"value":0.5,"x":[]}`},
	}
	_, base, err := fhir.Hash([]byte(heartRate))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{base: "the original"}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			raw := strings.Replace(heartRate, v.from, v.to, 1)
			if raw == heartRate {
				t.Fatalf("%q is not in the resource: the variant is the original", v.from)
			}
			_, h, err := fhir.Hash([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			if other, ok := seen[h]; ok {
				t.Errorf("hash %s is also the hash of %s", h, other)
			}
			seen[h] = v.name
		})
	}
}

func TestHashIsTheSHA256OfTheCanonicalForm(t *testing.T) {
	canon, h, err := fhir.Hash([]byte(heartRate))
	if err != nil {
		t.Fatal(err)
	}
	want, err := fhir.Canonicalize([]byte(heartRate))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canon, want) {
		t.Errorf("Hash's canonical form %s differs from Canonicalize's %s", canon, want)
	}
	sum := sha256.Sum256(want)
	if h != hex.EncodeToString(sum[:]) {
		t.Errorf("hash %s is not the SHA-256 of the canonical form", h)
	}
	// A known answer, so that a change to the canonical form cannot pass
	// unnoticed: printf '{"a":[1,"b"]}' | sha256sum.
	_, h, err = fhir.Hash([]byte(`{ "a" : [ 1.0, "\u0062" ] }`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "ee70aef572200b15408cec63724334e0ccd6c2b5d1cd7225a7f6a3f2a9aa80a9"; h != want {
		t.Errorf("hash %s, want %s", h, want)
	}
}

// The canonical forms of the fixtures are kept in testdata/*.canonical.json;
// go test -update rewrites them.
func TestCanonicalizeGolden(t *testing.T) {
	for _, name := range []string{"observation", "patient", "allergy"} {
		t.Run(name, func(t *testing.T) {
			got, err := fhir.Canonicalize(readFixture(t, name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			golden := "testdata/" + name + ".canonical.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("canonical form differs from %s:\ngot  %s\nwant %s", golden, got, want)
			}
		})
	}
}

func TestCanonicalizeIsIdempotent(t *testing.T) {
	inputs := map[string]string{
		"heart rate":   heartRate,
		"numbers":      `[1E30,0.000001,1e-7,-0,100,1.5e3,333333333.33333329,5e-324,1e21,1e20,-1.7976931348623157e308]`,
		"escapes":      `"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/\u2028\ud83d\ude00\u007f"`,
		"unicode keys": `{"\u20ac":1,"\r":2,"\ufb33":3,"1":4,"\ud83d\ude00":5,"\u0080":6,"\u00f6":7}`,
	}
	for _, f := range []string{"observation.json", "patient.json", "allergy.json"} {
		inputs[f] = string(readFixture(t, f))
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			once := canonical(t, in)
			if twice := canonical(t, once); twice != once {
				t.Errorf("Canonicalize(Canonicalize(x)) = %s\nCanonicalize(x)            = %s", twice, once)
			}
		})
	}
}
