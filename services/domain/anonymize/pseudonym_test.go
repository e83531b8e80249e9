package anonymize

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func newP(t testing.TB, opts ...PseudonymOption) *Pseudonymizer {
	t.Helper()
	p, err := NewPseudonymizer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPseudonymStableWithinDatasetUnlinkableAcross(t *testing.T) {
	a, b := newP(t), newP(t)
	pa := a.Pseudonym("patient-42")
	if pa != a.Pseudonym("patient-42") {
		t.Error("pseudonym not stable within a dataset")
	}
	if pa == b.Pseudonym("patient-42") {
		t.Error("two datasets gave the same pseudonym: they could be joined")
	}
	if pa == a.Pseudonym("patient-43") {
		t.Error("two patients share a pseudonym")
	}
	if _, err := hex.DecodeString(pa); err != nil || len(pa) != DefaultPseudonymLength {
		t.Errorf("pseudonym %q is not %d hex characters", pa, DefaultPseudonymLength)
	}
	if got := newP(t, WithPseudonymLength(64)).Pseudonym("x"); len(got) != 64 {
		t.Errorf("length 64 gave %d", len(got))
	}
}

func TestPseudonymizerOptionsValidated(t *testing.T) {
	for name, o := range map[string]PseudonymOption{
		"length 8": WithPseudonymLength(8), "length 65": WithPseudonymLength(65),
		"shift 0": WithMaxShiftDays(0), "shift 5000": WithMaxShiftDays(5000),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewPseudonymizer(o); !errors.Is(err, ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestKeyNeverPrintedOrSerialized(t *testing.T) {
	p := newP(t)
	keyHex := hex.EncodeToString(p.pseudoKey[:])
	for _, format := range []string{"%v", "%+v", "%#v", "%x", "%s"} {
		for _, v := range []any{p, *p} {
			if s := fmt.Sprintf(format, v); strings.Contains(s, keyHex) || strings.Contains(s, fmt.Sprint(p.pseudoKey[0:4])) {
				t.Errorf("%s printed key material: %s", format, s)
			}
		}
	}
	if _, err := json.Marshal(p); err == nil {
		t.Error("json.Marshal succeeded")
	}
	if _, err := json.Marshal(struct{ P *Pseudonymizer }{p}); err == nil {
		t.Error("json.Marshal of an enclosing struct succeeded")
	}
}

func TestForget(t *testing.T) {
	p := newP(t)
	p.Forget()
	if p.pseudoKey != [32]byte{} || p.shiftKey != [32]byte{} {
		t.Error("key not zeroed")
	}
	defer func() {
		if recover() == nil {
			t.Error("Pseudonym after Forget did not panic")
		}
	}()
	p.Pseudonym("x")
}

func TestShiftDateConsistentPerPatient(t *testing.T) {
	p := newP(t, WithMaxShiftDays(30))
	admit := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	discharge := time.Date(2024, 3, 9, 0, 0, 0, 0, time.UTC)
	offsets := map[int]bool{}
	for i := range 500 {
		id := fmt.Sprintf("patient-%d", i)
		a, d := p.ShiftDate(id, admit), p.ShiftDate(id, discharge)
		if d.Sub(a) != discharge.Sub(admit) {
			t.Fatalf("%s: interval changed from %v to %v", id, discharge.Sub(admit), d.Sub(a))
		}
		days := int(a.Sub(admit).Hours() / 24)
		if days == 0 || days < -30 || days > 30 {
			t.Fatalf("%s: offset %d days outside ±1..30", id, days)
		}
		offsets[days] = true
	}
	if len(offsets) < 40 { // 60 possible offsets over 500 patients
		t.Errorf("only %d distinct offsets: not drawn per patient", len(offsets))
	}
	q := newP(t, WithMaxShiftDays(30))
	same := 0
	for i := range 100 {
		id := fmt.Sprintf("patient-%d", i)
		if p.ShiftDate(id, admit).Equal(q.ShiftDate(id, admit)) {
			same++
		}
	}
	if same > 15 { // expect about 100/60
		t.Errorf("%d of 100 offsets equal across datasets", same)
	}
}
