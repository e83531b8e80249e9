package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"healthexchange/services/platform/durable"
	"healthexchange/services/platform/ledger"
)

// blockSource is the part of the ledger client the follower needs.
type blockSource interface {
	Blocks(ctx context.Context, cp ledger.Checkpoint) (<-chan ledger.Block, error)
	ChainHeight(ctx context.Context) (uint64, error)
	BlockHash(ctx context.Context, number uint64) ([]byte, error)
}

// follower keeps a View current: it reads every block from the view's
// checkpoint on, applies it, and saves the view with its checkpoint, so a
// restart resumes where it stopped without replaying the chain and without
// missing a block.
type follower struct {
	src          blockSource
	view         *View
	snapshotPath string
	retry        time.Duration
	saveEvery    time.Duration
	log          *slog.Logger
}

// loadSnapshot restores the view from its last snapshot, if there is one.
func loadSnapshot(path string, v *View) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("consent view snapshot: %w", err)
	}
	var s viewState
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("consent view snapshot %s: %w", path, err)
	}
	if s.Format != viewFormat {
		return nil // an older service's snapshot: rebuilt from the ledger
	}
	v.restore(s)
	return nil
}

func (f *follower) save() {
	raw, err := json.Marshal(f.view.state())
	if err == nil {
		err = durable.WriteFile(f.snapshotPath, raw, 0o600)
	}
	if err != nil {
		// Not fatal: the view stays right in memory, and a restart from an
		// older snapshot replays more blocks.
		f.log.Warn("consent view: snapshot not saved", "err", err)
	}
}

// run follows the ledger until ctx ends, reconnecting after every failure.
// While it is not following, the view is not live and decisions are denied.
func (f *follower) run(ctx context.Context) {
	defer f.save()
	for ctx.Err() == nil {
		err := f.followOnce(ctx)
		f.view.stop()
		if ctx.Err() != nil {
			return
		}
		f.log.Warn("consent view: not following the ledger; decisions are denied until it is", "err", err,
			"next_block", f.view.Checkpoint().Next)
		f.save()
		select {
		case <-time.After(f.retry):
		case <-ctx.Done():
		}
	}
}

func (f *follower) followOnce(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	height, err := f.src.ChainHeight(hctx)
	if err == nil {
		err = f.checkTies(hctx, height)
	}
	cancel()
	if err != nil {
		return err
	}
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	blocks, err := f.src.Blocks(streamCtx, f.view.Checkpoint())
	if err != nil {
		return err
	}
	f.view.follow(height)
	go f.heartbeats(streamCtx)
	f.log.Info("consent view: following the ledger", "from_block", f.view.Checkpoint().Next, "height", height)
	// Save at most every saveEvery, and never leave an applied block unsaved
	// for longer than that, even when no block follows it.
	tick := time.NewTicker(f.saveEvery)
	defer tick.Stop()
	dirty := false
	for {
		select {
		case b, ok := <-blocks:
			if !ok {
				return errors.New("the block stream ended")
			}
			if err := f.view.Apply(b); err != nil {
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
func (f *follower) checkTies(ctx context.Context, height uint64) error {
	next := f.view.Checkpoint().Next
	if next == 0 {
		return nil
	}
	if next > height {
		f.log.Warn("consent view: the snapshot is ahead of the ledger; rebuilding it from the genesis block", "snapshot_next", next, "height", height)
		f.view.reset()
		return nil
	}
	genesis, err := f.src.BlockHash(ctx, 0)
	if err != nil {
		return err
	}
	last, err := f.src.BlockHash(ctx, next-1)
	if err != nil {
		return err
	}
	if !f.view.tiedTo(genesis, last) {
		f.log.Warn("consent view: the snapshot is not of this ledger; rebuilding it from the genesis block", "snapshot_next", next)
		f.view.reset()
	}
	return nil
}

// heartbeats asks the peer for its chain height every quarter of the
// view's liveness bound, until ctx ends: a view that stops hearing from its
// peer (a stalled stream, a paused peer) stops being live within the bound.
func (f *follower) heartbeats(ctx context.Context) {
	every := f.view.bound / 4
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, f.view.bound/2)
		height, err := f.src.ChainHeight(hctx)
		cancel()
		if err == nil {
			f.view.heartbeat(height)
		}
	}
}
