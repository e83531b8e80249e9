package mhealth

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode: Decode never panics; it refuses with ErrFormat and a zero
// batch, or what it accepts re-encodes to exactly the input.
func FuzzDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	good := valid(f)
	f.Add(good)
	f.Add(good[:len(good)-1])
	for range 8 {
		enc, err := randomBatch(rng, 1+rng.IntN(8), arbitraryReading).Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	for _, junk := range []string{"", "HXWB", "HXWB\x01", "HXWB\x01\x01d\x01p\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01", "\xff"} {
		f.Add([]byte(junk))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("refused with %v, want ErrFormat", err)
			}
			if diff := cmp.Diff(Batch{}, b); diff != "" {
				t.Fatalf("refused but returned a batch:\n%s", diff)
			}
			return
		}
		again, err := b.Encode()
		if err != nil {
			t.Fatalf("accepted a batch Encode refuses: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("Encode(Decode(p)) != p:\n%x\n%x", again, data)
		}
	})
}

// FuzzReadingJSON: UnmarshalJSON never panics; what it accepts marshals,
// and unmarshals again to the same reading and the same bytes.
func FuzzReadingJSON(f *testing.F) {
	golden, err := os.ReadFile("testdata/readings.json")
	if err != nil {
		f.Fatal(err)
	}
	var docs []json.RawMessage
	if err := json.Unmarshal(golden, &docs); err != nil {
		f.Fatal(err)
	}
	for _, d := range docs {
		f.Add([]byte(d))
	}
	for _, junk := range []string{"", "null", "{}", "[]", `{"kind":"heart-rate"}`, `{"kind":1}`, "\xff"} {
		f.Add([]byte(junk))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Reading
		if err := r.UnmarshalJSON(data); err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnknownKind) && !errors.Is(err, ErrUnit) && !errors.Is(err, ErrTime) {
				t.Fatalf("refused with an error that wraps no sentinel: %v", err)
			}
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted %q but cannot marshal it: %v", data, err)
		}
		var back Reading
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("refused its own output %s: %v", out, err)
		}
		if diff := cmp.Diff(r, back); diff != "" {
			t.Fatalf("round trip through %s differs (-want +got):\n%s", out, diff)
		}
		again, err := json.Marshal(back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("marshal is not stable: %s then %s (err %v)", out, again, err)
		}
	})
}
