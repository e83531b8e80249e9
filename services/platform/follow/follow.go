// Package follow keeps a service's local view of the ledger current: a
// Follower reads every block from the view's checkpoint on, applies it,
// saves the view with its checkpoint, and tells whether the view may be
// trusted (Position.Live). A view is trusted only while it follows the
// ledger, has read every block the peer had when it connected, has heard
// from the peer within a bound, and is not left behind by it; and a saved
// view is used only for the ledger it was made from (the hashes of its
// genesis block and of the last block it read).
//
// It must never report a view live that is not: the services deny (or ask
// the ledger) whenever Live says no.
package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"healthexchange/services/platform/durable"
	"healthexchange/services/platform/ledger"
)

// DefaultBound is how long a view may go without hearing from its peer (a
// block, or the chain's height) before it is not live.
const DefaultBound = 2 * time.Second

// Position is where a view stands on the chain, and what says whether it
// may be trusted. It is safe for concurrent use.
type Position struct {
	mu        sync.Mutex
	next      uint64 // the next block to read
	target    uint64 // live once next >= target
	following bool
	// genesis and last are the hashes of block 0 and of block next-1.
	genesis, last []byte
	// heard is when the peer last answered; peerHeight what it said;
	// behindSince when the peer first had blocks the view had not read.
	heard       time.Time
	peerHeight  uint64
	behindSince time.Time
	bound       time.Duration
	now         func() time.Time
	name        string
}

// NewPosition is a position at the genesis block, not following, whose
// liveness bound is bound (0: DefaultBound); name says whose view it is in
// the reasons Live gives ("consent view").
func NewPosition(name string, bound time.Duration) *Position {
	if bound <= 0 {
		bound = DefaultBound
	}
	return &Position{bound: bound, now: time.Now, name: name}
}

// SetClock replaces the clock (tests).
func (p *Position) SetClock(now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = now
}

// Bound is the liveness bound.
func (p *Position) Bound() time.Duration { return p.bound }

// Next is the next block the view will read.
func (p *Position) Next() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// Check says whether b is the block the view must apply next: false (and no
// error) for a block already applied; an error for a block past the next, or
// one that does not follow the last block read (another chain).
func (p *Position) Check(b ledger.Block) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case b.Number < p.next:
		return false, nil
	case b.Number > p.next:
		return false, fmt.Errorf("%s: block %d arrived while %d was expected", p.name, b.Number, p.next)
	case len(b.PreviousHash) > 0 && len(p.last) > 0 && !bytes.Equal(b.PreviousHash, p.last):
		return false, fmt.Errorf("%s: block %d does not follow the block read before it (another ledger?)", p.name, b.Number)
	}
	return true, nil
}

// Advance records that b (which Check accepted) has been applied.
func (p *Position) Advance(b ledger.Block) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = b.Number + 1
	if b.Number == 0 {
		p.genesis = b.Hash
	}
	p.last = b.Hash
	p.heard = p.now()
	if p.peerHeight <= p.next {
		p.behindSince = time.Time{}
	}
}

// Follow marks the view as following the ledger, live once it has read
// every block below height.
func (p *Position) Follow(height uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.following, p.target = true, height
	p.heard, p.peerHeight, p.behindSince = p.now(), height, time.Time{}
}

// Stop marks the view as not following.
func (p *Position) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.following = false
}

// Heartbeat records that the peer answered with its chain height.
func (p *Position) Heartbeat(height uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.heard, p.peerHeight = now, height
	switch {
	case height <= p.next:
		p.behindSince = time.Time{}
	case p.behindSince.IsZero():
		p.behindSince = now
	}
}

// Live reports whether the view may be relied on, and if not, why.
func (p *Position) Live() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !p.following:
		return false, fmt.Sprintf("the %s is not following the ledger (ledger unreachable)", p.name)
	case p.next < p.target:
		return false, fmt.Sprintf("the %s is catching up with the ledger (block %d of %d)", p.name, p.next, p.target)
	}
	now := p.now()
	if quiet := now.Sub(p.heard); quiet > p.bound {
		return false, fmt.Sprintf("the %s has not heard from the ledger for %s (at most %s allowed)", p.name, quiet.Round(time.Millisecond), p.bound)
	}
	if !p.behindSince.IsZero() && now.Sub(p.behindSince) > p.bound {
		return false, fmt.Sprintf("the %s is %d blocks behind the ledger for %s", p.name, p.peerHeight-p.next, now.Sub(p.behindSince).Round(time.Millisecond))
	}
	return true, ""
}

// Tied reports whether the view's blocks are the ledger's: its genesis
// block and the last block it read have the hashes the peer has for them.
func (p *Position) Tied(genesis, last []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Equal(p.genesis, genesis) && bytes.Equal(p.last, last)
}

// State is a position as a snapshot keeps it.
type State struct {
	Checkpoint ledger.Checkpoint `json:"checkpoint"`
	Genesis    []byte            `json:"genesis,omitempty"`
	Last       []byte            `json:"last,omitempty"`
}

// State is the position to save.
func (p *Position) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return State{Checkpoint: ledger.Checkpoint{Next: p.next}, Genesis: p.genesis, Last: p.last}
}

// Restore puts the position back where a snapshot left it, not following.
func (p *Position) Restore(s State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next, p.genesis, p.last, p.following = s.Checkpoint.Next, s.Genesis, s.Last, false
}

// Source is the part of the ledger client a Follower needs.
type Source interface {
	Blocks(ctx context.Context, cp ledger.Checkpoint) (<-chan ledger.Block, error)
	ChainHeight(ctx context.Context) (uint64, error)
	BlockHash(ctx context.Context, number uint64) ([]byte, error)
}

// View is what a Follower keeps current.
type View interface {
	// Apply applies the next block (Position().Check, then Advance).
	Apply(ledger.Block) error
	// Position is the view's position.
	Position() *Position
	// Reset empties the view and its position, to be rebuilt from the
	// genesis block.
	Reset()
	// Snapshot is the view and its position, to save.
	Snapshot() ([]byte, error)
}

// Follower keeps a View current: it reads every block from the view's
// checkpoint on, applies it, and saves the view (at SnapshotPath, at most
// every SaveEvery, and when it stops), so a restart resumes where it
// stopped without replaying the chain and without missing a block.
type Follower struct {
	Src          Source
	View         View
	SnapshotPath string
	Retry        time.Duration // the pause before following again after a failure
	SaveEvery    time.Duration
	Log          *slog.Logger
}

func (f *Follower) save() {
	raw, err := f.View.Snapshot()
	if err == nil {
		err = durable.WriteFile(f.SnapshotPath, raw, 0o600)
	}
	if err != nil {
		// Not fatal: the view stays right in memory, and a restart from an
		// older snapshot replays more blocks.
		f.Log.Warn("view snapshot not saved", "path", f.SnapshotPath, "err", err)
	}
}

// Run follows the ledger until ctx ends, reconnecting after every failure.
// While it is not following, the view is not live.
func (f *Follower) Run(ctx context.Context) {
	defer f.save()
	pos := f.View.Position()
	for ctx.Err() == nil {
		err := f.followOnce(ctx)
		pos.Stop()
		if ctx.Err() != nil {
			return
		}
		f.Log.Warn(pos.name+": not following the ledger; it is not trusted until it is", "err", err, "next_block", pos.Next())
		f.save()
		select {
		case <-time.After(f.Retry):
		case <-ctx.Done():
		}
	}
}

func (f *Follower) followOnce(ctx context.Context) error {
	pos := f.View.Position()
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	height, err := f.Src.ChainHeight(hctx)
	if err == nil {
		err = f.checkTies(hctx, height)
	}
	cancel()
	if err != nil {
		return err
	}
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	blocks, err := f.Src.Blocks(streamCtx, ledger.Checkpoint{Next: pos.Next()})
	if err != nil {
		return err
	}
	pos.Follow(height)
	go f.heartbeats(streamCtx)
	f.Log.Info(pos.name+": following the ledger", "from_block", pos.Next(), "height", height)
	// Save at most every SaveEvery, and never leave an applied block unsaved
	// for longer than that, even when no block follows it.
	tick := time.NewTicker(f.SaveEvery)
	defer tick.Stop()
	dirty := false
	for {
		select {
		case b, ok := <-blocks:
			if !ok {
				return errors.New("the block stream ended")
			}
			if err := f.View.Apply(b); err != nil {
				return err
			}
			dirty = true
		case <-tick.C:
			if dirty {
				f.save()
				dirty = false
			}
		}
	}
}

// checkTies makes sure the view's snapshot is of this ledger: a checkpoint
// past the chain's height, or a genesis block or last block whose hash is
// not the peer's, means another ledger (or a damaged snapshot), and the
// view starts again from the genesis block.
func (f *Follower) checkTies(ctx context.Context, height uint64) error {
	pos := f.View.Position()
	next := pos.Next()
	if next == 0 {
		return nil
	}
	if next > height {
		f.Log.Warn(pos.name+": the snapshot is ahead of the ledger; rebuilding it from the genesis block", "snapshot_next", next, "height", height)
		f.View.Reset()
		return nil
	}
	genesis, err := f.Src.BlockHash(ctx, 0)
	if err != nil {
		return err
	}
	last, err := f.Src.BlockHash(ctx, next-1)
	if err != nil {
		return err
	}
	if !pos.Tied(genesis, last) {
		f.Log.Warn(pos.name+": the snapshot is not of this ledger; rebuilding it from the genesis block", "snapshot_next", next)
		f.View.Reset()
	}
	return nil
}

// heartbeats asks the peer for its chain height every quarter of the
// liveness bound, until ctx ends: a view that stops hearing from its peer
// (a stalled stream, a paused peer) stops being live within the bound.
func (f *Follower) heartbeats(ctx context.Context) {
	pos := f.View.Position()
	t := time.NewTicker(pos.bound / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, pos.bound/2)
		height, err := f.Src.ChainHeight(hctx)
		cancel()
		if err == nil {
			pos.Heartbeat(height)
		}
	}
}

// ReadSnapshot reads a saved snapshot; a missing one is nil, nil.
func ReadSnapshot(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return raw, err
}
