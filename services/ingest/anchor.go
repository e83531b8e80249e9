package ingest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/merkle"
	"healthexchange/services/platform/durable"
	"healthexchange/services/store/readingstore"
)

// pointer is a batch's place under an anchor: what a proof is made from.
type pointer struct {
	AnchorID  string   `json:"anchorId"`
	BatchKey  string   `json:"batchKey"`
	SHA256    string   `json:"sha256"`
	LeafIndex int      `json:"leafIndex"`
	Size      int      `json:"size"`
	Root      string   `json:"root"`
	Path      []string `json:"path"`
}

// leafOf is a batch's Merkle leaf: the RFC 9162 leaf hash of the SHA-256 of
// its payload.
func leafOf(sha256Hex string) (merkle.Hash, error) {
	sum, err := hex.DecodeString(sha256Hex)
	if err != nil || len(sum) != 32 {
		return merkle.Hash{}, fmt.Errorf("batch hash %q is not a SHA-256", sha256Hex)
	}
	return merkle.LeafHash(sum), nil
}

// AnchorOnce anchors the batches stored and not yet anchored (at most
// AnchorMax): a Merkle tree over their hashes, each batch's pointer (anchor
// id, index, path) written to storage, the root anchored with one ledger
// transaction, then the sequence numbers saved and the journal entries
// acknowledged. A failure anywhere leaves the entries in the journal for the
// next period; the anchor id depends only on which entries it covers, so
// repeating an anchoring that did land writes nothing new on the ledger. It
// returns how many batches it anchored.
func (s *Service) AnchorOnce(ctx context.Context) (int, error) {
	s.anchorMu.Lock()
	defer s.anchorMu.Unlock()
	entries := s.journal.Pending(s.limits.AnchorMax)
	if len(entries) == 0 {
		return 0, nil
	}
	ctx, span := tracer.Start(ctx, "anchor")
	defer span.End()
	leaves := make([]merkle.Hash, len(entries))
	readings := 0
	from, to := entries[0].Record.From, entries[0].Record.To
	for i, e := range entries {
		leaf, err := leafOf(e.Record.SHA256)
		if err != nil {
			return 0, err
		}
		leaves[i] = leaf
		readings += e.Record.Readings
		from, to = minTime(from, e.Record.From), maxTime(to, e.Record.To)
	}
	tree, err := merkle.New(leaves)
	if err != nil {
		return 0, err
	}
	anchorID := fmt.Sprintf("%s-%d-%d", s.instance, entries[0].Seq, entries[len(entries)-1].Seq)
	root := tree.Root().String()
	if err := s.writePointers(ctx, anchorID, root, tree, entries); err != nil {
		return 0, err
	}
	a, err := s.ledger.AnchorRoot(ctx, ledgerapi.RootAnchor{AnchorID: anchorID, Root: root, Size: len(entries),
		Readings: readings, From: ledgerapi.FormatTime(from), To: ledgerapi.FormatTime(to)})
	if err != nil {
		return 0, fmt.Errorf("anchor %s: %w", anchorID, err)
	}
	if err := s.saveSeen(); err != nil {
		return 0, err
	}
	if err := s.journal.Ack(entries[len(entries)-1].Seq); err != nil {
		return 0, err
	}
	s.log.InfoContext(ctx, "batches anchored", "anchor", anchorID, "batches", len(entries), "readings", readings,
		"root", root, "tx", a.TxID)
	return len(entries), nil
}

// pointerWriters bounds the concurrent pointer writes of one anchoring.
const pointerWriters = 8

func (s *Service) writePointers(ctx context.Context, anchorID, root string, tree *merkle.Tree, entries []durable.Entry[stored]) error {
	var wg sync.WaitGroup
	errs := make(chan error, pointerWriters)
	next := make(chan int)
	for range pointerWriters {
		wg.Go(func() {
			for i := range next {
				if err := s.writePointer(ctx, anchorID, root, tree, i, entries[i].Record); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range entries {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		return nil
	}
}

func (s *Service) writePointer(ctx context.Context, anchorID, root string, tree *merkle.Tree, i int, e stored) error {
	proof, err := tree.Proof(i)
	if err != nil {
		return err
	}
	path := make([]string, len(proof.Path))
	for j, h := range proof.Path {
		path[j] = h.String()
	}
	raw, err := json.Marshal(pointer{AnchorID: anchorID, BatchKey: e.Key, SHA256: e.SHA256, LeafIndex: i,
		Size: tree.Len(), Root: root, Path: path})
	if err != nil {
		return err
	}
	return s.objects.Put(ctx, readingstore.ProofKey(e.PatientID, e.DeviceID, e.Seq), raw)
}

// anchorEvery runs AnchorOnce every period until ctx ends, and once more
// then, so what was stored before a clean stop is anchored.
func (s *Service) anchorEvery(ctx context.Context) {
	t := time.NewTicker(s.limits.AnchorEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if _, err := s.AnchorOnce(final); err != nil {
				s.log.Warn("anchoring at stop failed; the journal keeps the batches for the next start", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
		for {
			n, err := s.AnchorOnce(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "anchoring failed; retried next period", "err", err)
				}
				break
			}
			if n < s.limits.AnchorMax {
				break // caught up
			}
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
