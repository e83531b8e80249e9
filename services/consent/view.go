package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/follow"
	"healthexchange/services/platform/ledger"
)

// Events the view applies (chaincode/SPEC.md).
const (
	eventConsentGranted = "ConsentGranted"
	eventConsentRevoked = "ConsentRevoked"
	eventPatientErased  = "PatientErased"
	eventRegistered     = "PatientRegistered"
	eventMinor          = "MinorRegistered"
	eventDelegated      = "DelegationGranted"
	eventUndelegated    = "DelegationRevoked"
)

// viewFormat is the snapshot format; a snapshot of another format is
// ignored and the view rebuilt from the ledger.
const viewFormat = 4

// View is the decision view of consent state: every patient's consents as of
// the last block read, indexed by patient and grantee. It is trusted only
// while its position on the chain is live (follow.Position): decisions are
// denied while it is not.
type View struct {
	pos *follow.Position

	mu        sync.RWMutex
	byPatient map[string]*patientConsents
	patients  map[string]bool // registered patients
	erased    map[string]bool // patients whose data was erased: always denied
	// delegations are the delegations patients gave, by patient and id.
	delegations map[string]map[string]ledgerapi.Delegation
	changed     chan struct{} // closed and replaced on every change
	// observe, if set, hears of every consent change and erasure the view
	// applies, after it applied them.
	observe observer
}

// patientConsents are one patient's consents, by id and by grantee.
type patientConsents struct {
	byID      map[string]ledgerapi.Consent
	byGrantee map[ledgerapi.Grantee][]string // consent ids, sorted
	// prepared are the consents as policy documents, made once when they
	// change rather than on every decision.
	prepared map[string]policy.PreparedConsent
}

// observer hears what a block changed.
type observer struct {
	consent func(ledgerapi.Consent)
	erased  func(patientID string)
}

// NewView returns an empty view that starts at the genesis block.
func NewView() *View {
	return &View{pos: follow.NewPosition("consent view", follow.DefaultBound), byPatient: map[string]*patientConsents{},
		patients: map[string]bool{}, erased: map[string]bool{}, delegations: map[string]map[string]ledgerapi.Delegation{},
		changed: make(chan struct{})}
}

// Position is the view's place on the chain (follow.View).
func (v *View) Position() *follow.Position { return v.pos }

// viewState is what a snapshot holds: the position and the consents as of it.
type viewState struct {
	Format int `json:"format"`
	follow.State
	Patients []string            `json:"patients"`
	Consents []ledgerapi.Consent `json:"consents"`
	Erased   []string            `json:"erased,omitempty"`
	// Delegations are the patients' delegations.
	Delegations []ledgerapi.Delegation `json:"delegations,omitempty"`
}

// Apply applies a block's consent events in order and moves the checkpoint
// past it. Blocks must come in order; a block already applied is ignored.
func (v *View) Apply(b ledger.Block) error {
	// Decode first, so a malformed event leaves the view as it was.
	var changes []ledgerapi.Consent
	var erasures, registrations []string
	var delegations []ledgerapi.Delegation
	for _, e := range b.Events {
		if e.Name == eventDelegated || e.Name == eventUndelegated {
			var d ledgerapi.Delegation
			if err := json.Unmarshal(e.Payload, &d); err != nil || d.DelegationID == "" || d.PatientID == "" {
				return fmt.Errorf("consent view: block %d tx %s: malformed %s event", b.Number, e.TransactionID, e.Name)
			}
			delegations = append(delegations, d)
			continue
		}
		if e.Name == eventMinor {
			// A hospital's registration of a child: the entry and the
			// guardian's delegation, in one event.
			var m ledgerapi.MinorRegistered
			if err := json.Unmarshal(e.Payload, &m); err != nil || m.Patient.PatientID == "" || m.Delegation.DelegationID == "" ||
				m.Delegation.PatientID != m.Patient.PatientID {
				return fmt.Errorf("consent view: block %d tx %s: malformed %s event", b.Number, e.TransactionID, e.Name)
			}
			registrations = append(registrations, m.Patient.PatientID)
			delegations = append(delegations, m.Delegation)
			continue
		}
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
	obs, applied, err := v.apply(b, changes, registrations, erasures, delegations)
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

// apply changes the view for block b, if it is the next one, and returns
// the observer to tell.
func (v *View) apply(b ledger.Block, changes []ledgerapi.Consent, registrations, erasures []string, delegations []ledgerapi.Delegation) (observer, bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if next, err := v.pos.Check(b); !next || err != nil {
		return observer{}, false, err
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
	for _, d := range delegations {
		v.putDelegation(d)
	}
	v.pos.Advance(b)
	v.notify()
	return v.observe, true, nil
}

// put stores a consent's state. A revocation is final: a consent the view
// has as revoked stays revoked whatever older state arrives after it (a
// revocation this service committed is applied before its block is read).
func (v *View) put(c ledgerapi.Consent) {
	pc := v.byPatient[c.PatientID]
	if pc == nil {
		pc = &patientConsents{byID: map[string]ledgerapi.Consent{}, byGrantee: map[ledgerapi.Grantee][]string{},
			prepared: map[string]policy.PreparedConsent{}}
		v.byPatient[c.PatientID] = pc
	}
	old, known := pc.byID[c.ConsentID]
	if known && old.Status == ledgerapi.StatusRevoked && c.Status != ledgerapi.StatusRevoked {
		return
	}
	if known && old.Grantee != c.Grantee { // never, for the same consent id; kept exact anyway
		pc.byGrantee[old.Grantee] = slices.DeleteFunc(pc.byGrantee[old.Grantee], func(id string) bool { return id == c.ConsentID })
	}
	pc.byID[c.ConsentID] = c
	pc.prepared[c.ConsentID] = policy.PrepareConsent(policyConsent(c))
	if ids := pc.byGrantee[c.Grantee]; !slices.Contains(ids, c.ConsentID) {
		ids = append(ids, c.ConsentID)
		slices.Sort(ids)
		pc.byGrantee[c.Grantee] = ids
	}
}

// putDelegation stores a delegation's state; as for a consent, a revocation
// is final.
func (v *View) putDelegation(d ledgerapi.Delegation) {
	byID := v.delegations[d.PatientID]
	if byID == nil {
		byID = map[string]ledgerapi.Delegation{}
		v.delegations[d.PatientID] = byID
	}
	if old, ok := byID[d.DelegationID]; ok && old.Status == ledgerapi.StatusRevoked && d.Status != ledgerapi.StatusRevoked {
		return
	}
	byID[d.DelegationID] = d
}

// CommittedDelegation applies a delegation change whose transaction this
// service saw commit, before its block reaches the view.
func (v *View) CommittedDelegation(d ledgerapi.Delegation) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.putDelegation(d)
	v.notify()
}

// Delegations are the delegations the patient gave the delegate, whatever
// their status, in id order, as the policy reads them: it decides which
// count.
func (v *View) Delegations(patientID, delegateID string) []policy.Delegation {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []policy.Delegation
	for _, d := range v.delegations[patientID] {
		if d.DelegateID == delegateID {
			out = append(out, policy.Delegation{DelegationID: d.DelegationID, PatientID: d.PatientID, DelegateID: d.DelegateID,
				Powers: d.Powers, Status: d.Status, ExpiresAt: d.ExpiresAt})
		}
	}
	slices.SortFunc(out, func(a, b policy.Delegation) int { return strings.Compare(a.DelegationID, b.DelegationID) })
	return out
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

// Reset empties the view and its position, to be rebuilt from the genesis
// block (follow.View).
func (v *View) Reset() {
	v.restore(viewState{})
}

// Expiring returns the active consents whose end falls in [from, to).
func (v *View) Expiring(from, to time.Time) []ledgerapi.Consent {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []ledgerapi.Consent
	for _, pc := range v.byPatient {
		for _, c := range pc.byID {
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

// Live reports whether decisions may rely on the view, and if not, why.
func (v *View) Live() (bool, string) { return v.pos.Live() }

// Checkpoint is the next block the view will read.
func (v *View) Checkpoint() ledger.Checkpoint { return ledger.Checkpoint{Next: v.pos.Next()} }

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
// organisation, or the subject's organisation, in consent-id order, whatever
// their status: the policy decides which of them count.
func (v *View) Matching(patientID, subjectID, subjectOrg string) []ledgerapi.Consent {
	v.mu.RLock()
	defer v.mu.RUnlock()
	pc, ids := v.matching(patientID, subjectID, subjectOrg)
	out := make([]ledgerapi.Consent, len(ids))
	for i, id := range ids {
		out[i] = pc.byID[id]
	}
	return out
}

// MatchingPrepared is Matching as policy documents, ready for a decision.
func (v *View) MatchingPrepared(patientID, subjectID, subjectOrg string) []policy.PreparedConsent {
	v.mu.RLock()
	defer v.mu.RUnlock()
	pc, ids := v.matching(patientID, subjectID, subjectOrg)
	out := make([]policy.PreparedConsent, len(ids))
	for i, id := range ids {
		out[i] = pc.prepared[id]
	}
	return out
}

// matching returns the patient's consents and the ids of those naming the
// subject or its organisation, sorted. The caller holds the lock.
func (v *View) matching(patientID, subjectID, subjectOrg string) (*patientConsents, []string) {
	pc := v.byPatient[patientID]
	if pc == nil || subjectOrg == "" {
		return nil, nil
	}
	var ids []string
	if subjectID != "" {
		ids = append(ids, pc.byGrantee[ledgerapi.UserGrantee(subjectOrg, subjectID)]...)
	}
	orgIDs := pc.byGrantee[ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: subjectOrg}]
	if len(ids) == 0 {
		return pc, orgIDs // shared, read-only: the caller copies
	}
	ids = append(ids, orgIDs...)
	slices.Sort(ids)
	return pc, ids
}

// Await waits until the view has applied the transaction txID's change of
// consentID (its grant or its revoke), so a decision right after a committed
// change already sees it.
func (v *View) Await(ctx context.Context, patientID, consentID, txID string) error {
	for {
		v.mu.RLock()
		var c ledgerapi.Consent
		ok := false
		if pc := v.byPatient[patientID]; pc != nil {
			c, ok = pc.byID[consentID]
		}
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

// Snapshot is the view as a snapshot keeps it (follow.View).
func (v *View) Snapshot() ([]byte, error) { return json.Marshal(v.state()) }

// state copies the view for a snapshot.
func (v *View) state() viewState {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s := viewState{Format: viewFormat, State: v.pos.State()}
	for p := range v.patients {
		s.Patients = append(s.Patients, p)
	}
	slices.Sort(s.Patients)
	for _, pc := range v.byPatient {
		for _, c := range pc.byID {
			s.Consents = append(s.Consents, c)
		}
	}
	slices.SortFunc(s.Consents, func(a, b ledgerapi.Consent) int { return strings.Compare(a.ConsentID, b.ConsentID) })
	for p := range v.erased {
		s.Erased = append(s.Erased, p)
	}
	slices.Sort(s.Erased)
	for _, byID := range v.delegations {
		for _, d := range byID {
			s.Delegations = append(s.Delegations, d)
		}
	}
	slices.SortFunc(s.Delegations, func(a, b ledgerapi.Delegation) int { return strings.Compare(a.DelegationID, b.DelegationID) })
	return s
}

// restore replaces the view's content with a snapshot's; it is not live
// until it follows the ledger again.
func (v *View) restore(s viewState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.byPatient = map[string]*patientConsents{}
	for _, c := range s.Consents {
		v.put(c)
	}
	v.patients = map[string]bool{}
	for _, p := range s.Patients {
		v.patients[p] = true
	}
	v.erased = map[string]bool{}
	for _, p := range s.Erased {
		v.erased[p] = true
	}
	v.delegations = map[string]map[string]ledgerapi.Delegation{}
	for _, d := range s.Delegations {
		v.putDelegation(d)
	}
	v.pos.Restore(s.State)
	v.notify()
}
