package follow

import (
	"strings"
	"testing"
	"time"

	"healthexchange/services/platform/ledger"
)

func TestPosition(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewPosition("test view", time.Second)
	p.SetClock(func() time.Time { return now })
	if live, why := p.Live(); live || !strings.Contains(why, "test view is not following") {
		t.Fatalf("a new position: %v %q", live, why)
	}
	b0 := ledger.Block{Number: 0, Hash: []byte("h0")}
	b1 := ledger.Block{Number: 1, Hash: []byte("h1"), PreviousHash: []byte("h0")}
	stray := ledger.Block{Number: 2, Hash: []byte("x2"), PreviousHash: []byte("x1")}
	for _, tc := range []struct {
		b    ledger.Block
		next bool
		err  bool
	}{{b1, false, true}, {b0, true, false}} {
		next, err := p.Check(tc.b)
		if next != tc.next || (err != nil) != tc.err {
			t.Fatalf("Check(%d) = %v, %v", tc.b.Number, next, err)
		}
		if next {
			p.Advance(tc.b)
		}
	}
	if next, err := p.Check(b0); next || err != nil {
		t.Fatalf("a block already applied: %v, %v", next, err)
	}
	if next, _ := p.Check(b1); !next {
		t.Fatal("the next block refused")
	}
	p.Advance(b1)
	if _, err := p.Check(stray); err == nil {
		t.Fatal("a block of another chain accepted")
	}
	if !p.Tied([]byte("h0"), []byte("h1")) || p.Tied([]byte("h0"), []byte("x")) {
		t.Fatal("Tied")
	}
	p.Follow(2)
	if live, why := p.Live(); !live {
		t.Fatalf("following, caught up: %q", why)
	}
	now = now.Add(1100 * time.Millisecond)
	if live, _ := p.Live(); live {
		t.Fatal("live after the bound without a word")
	}
	p.Heartbeat(2)
	if live, _ := p.Live(); !live {
		t.Fatal("not live after a heartbeat")
	}
	s := p.State()
	q := NewPosition("other", 0)
	q.Restore(s)
	if q.Next() != 2 || !q.Tied([]byte("h0"), []byte("h1")) || q.Bound() != DefaultBound {
		t.Fatalf("restored %+v", q.State())
	}
	if live, _ := q.Live(); live {
		t.Fatal("a restored position is live before it follows")
	}
}
