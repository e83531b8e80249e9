package merkle_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"healthexchange/services/domain/merkle"
)

func TestProofTextCT(t *testing.T) {
	leaves := ctLeaves(t)
	p := must(must(merkle.New(leaves)).Proof(5))
	want := "5/8:" + strings.Join(ctProofs[1].path, ",")
	got, err := p.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("MarshalText = %s\nwant %s", got, want)
	}
}

// TestProofTextRoundTrip: every proof of trees of 1 to 70 leaves reads back
// as the same proof and writes again as the same text, on its own and as a
// JSON string field.
func TestProofTextRoundTrip(t *testing.T) {
	for n := 1; n <= maxRefSize(); n++ {
		t.Run("size "+strconv.Itoa(n), func(t *testing.T) {
			leaves, _ := testLeaves([]byte("text"), n)
			tree := must(merkle.New(leaves))
			for i := range n {
				p := must(tree.Proof(i))
				text, err := p.MarshalText()
				if err != nil {
					t.Fatalf("MarshalText(%d): %v", i, err)
				}
				var back merkle.Proof
				if err := back.UnmarshalText(text); err != nil {
					t.Fatalf("UnmarshalText(%s): %v", text, err)
				}
				if diff := cmp.Diff(p, back, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("proof read back differs (-written +read):\n%s", diff)
				}
				if again := must(back.MarshalText()); string(again) != string(text) {
					t.Fatalf("written again as %s, first as %s", again, text)
				}
				type stored struct{ Proof merkle.Proof }
				doc, err := json.Marshal(stored{p})
				if err != nil {
					t.Fatal(err)
				}
				if want := `{"Proof":"` + string(text) + `"}`; string(doc) != want {
					t.Fatalf("JSON %s, want %s", doc, want)
				}
				var fromJSON stored
				if err := json.Unmarshal(doc, &fromJSON); err != nil {
					t.Fatal(err)
				}
				if err := fromJSON.Proof.Verify(leaves[i], tree.Root(), n); err != nil {
					t.Fatalf("proof from JSON does not verify: %v", err)
				}
			}
		})
	}
}

func TestProofTextRejects(t *testing.T) {
	h := strings.Repeat("ab", 32)
	tests := map[string]string{
		"empty":                  "",
		"no path separator":      "0/1",
		"no size":                "0:",
		"empty index":            "/1:",
		"empty size":             "0/:",
		"trailing newline":       "0/1:\n",
		"leading space":          " 0/1:",
		"space in header":        "0 /1:",
		"leading zero index":     "00/1:",
		"leading zero size":      "0/01:",
		"plus sign":              "+0/1:",
		"negative index":         "-1/1:",
		"hex number":             "0x0/1:",
		"index equals size":      "1/1:",
		"zero size":              "0/0:",
		"overflowing size":       "0/9223372036854775808:",
		"twenty digit size":      "0/10000000000000000000:",
		"very long number":       "0/" + strings.Repeat("9", 10000) + ":",
		"missing path":           "0/2:",
		"short path":             "0/3:" + h,
		"long path":              "0/2:" + h + "," + h,
		"trailing comma":         "0/2:" + h + ",",
		"leading comma":          "0/2:," + h,
		"wrong separator":        "0/3:" + h + ";" + h,
		"upper-case hex":         "0/2:" + strings.ToUpper(h),
		"non-hex":                "0/2:" + strings.Repeat("zz", 32),
		"short hash":             "0/2:" + h[:62],
		"long hash":              "0/2:" + h + "ab",
		"trailing data":          "0/2:" + h + "x",
		"comma in one-leaf tree": "0/1:,",
		"second colon":           "0/1::",
		"huge size, short path":  "0/9223372036854775807:" + h,
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			p := merkle.Proof{Index: 7, Size: 9}
			err := p.UnmarshalText([]byte(text))
			if !errors.Is(err, merkle.ErrInvalidProof) {
				t.Fatalf("UnmarshalText(%.80q) = %v, want ErrInvalidProof", text, err)
			}
			if p.Index != 7 || p.Size != 9 || p.Path != nil {
				t.Errorf("refused text changed the proof to %+v", p)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error of %d bytes echoes the input", len(err.Error()))
			}
		})
	}
}

// TestProofTextRefusesToWriteMalformed: what MarshalText writes, UnmarshalText
// reads; a proof it could not read back is not written.
func TestProofTextRefusesToWriteMalformed(t *testing.T) {
	one := []merkle.Hash{{1}}
	tests := map[string]merkle.Proof{
		"zero value":       {},
		"index equal size": {Index: 2, Size: 2, Path: one},
		"negative index":   {Index: -1, Size: 2, Path: one},
		"path too short":   {Index: 0, Size: 2},
		"path too long":    {Index: 0, Size: 1, Path: one},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			if text, err := p.MarshalText(); !errors.Is(err, merkle.ErrInvalidProof) || text != nil {
				t.Errorf("MarshalText = %q, %v; want nothing and ErrInvalidProof", text, err)
			}
		})
	}
}

func TestParseHash(t *testing.T) {
	valid := "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
	t.Run("valid", func(t *testing.T) {
		h, err := merkle.ParseHash(valid)
		if err != nil {
			t.Fatal(err)
		}
		if h != merkle.LeafHash(nil) || h.String() != valid {
			t.Errorf("ParseHash(%s) = %s", valid, h)
		}
	})
	for name, s := range map[string]string{
		"empty":      "",
		"upper-case": strings.ToUpper(valid),
		"short":      valid[:63],
		"long":       valid + "0",
		"0x prefix":  "0x" + valid[2:],
		"space":      " " + valid[1:],
		"non-hex":    valid[:62] + "zz",
	} {
		t.Run(name, func(t *testing.T) {
			if h, err := merkle.ParseHash(s); !errors.Is(err, merkle.ErrInvalidHash) || h != (merkle.Hash{}) {
				t.Errorf("ParseHash(%q) = %s, %v; want ErrInvalidHash", s, h, err)
			}
		})
	}
}

func TestHashJSON(t *testing.T) {
	h := merkle.LeafHash([]byte("batch"))
	doc, err := json.Marshal(map[string]merkle.Hash{"root": h})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"root":"` + h.String() + `"}`; string(doc) != want {
		t.Errorf("JSON %s, want %s", doc, want)
	}
	var back map[string]merkle.Hash
	if err := json.Unmarshal(doc, &back); err != nil || back["root"] != h {
		t.Errorf("read back %v, %v", back, err)
	}
}
