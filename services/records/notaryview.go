package records

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/follow"
	"healthexchange/services/platform/ledger"
)

// eventRecordNotarized is the chaincode's event of a notarized version
// (chaincode/SPEC.md).
const eventRecordNotarized = "RecordNotarized"

// notaryFormat is the snapshot format; another is rebuilt from the ledger.
const notaryFormat = 1

// NotaryView is the records service's copy of the notary: every record's
// notarized versions as of the last block read, fed by the chaincode's
// RecordNotarized events (follow.Follower keeps it current and saves it).
// A get reads a record's history here instead of asking the ledger; while
// the view is not live, or does not know a record yet, the ledger is asked
// (it is the authority; the view only saves the round trip).
type NotaryView struct {
	pos *follow.Position

	mu       sync.RWMutex
	versions map[string][]ledgerapi.Notarization // by record id, version 1 first
}

// NewNotaryView is an empty view at the genesis block.
func NewNotaryView() *NotaryView {
	return &NotaryView{pos: follow.NewPosition("notary view", follow.DefaultBound), versions: map[string][]ledgerapi.Notarization{}}
}

// Position is the view's place on the chain (follow.View).
func (v *NotaryView) Position() *follow.Position { return v.pos }

// Apply applies a block's notarizations (follow.View).
func (v *NotaryView) Apply(b ledger.Block) error {
	var ns []ledgerapi.Notarization
	for _, e := range b.Events {
		if e.Name != eventRecordNotarized {
			continue
		}
		var n ledgerapi.Notarization
		if err := json.Unmarshal(e.Payload, &n); err != nil || n.RecordID == "" || n.PatientID == "" || n.Version < 1 {
			return fmt.Errorf("notary view: block %d tx %s: malformed %s event", b.Number, e.TransactionID, e.Name)
		}
		ns = append(ns, n)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if next, err := v.pos.Check(b); !next || err != nil {
		return err
	}
	for _, n := range ns {
		v.put(n)
	}
	v.pos.Advance(b)
	return nil
}

// put adds a version that follows the record's last one; a version already
// there (one this service committed before its block came) is kept as is.
func (v *NotaryView) put(n ledgerapi.Notarization) {
	vs := v.versions[n.RecordID]
	if n.Version == len(vs)+1 {
		v.versions[n.RecordID] = append(vs, n)
	}
}

// Committed adds a version whose notarization this service saw commit,
// before its block reaches the view.
func (v *NotaryView) Committed(n ledgerapi.Notarization) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.put(n)
}

// History is a record's versions, oldest first, when the view is live and
// knows the record; ok false means: ask the ledger.
func (v *NotaryView) History(recordID string) ([]ledgerapi.Notarization, bool) {
	if live, _ := v.pos.Live(); !live {
		return nil, false
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	vs, ok := v.versions[recordID]
	if !ok {
		return nil, false
	}
	return slices.Clone(vs), true
}

// notaryState is what a snapshot holds.
type notaryState struct {
	Format int `json:"format"`
	follow.State
	Versions []ledgerapi.Notarization `json:"versions"`
}

// Snapshot is the view as a snapshot keeps it (follow.View).
func (v *NotaryView) Snapshot() ([]byte, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s := notaryState{Format: notaryFormat, State: v.pos.State(), Versions: []ledgerapi.Notarization{}}
	for _, vs := range v.versions {
		s.Versions = append(s.Versions, vs...)
	}
	slices.SortFunc(s.Versions, func(a, b ledgerapi.Notarization) int {
		if c := strings.Compare(a.RecordID, b.RecordID); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return json.Marshal(s)
}

// Reset empties the view (follow.View).
func (v *NotaryView) Reset() { v.restore(notaryState{}) }

func (v *NotaryView) restore(s notaryState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.versions = map[string][]ledgerapi.Notarization{}
	for _, n := range s.Versions {
		v.put(n)
	}
	v.pos.Restore(s.State)
}

// loadNotaryView restores the view from its snapshot at path, if there is
// one of this format.
func loadNotaryView(path string, v *NotaryView) error {
	raw, err := follow.ReadSnapshot(path)
	if err != nil || raw == nil {
		return err
	}
	var s notaryState
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("notary view snapshot %s: %w", path, err)
	}
	if s.Format == notaryFormat {
		v.restore(s)
	}
	return nil
}
