package consent

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/follow"
	"healthexchange/services/platform/ledger"
)

type heightAnswer struct {
	height uint64
	err    error
}

// fakeSource is a ledger's block stream. ChainHeight answers from heights in
// order (the last repeats); the n-th call of Blocks streams what the test
// sends on streams[n] until the test closes it or the caller's context ends
// (as the real client does); calls past streams fail.
type fakeSource struct {
	mu          sync.Mutex
	heights     []heightAnswer
	heightCalls int
	streams     []chan ledger.Block
	asked       []ledger.Checkpoint
	// hashes are the blocks' hashes by number (none: nil, as the test
	// blocks carry).
	hashes map[uint64][]byte
}

func (s *fakeSource) BlockHash(ctx context.Context, number uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hashes[number], nil
}

func (s *fakeSource) ChainHeight(ctx context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.heights[min(s.heightCalls, len(s.heights)-1)]
	s.heightCalls++
	return a.height, a.err
}

func (s *fakeSource) Blocks(ctx context.Context, cp ledger.Checkpoint) (<-chan ledger.Block, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, cp)
	n := len(s.asked) - 1
	if n >= len(s.streams) {
		return nil, &ledger.Error{Function: "blocks", Kind: ledger.ErrUnavailable, Message: "no stream"}
	}
	in, out := s.streams[n], make(chan ledger.Block)
	go func() {
		defer close(out)
		for {
			select {
			case b, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- b:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (s *fakeSource) checkpoints() []ledger.Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ledger.Checkpoint(nil), s.asked...)
}

func (s *fakeSource) heightCallCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heightCalls
}

// running is a follower run in the background until stop is called.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startFollower(t *testing.T, f *follow.Follower) *running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		f.Run(ctx)
	}()
	t.Cleanup(r.stop(t))
	return r
}

func (r *running) stop(t *testing.T) func() {
	return func() {
		t.Helper()
		r.cancel()
		waitDone(t, "the follower to stop", r.done)
	}
}

func readSnapshot(t *testing.T, path string) (viewState, bool) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return viewState{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var s viewState
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("snapshot %s: %v", path, err)
	}
	return s, true
}

func TestFollowerFollowsAndSnapshots(t *testing.T) {
	labs, treatment := []string{"labs"}, []string{"treatment"}
	c1 := activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labs, treatment)
	c2 := activeConsent("c-2", "pat-2", ledgerapi.GranteeOrg, "ProvidersMSP", labs, treatment)

	in := make(chan ledger.Block)
	src := &fakeSource{heights: []heightAnswer{{height: 3}}, streams: []chan ledger.Block{in}}
	snapshot := filepath.Join(t.TempDir(), "view.json")
	view := NewView()
	f := &follow.Follower{Src: src, View: view, SnapshotPath: snapshot, Retry: time.Hour, SaveEvery: 5 * time.Millisecond, Log: discardLog()}
	r := startFollower(t, f)

	eventually(t, "the follower to ask for blocks", func() bool { return len(src.checkpoints()) == 1 })
	if got := src.checkpoints()[0]; got != (ledger.Checkpoint{Next: 0}) {
		t.Fatalf("Blocks asked from %+v, want block 0", got)
	}
	eventually(t, "the view to follow (catching up)", func() bool {
		_, why := view.Live()
		return strings.Contains(why, "catching up")
	})
	in <- ledger.Block{Number: 0, Events: grantedEvents(t, c1)}
	in <- ledger.Block{Number: 1}
	if live, why := view.Live(); live {
		t.Fatalf("view live before block 2 of a 3-block chain was read (%q)", why)
	}
	in <- ledger.Block{Number: 2, Events: []ledger.Event{consentEvent(t, eventConsentGranted, c2), consentEvent(t, eventConsentRevoked, revoked(c1))}}
	eventually(t, "the view to be live", func() bool { live, _ := view.Live(); return live })

	// While it follows, the snapshot is saved without waiting for the end.
	eventually(t, "a snapshot at block 3", func() bool {
		s, ok := readSnapshot(t, snapshot)
		return ok && s.Checkpoint.Next == 3
	})
	if live, why := view.Live(); !live {
		t.Fatalf("view not live while the stream is open: %s", why)
	}

	close(in)
	eventually(t, "the view to stop being live when the stream ends", func() bool {
		live, why := view.Live()
		return !live && strings.Contains(why, "not following")
	})
	r.stop(t)()

	fresh := NewView()
	if err := loadSnapshot(snapshot, fresh); err != nil {
		t.Fatalf("loadSnapshot: %v", err)
	}
	if got := fresh.Checkpoint().Next; got != 3 {
		t.Errorf("restored checkpoint = %d, want 3", got)
	}
	if diff := cmp.Diff(view.state(), fresh.state()); diff != "" {
		t.Errorf("restored view (-followed +restored):\n%s", diff)
	}
	if got := ids(fresh.Matching("pat-1", "dr-alice", "ProvidersMSP")); !cmp.Equal(got, []string{"c-1"}) || fresh.Matching("pat-1", "dr-alice", "ProvidersMSP")[0].Status != ledgerapi.StatusRevoked {
		t.Errorf("restored pat-1 consents = %v, want c-1 revoked", fresh.Matching("pat-1", "dr-alice", "ProvidersMSP"))
	}
}

func TestFollowerRestartFromSnapshot(t *testing.T) {
	labs, treatment := []string{"labs"}, []string{"treatment"}
	c1 := activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labs, treatment)
	c2 := activeConsent("c-2", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", []string{"imaging"}, treatment)
	snapshot := filepath.Join(t.TempDir(), "view.json")

	// A first run saved the view at block 5.
	before := NewView()
	if err := before.Apply(ledger.Block{Number: 0, Events: grantedEvents(t, c1)}); err != nil {
		t.Fatal(err)
	}
	applyEmpty(t, before, 5)
	saveView(t, before, snapshot)

	view := NewView()
	if err := loadSnapshot(snapshot, view); err != nil {
		t.Fatalf("loadSnapshot: %v", err)
	}
	in := make(chan ledger.Block)
	src := &fakeSource{heights: []heightAnswer{{height: 5}}, streams: []chan ledger.Block{in}}
	f := &follow.Follower{Src: src, View: view, SnapshotPath: snapshot, Retry: time.Hour, SaveEvery: time.Hour, Log: discardLog()}
	r := startFollower(t, f)

	eventually(t, "the follower to ask for blocks", func() bool { return len(src.checkpoints()) == 1 })
	if got := src.checkpoints()[0]; got != (ledger.Checkpoint{Next: 5}) {
		t.Fatalf("Blocks asked from %+v, want the snapshot's checkpoint (next block 5)", got)
	}
	// Nothing to replay: live as soon as it follows.
	eventually(t, "the view to be live", func() bool { live, _ := view.Live(); return live })
	if got := ids(view.Matching("pat-1", "dr-alice", "ProvidersMSP")); !cmp.Equal(got, []string{"c-1"}) {
		t.Errorf("consents after restart = %v, want [c-1]", got)
	}

	in <- ledger.Block{Number: 5, Events: grantedEvents(t, c2)}
	eventually(t, "block 5 to be applied", func() bool { return view.Checkpoint().Next == 6 })
	// Stopping saves the view (saveEvery is an hour, so only the final save
	// can have written block 5).
	r.stop(t)()
	s, ok := readSnapshot(t, snapshot)
	if !ok || s.Checkpoint.Next != 6 {
		t.Fatalf("snapshot after stop = %+v (exists %v), want checkpoint 6", s.Checkpoint, ok)
	}
	if diff := cmp.Diff([]string{"c-1", "c-2"}, ids(s.Consents)); diff != "" {
		t.Errorf("snapshot consents (-want +got):\n%s", diff)
	}
}

func TestFollowerFailures(t *testing.T) {
	errHeight := &ledger.Error{Function: "qscc:GetChainInfo", Kind: ledger.ErrUnavailable, Message: "peer down"}
	tests := []struct {
		name    string
		heights []heightAnswer
		// blocks are sent on the first stream, which is then closed (when
		// close is set) or left open.
		blocks     []ledger.Block
		streams    int
		closeFirst bool
		// minHeightCalls: wait until ChainHeight has been asked this often.
		minHeightCalls int
		// wantAsked are the first checkpoints Blocks is asked for, in order;
		// with onlyAsked, there must be no other call.
		wantAsked []ledger.Checkpoint
		onlyAsked bool
		wantWhy   string
	}{
		{
			name:           "ChainHeight fails from the start: never live, no stream",
			heights:        []heightAnswer{{err: errHeight}},
			minHeightCalls: 3,
			wantAsked:      nil,
			onlyAsked:      true,
			wantWhy:        "not following",
		},
		{
			name:           "ChainHeight fails after the stream ended: not live again",
			heights:        []heightAnswer{{height: 1}, {err: errHeight}},
			blocks:         []ledger.Block{{Number: 0}},
			streams:        1,
			closeFirst:     true,
			minHeightCalls: 4,
			wantAsked:      []ledger.Checkpoint{{Next: 0}},
			onlyAsked:      true,
			wantWhy:        "not following",
		},
		{
			name:           "Blocks fails: not live, retried from the same checkpoint",
			heights:        []heightAnswer{{height: 1}},
			minHeightCalls: 3,
			wantAsked:      []ledger.Checkpoint{{Next: 0}, {Next: 0}},
			wantWhy:        "not following",
		},
		{
			name:           "a gap in the stream: resumes from the last applied block",
			heights:        []heightAnswer{{height: 4}},
			blocks:         []ledger.Block{{Number: 0}, {Number: 1}, {Number: 3}},
			streams:        1,
			minHeightCalls: 2,
			wantAsked:      []ledger.Checkpoint{{Next: 0}, {Next: 2}},
			wantWhy:        "not following",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{heights: tt.heights}
			for range tt.streams {
				src.streams = append(src.streams, make(chan ledger.Block))
			}
			view := NewView()
			f := &follow.Follower{Src: src, View: view, SnapshotPath: filepath.Join(t.TempDir(), "view.json"),
				Retry: time.Millisecond, SaveEvery: time.Hour, Log: discardLog()}
			startFollower(t, f)
			if tt.streams > 0 {
				eventually(t, "the first stream", func() bool { return len(src.checkpoints()) >= 1 })
				for _, b := range tt.blocks {
					src.streams[0] <- b
				}
				if tt.closeFirst {
					close(src.streams[0])
				}
			}
			eventually(t, "ChainHeight retries", func() bool { return src.heightCallCount() >= tt.minHeightCalls })
			eventually(t, "the expected Blocks calls", func() bool { return len(src.checkpoints()) >= len(tt.wantAsked) })
			asked := src.checkpoints()
			if tt.onlyAsked && len(asked) != len(tt.wantAsked) {
				t.Fatalf("Blocks asked %v, want exactly %v (ChainHeight failed)", asked, tt.wantAsked)
			}
			if diff := cmp.Diff(tt.wantAsked, asked[:len(tt.wantAsked)]); diff != "" {
				t.Errorf("Blocks checkpoints (-want +got):\n%s", diff)
			}
			live, why := view.Live()
			if live || !strings.Contains(why, tt.wantWhy) {
				t.Errorf("Live() = %v, %q; want not live, mentioning %q", live, why, tt.wantWhy)
			}
		})
	}
}

func TestLoadSnapshot(t *testing.T) {
	tests := []struct {
		name     string
		content  *string // nil: no file
		wantErr  bool
		wantNext uint64
	}{
		{name: "no snapshot: the view starts at genesis", content: nil, wantNext: 0},
		{name: "a snapshot", content: ptr(`{"format":4,"checkpoint":{"next":12},"patients":["pat-1"],"consents":[]}`), wantNext: 12},
		{name: "an older format: rebuilt from genesis", content: ptr(`{"format":3,"checkpoint":{"next":12},"consents":[]}`), wantNext: 0},
		{name: "a damaged snapshot is an error", content: ptr(`{"checkpoint":`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "view.json")
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			v := NewView()
			err := loadSnapshot(path, v)
			if (err != nil) != tt.wantErr {
				t.Fatalf("loadSnapshot = %v, want error %v", err, tt.wantErr)
			}
			if got := v.Checkpoint().Next; !tt.wantErr && got != tt.wantNext {
				t.Errorf("checkpoint = %d, want %d", got, tt.wantNext)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// hashed is a chain of n empty blocks with header hashes, each naming the
// one before.
func hashed(n int, salt string) []ledger.Block {
	out := make([]ledger.Block, n)
	var prev []byte
	for i := range out {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", salt, i)))
		out[i] = ledger.Block{Number: uint64(i), Hash: h[:], PreviousHash: prev}
		prev = h[:]
	}
	return out
}

// A snapshot is trusted only for the ledger it was made from: its genesis
// block and the last block it read must have the hashes the peer has.
func TestSnapshotTiedToTheLedger(t *testing.T) {
	chain := hashed(6, "ours")
	c1 := activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", []string{"labs"}, []string{"treatment"})
	saved := func(t *testing.T) string {
		t.Helper()
		v := NewView()
		for i, b := range chain {
			if i == 0 {
				b.Events = grantedEvents(t, c1)
			}
			if err := v.Apply(b); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(t.TempDir(), "view.json")
		saveView(t, v, path)
		return path
	}
	hashesOf := func(blocks []ledger.Block) map[uint64][]byte {
		m := map[uint64][]byte{}
		for _, b := range blocks {
			m[b.Number] = b.Hash
		}
		return m
	}
	for name, tc := range map[string]struct {
		height   uint64
		hashes   map[uint64][]byte
		wantNext uint64
	}{
		"the same ledger: resumed":          {6, hashesOf(chain), 6},
		"another ledger: rebuilt":           {6, hashesOf(hashed(6, "theirs")), 0},
		"the same genesis, another history": {6, map[uint64][]byte{0: chain[0].Hash, 5: []byte("forked")}, 0},
		"a snapshot ahead of the ledger":    {3, hashesOf(chain), 0},
	} {
		t.Run(name, func(t *testing.T) {
			view := NewView()
			if err := loadSnapshot(saved(t), view); err != nil {
				t.Fatal(err)
			}
			in := make(chan ledger.Block)
			src := &fakeSource{heights: []heightAnswer{{height: tc.height}}, streams: []chan ledger.Block{in}, hashes: tc.hashes}
			f := &follow.Follower{Src: src, View: view, SnapshotPath: filepath.Join(t.TempDir(), "v.json"), Retry: time.Hour, SaveEvery: time.Hour, Log: discardLog()}
			startFollower(t, f)
			eventually(t, "the follower to ask for blocks", func() bool { return len(src.checkpoints()) == 1 })
			if got := src.checkpoints()[0].Next; got != tc.wantNext {
				t.Fatalf("blocks asked from %d, want %d", got, tc.wantNext)
			}
			if tc.wantNext == 0 && len(view.Matching("pat-1", "dr-alice", "ProvidersMSP")) != 0 {
				t.Fatal("a rebuilt view still holds the snapshot's consents")
			}
		})
	}
	t.Run("a block that does not follow the last one is refused", func(t *testing.T) {
		v := NewView()
		for _, b := range chain[:3] {
			if err := v.Apply(b); err != nil {
				t.Fatal(err)
			}
		}
		stray := hashed(4, "theirs")[3]
		if err := v.Apply(stray); err == nil || v.Checkpoint().Next != 3 {
			t.Fatalf("Apply of a block from another chain = %v, checkpoint %d", err, v.Checkpoint().Next)
		}
	})
}

// The view is live only while it hears from its peer within the bound, and
// while it is not left behind by it.
func TestViewLiveness(t *testing.T) {
	now := testNow
	v := NewView()
	v.pos.SetClock(func() time.Time { return now })
	applyEmpty(t, v, 3)
	v.follow(3)
	if live, why := v.Live(); !live {
		t.Fatalf("live right after following: %s", why)
	}
	now = now.Add(follow.DefaultBound + time.Millisecond)
	if live, why := v.Live(); live || !strings.Contains(why, "has not heard from the ledger") {
		t.Fatalf("after the bound without a word: live %v, %q", live, why)
	}
	v.pos.Heartbeat(3)
	if live, why := v.Live(); !live {
		t.Fatalf("after a heartbeat: %s", why)
	}
	v.pos.Heartbeat(5) // the peer has two blocks the view has not read
	now = now.Add(follow.DefaultBound / 2)
	v.pos.Heartbeat(5)
	if live, _ := v.Live(); !live {
		t.Fatal("behind for less than the bound: still live")
	}
	now = now.Add(follow.DefaultBound)
	v.pos.Heartbeat(5)
	if live, why := v.Live(); live || !strings.Contains(why, "2 blocks behind") {
		t.Fatalf("behind for longer than the bound: live %v, %q", live, why)
	}
	applyEmpty(t, v, 5)
	v.pos.Heartbeat(5)
	if live, why := v.Live(); !live {
		t.Fatalf("caught up: %s", why)
	}
}

// saveView writes the view's snapshot to path, as the follower does.
func saveView(t *testing.T, v *View, path string) {
	t.Helper()
	raw, err := v.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// follow and stop move the view's position, as the follower does.
func (v *View) follow(height uint64) { v.pos.Follow(height) }
func (v *View) stop()                { v.pos.Stop() }
