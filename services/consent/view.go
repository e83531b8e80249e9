package consent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/ledger"
)

// Events the view applies (chaincode/SPEC.md).
const (
	eventConsentGranted = "ConsentGranted"
	eventConsentRevoked = "ConsentRevoked"
	eventPatientErased  = "PatientErased"
	eventRegistered     = "PatientRegistered"
)

// viewFormat is the snapshot format; a snapshot of another format is
// ignored and the view rebuilt from the ledger.
const viewFormat = 3

// DefaultLiveBound is how long the view may go without hearing from its
// peer (a block, or the chain's height) before decisions are denied.
const DefaultLiveBound = 2 * time.Second

// View is the decision view of consent state: every patient's consents as of
// the last block read. It is live only while it follows the ledger and has
// read every block the peer had when it (re)connected; decisions are denied
// while it is not.
type View struct {
	mu        sync.RWMutex
	byPatient map[string]map[string]ledgerapi.Consent
	patients  map[string]bool // registered patients
	erased    map[string]bool // patients whose data was erased: always denied
	next      uint64          // the next block to read
	target    uint64          // live once next >= target
	following bool
	changed   chan struct{} // closed and replaced on every change
	// genesis and last are the hashes of block 0 and of block next-1: what
	// ties the view (and its snapshot) to one ledger.
	genesis, last []byte
	// heard is when the peer last answered; peerHeight what it said;
	// behindSince when the peer first had blocks the view had not read.
	heard       time.Time
	peerHeight  uint64
	behindSince time.Time
	bound       time.Duration
	now         func() time.Time
	// observe, if set, hears of every consent change and erasure the view
	// applies, after it applied them.
	observe observer
}

// observer hears what a block changed.
type observer struct {
	consent func(ledgerapi.Consent)
	erased  func(patientID string)
}

// NewView returns an empty view that starts at the genesis block.
func NewView() *View {
	return &View{byPatient: map[string]map[string]ledgerapi.Consent{}, patients: map[string]bool{}, erased: map[string]bool{},
		changed: make(chan struct{}), bound: DefaultLiveBound, now: time.Now}
}

// viewState is what a snapshot holds: the checkpoint and the consents as of it.
type viewState struct {
	Format     int                 `json:"format"`
	Checkpoint ledger.Checkpoint   `json:"checkpoint"`
	Genesis    []byte              `json:"genesis,omitempty"`
	Last       []byte              `json:"last,omitempty"`
	Patients   []string            `json:"patients"`
	Consents   []ledgerapi.Consent `json:"consents"`
	Erased     []string            `json:"erased,omitempty"`
}

// Apply applies a block's consent events in order and moves the checkpoint
// past it. Blocks must come in order; a block already applied is ignored.
func (v *View) Apply(b ledger.Block) error {
	// Decode first, so a malformed event leaves the view as it was.
	var changes []ledgerapi.Consent
	var erasures, registrations []string
	for _, e := range b.Events {
		if e.Name == eventRegistered {
			var p ledgerapi.Patient
			if err := json.Unmarshal(e.Payload, &p); err != nil || p.PatientID == "" {
				return fmt.Errorf("consent view: block %d tx %s: malformed %s event", b.Number, e.TransactionID, e.Name)
			}
			registrations = append(registrations, p.PatientID)
			continue
		}
		if e.Name == eventPatientErased {
			var er ledgerapi.Erasure
			if err := json.Unmarshal(e.Payload, &er); err != nil || er.PatientID == "" {
				return fmt.Errorf("consent view: block %d tx %s: malformed %s event", b.Number, e.TransactionID, e.Name)
			}
			erasures = append(erasures, er.PatientID)
			continue
		}
		if e.Name != eventConsentGranted && e.Name != eventConsentRevoked {
			continue
		}
		var c ledgerapi.Consent
		if err := json.Unmarshal(e.Payload, &c); err != nil || c.ConsentID == "" || c.PatientID == "" {
			return fmt.Errorf("consent view: block %d tx %s: malformed %s event", b.Number, e.TransactionID, e.Name)
		}
		changes = append(changes, c)
	}
	obs, applied, err := v.apply(b, changes, registrations, erasures)
	if err != nil || !applied {
		return err
	}
	for _, c := range changes {
		if obs.consent != nil {
			obs.consent(c)
		}
	}
	for _, p := range erasures {
		if obs.erased != nil {
			obs.erased(p)
		}
	}
	return nil
}

// apply changes the view for block number, if it is the next one, and
// returns the observer to tell.
func (v *View) apply(b ledger.Block, changes []ledgerapi.Consent, registrations, erasures []string) (observer, bool, error) {
	number := b.Number
	v.mu.Lock()
	defer v.mu.Unlock()
	if number < v.next {
		return observer{}, false, nil
	}
	if number > v.next {
		return observer{}, false, fmt.Errorf("consent view: block %d arrived while %d was expected", number, v.next)
	}
	if len(b.PreviousHash) > 0 && len(v.last) > 0 && !bytes.Equal(b.PreviousHash, v.last) {
		return observer{}, false, fmt.Errorf("consent view: block %d does not follow the block the view read before it (another ledger?)", number)
	}
	for _, c := range changes {
		v.put(c)
	}
	for _, p := range registrations {
		v.patients[p] = true
	}
	for _, p := range erasures {
		v.erased[p] = true
	}
	v.next = number + 1
	if number == 0 {
		v.genesis = b.Hash
	}
	v.last = b.Hash
	v.heard = v.now()
	if v.peerHeight <= v.next {
		v.behindSince = time.Time{}
	}
	v.notify()
	return v.observe, true, nil
}

// put stores a consent's state. A revocation is final: a consent the view
// has as revoked stays revoked whatever older state arrives after it (a
// revocation this service committed is applied before its block is read).
func (v *View) put(c ledgerapi.Consent) {
	if v.byPatient[c.PatientID] == nil {
		v.byPatient[c.PatientID] = map[string]ledgerapi.Consent{}
	}
	if old, ok := v.byPatient[c.PatientID][c.ConsentID]; ok && old.Status == ledgerapi.StatusRevoked && c.Status != ledgerapi.StatusRevoked {
		return
	}
	v.byPatient[c.PatientID][c.ConsentID] = c
}

// Committed applies a consent change whose transaction this service saw
// commit, before its block reaches the view: from now on decisions see it.
func (v *View) Committed(c ledgerapi.Consent) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.put(c)
	v.notify()
}

// CommittedRegistration records a registration whose transaction this
// service saw commit, before its block reaches the view.
func (v *View) CommittedRegistration(patientID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.patients[patientID] = true
	v.notify()
}

// heartbeat records that the peer answered with its chain height.
func (v *View) heartbeat(height uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	v.heard, v.peerHeight = now, height
	switch {
	case height <= v.next:
		v.behindSince = time.Time{}
	case v.behindSince.IsZero():
		v.behindSince = now
	}
}

// tiedTo reports whether the view's blocks are the ledger's: its genesis
// block and the last block it read have the hashes the peer has for them.
func (v *View) tiedTo(genesis, last []byte) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return bytes.Equal(v.genesis, genesis) && bytes.Equal(v.last, last)
}

// reset empties the view, to be rebuilt from the genesis block.
func (v *View) reset() {
	v.restore(viewState{})
}

// Expiring returns the active consents whose end falls in [from, to).
func (v *View) Expiring(from, to time.Time) []ledgerapi.Consent {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []ledgerapi.Consent
	for _, cs := range v.byPatient {
		for _, c := range cs {
			if c.Status != ledgerapi.StatusActive || c.ExpiresAt == "" || v.erased[c.PatientID] {
				continue
			}
			end, err := ledgerapi.ParseTime("expiresAt", c.ExpiresAt)
			if err == nil && !end.Before(from) && end.Before(to) {
				out = append(out, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b ledgerapi.Consent) int { return strings.Compare(a.ConsentID, b.ConsentID) })
	return out
}

func (v *View) notify() {
	close(v.changed)
	v.changed = make(chan struct{})
}

// follow marks the view as following the ledger, live once it has read
// every block below height; stop marks it as not following.
func (v *View) follow(height uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.following, v.target = true, height
	v.heard, v.peerHeight, v.behindSince = v.now(), height, time.Time{}
	v.notify()
}

func (v *View) stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.following = false
	v.notify()
}

// Live reports whether decisions may rely on the view, and if not, why.
func (v *View) Live() (bool, string) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	switch {
	case !v.following:
		return false, "the consent view is not following the ledger (ledger unreachable)"
	case v.next < v.target:
		return false, fmt.Sprintf("the consent view is catching up with the ledger (block %d of %d)", v.next, v.target)
	}
	now := v.now()
	if quiet := now.Sub(v.heard); quiet > v.bound {
		return false, fmt.Sprintf("the consent view has not heard from the ledger for %s (at most %s allowed)", quiet.Round(time.Millisecond), v.bound)
	}
	if !v.behindSince.IsZero() && now.Sub(v.behindSince) > v.bound {
		return false, fmt.Sprintf("the consent view is %d blocks behind the ledger for %s", v.peerHeight-v.next, now.Sub(v.behindSince).Round(time.Millisecond))
	}
	return true, ""
}

// Checkpoint is the next block the view will read.
func (v *View) Checkpoint() ledger.Checkpoint {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return ledger.Checkpoint{Next: v.next}
}

// Erased reports whether the patient's data was erased: every decision
// about them is a deny.
func (v *View) Erased(patientID string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.erased[patientID]
}

// Registered reports whether the patient is registered on the ledger.
func (v *View) Registered(patientID string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.patients[patientID]
}

// Matching returns the patient's consents that name the subject at their
// organisation, or the subject's organisation, in consent-id order, whatever their status: the
// policy decides which of them count.
func (v *View) Matching(patientID, subjectID, subjectOrg string) []ledgerapi.Consent {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []ledgerapi.Consent
	for _, c := range v.byPatient[patientID] {
		if subjectOrg != "" && (c.Grantee == ledgerapi.UserGrantee(subjectOrg, subjectID) && subjectID != "" ||
			c.Grantee.Kind == ledgerapi.GranteeOrg && c.Grantee.ID == subjectOrg) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b ledgerapi.Consent) int { return strings.Compare(a.ConsentID, b.ConsentID) })
	return out
}

// Await waits until the view has applied the transaction txID's change of
// consentID (its grant or its revoke), so a decision right after a committed
// change already sees it.
func (v *View) Await(ctx context.Context, patientID, consentID, txID string) error {
	for {
		v.mu.RLock()
		c, ok := v.byPatient[patientID][consentID]
		seen := ok && (c.GrantTxID == txID || c.RevokeTxID == txID)
		changed := v.changed
		v.mu.RUnlock()
		if seen {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("consent view: waiting for transaction %s: %w", txID, ctx.Err())
		}
	}
}

// state copies the view for a snapshot.
func (v *View) state() viewState {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s := viewState{Format: viewFormat, Checkpoint: ledger.Checkpoint{Next: v.next}, Genesis: v.genesis, Last: v.last}
	for p := range v.patients {
		s.Patients = append(s.Patients, p)
	}
	slices.Sort(s.Patients)
	for _, consents := range v.byPatient {
		for _, c := range consents {
			s.Consents = append(s.Consents, c)
		}
	}
	slices.SortFunc(s.Consents, func(a, b ledgerapi.Consent) int { return strings.Compare(a.ConsentID, b.ConsentID) })
	for p := range v.erased {
		s.Erased = append(s.Erased, p)
	}
	slices.Sort(s.Erased)
	return s
}

// restore replaces the view's content with a snapshot's; it is not live
// until it follows the ledger again.
func (v *View) restore(s viewState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.byPatient = map[string]map[string]ledgerapi.Consent{}
	for _, c := range s.Consents {
		if v.byPatient[c.PatientID] == nil {
			v.byPatient[c.PatientID] = map[string]ledgerapi.Consent{}
		}
		v.byPatient[c.PatientID][c.ConsentID] = c
	}
	v.patients = map[string]bool{}
	for _, p := range s.Patients {
		v.patients[p] = true
	}
	v.erased = map[string]bool{}
	for _, p := range s.Erased {
		v.erased[p] = true
	}
	v.next, v.following = s.Checkpoint.Next, false
	v.genesis, v.last = s.Genesis, s.Last
	v.notify()
}
