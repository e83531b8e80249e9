package consent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"healthexchange/chaincode/ledgerapi"
)

// Kinds of notification on a patient's feed.
const (
	noteAccess          = "access"           // a decision about the patient's data, allowed or denied
	noteBreakGlass      = "break-glass"      // an emergency access without consent, with the clinician's reason
	noteAccessRequest   = "access-request"   // someone asks the patient for access
	noteConsentGranted  = "consent-granted"  // a consent of the patient's came into force on the ledger
	noteConsentRevoked  = "consent-revoked"  // and was revoked
	noteConsentExpiring = "consent-expiring" // an active consent ends within the notice period
)

// notification is one entry of a patient's feed. It holds identifiers,
// codes and times; the only free text, a break-glass reason, is kept sealed
// (Sealed) and opened for the patient alone.
type notification struct {
	Seq         uint64   `json:"seq"`
	PatientID   string   `json:"patientId"`
	Time        string   `json:"time"`
	Kind        string   `json:"kind"`
	Key         string   `json:"key"` // what it is about, once: a repeat is not written
	Actor       string   `json:"actor,omitempty"`
	ActorRole   string   `json:"actorRole,omitempty"`
	ActorOrg    string   `json:"actorOrg,omitempty"`
	Action      string   `json:"action,omitempty"`
	Resource    string   `json:"resource,omitempty"`
	Purpose     string   `json:"purpose,omitempty"`
	Decision    string   `json:"decision,omitempty"`
	ReasonCodes []string `json:"reasonCodes,omitempty"`
	EventID     string   `json:"eventId,omitempty"`
	ConsentID   string   `json:"consentId,omitempty"`
	Grantee     string   `json:"grantee,omitempty"`
	ExpiresAt   string   `json:"expiresAt,omitempty"`
	RequestID   string   `json:"requestId,omitempty"`
	GrantUntil  string   `json:"grantUntil,omitempty"`
	Sealed      string   `json:"sealed,omitempty"` // the sealed break-glass reason
}

// feed is every patient's notification feed: one append-only file per
// patient in dir (<patient id>.jsonl, 0600), written by one goroutine that
// takes every queued notification at once and writes each patient's lines
// with one write. A notification appended with wait is synced to disk
// before Append returns (and its patient's file with it: group commit); the
// others are written within a moment and reach the disk with the next sync
// or the system's flush. Those are the ones the access-event journal also
// holds durably, so a crash can lose a line of the feed, never the record of
// an access. Readers list a patient's file and may wait for more.
type feed struct {
	dir string
	log *slog.Logger

	mu       sync.Mutex
	patients map[string]*patientFeed
	queue    []feedWrite
	wake     chan struct{}
	closed   bool
	stopped  chan struct{}
}

type patientFeed struct {
	next    uint64          // the last sequence number given
	keys    map[string]bool // every key written or queued
	changed chan struct{}   // closed and replaced when lines are written
}

type feedWrite struct {
	n    notification
	done chan error // nil: nobody waits
}

// errFeedClosed: the feed no longer takes notifications.
var errFeedClosed = errors.New("notification feed closed")

// openFeed opens the feed in dir (made 0700) and starts its writer.
func openFeed(dir string, log *slog.Logger) (*feed, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("notification feed: %w", err)
	}
	f := &feed{dir: dir, log: log, patients: map[string]*patientFeed{}, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go f.writer()
	return f, nil
}

func (f *feed) path(patientID string) string { return filepath.Join(f.dir, patientID+".jsonl") }

// patient is the patient's feed state, read from their file the first
// time. Called with f.mu held.
func (f *feed) patient(patientID string) (*patientFeed, error) {
	if p, ok := f.patients[patientID]; ok {
		return p, nil
	}
	p := &patientFeed{keys: map[string]bool{}, changed: make(chan struct{})}
	err := f.scan(patientID, func(n notification) bool {
		p.next = max(p.next, n.Seq)
		p.keys[n.Key] = true
		return true
	})
	if err != nil {
		return nil, err
	}
	f.patients[patientID] = p
	return p, nil
}

// scan calls fn with each of the patient's notifications in order until fn
// returns false. A patient without a file has none.
func (f *feed) scan(patientID string, fn func(notification) bool) error {
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return err
	}
	file, err := os.Open(f.path(patientID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("notification feed: %w", err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var n notification
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			// A torn last line (a crash mid-write) ends the feed.
			break
		}
		if !fn(n) {
			return nil
		}
	}
	return nil
}

// Append queues n for its patient's feed, numbered next, unless a
// notification with the same key is already there. With wait it returns
// once n is on disk (or the write failed); without, at once.
func (f *feed) Append(ctx context.Context, n notification, wait bool) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return errFeedClosed
	}
	p, err := f.patient(n.PatientID)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	if p.keys[n.Key] {
		f.mu.Unlock()
		return nil
	}
	p.keys[n.Key] = true
	p.next++
	n.Seq = p.next
	w := feedWrite{n: n}
	if wait {
		w.done = make(chan error, 1)
	}
	f.queue = append(f.queue, w)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	if !wait {
		return nil
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writer writes whatever is queued, again and again, until Close.
func (f *feed) writer() {
	defer close(f.stopped)
	for {
		f.mu.Lock()
		batch := f.queue
		f.queue = nil
		closed := f.closed
		f.mu.Unlock()
		if len(batch) > 0 {
			f.write(batch)
			continue
		}
		if closed {
			return
		}
		<-f.wake
	}
}

// write appends a batch, each patient's lines with one write and one sync,
// then wakes the readers and answers the waiters.
func (f *feed) write(batch []feedWrite) {
	byPatient := map[string][]feedWrite{}
	var order []string
	for _, w := range batch {
		if _, ok := byPatient[w.n.PatientID]; !ok {
			order = append(order, w.n.PatientID)
		}
		byPatient[w.n.PatientID] = append(byPatient[w.n.PatientID], w)
	}
	for _, patientID := range order {
		ws := byPatient[patientID]
		sync := slices.ContainsFunc(ws, func(w feedWrite) bool { return w.done != nil })
		err := f.appendLines(patientID, ws, sync)
		if err != nil {
			f.log.Error("notification feed: write failed", "patient", patientID, "notifications", len(ws), "err", err)
		}
		// Readers are woken before waiters are answered: a channel from a
		// List made after an Append returned is closed only by a later
		// write.
		f.mu.Lock()
		if p, ok := f.patients[patientID]; ok {
			close(p.changed)
			p.changed = make(chan struct{})
		}
		f.mu.Unlock()
		for _, w := range ws {
			if w.done != nil {
				w.done <- err
			}
		}
	}
}

func (f *feed) appendLines(patientID string, ws []feedWrite, sync bool) error {
	var buf bytes.Buffer
	for _, w := range ws {
		line, err := json.Marshal(w.n)
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	file, err := os.OpenFile(f.path(patientID), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := file.Write(buf.Bytes()); err != nil {
		file.Close()
		return err
	}
	if sync {
		if err := file.Sync(); err != nil {
			file.Close()
			return err
		}
	}
	return file.Close()
}

// List returns up to limit of the patient's notifications after seq, in
// order, and a channel closed when more are written.
func (f *feed) List(patientID string, after uint64, limit int) ([]notification, <-chan struct{}, error) {
	f.mu.Lock()
	p, err := f.patient(patientID)
	var changed <-chan struct{}
	if p != nil {
		changed = p.changed
	}
	f.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	out := []notification{}
	err = f.scan(patientID, func(n notification) bool {
		if n.Seq > after {
			out = append(out, n)
		}
		return len(out) < limit
	})
	return out, changed, err
}

// Erase removes a patient's feed: what it told them is gone with their data.
func (f *feed) Erase(patientID string) error {
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.patients, patientID)
	if err := os.Remove(f.path(patientID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("notification feed: %w", err)
	}
	return nil
}

// Close writes what is queued and stops the writer.
func (f *feed) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	<-f.stopped
	return nil
}
