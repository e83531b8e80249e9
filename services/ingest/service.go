package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/durable"
	"healthexchange/services/platform/keylock"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/pep"
	"healthexchange/services/store/readingstore"
)

var tracer = otel.Tracer("healthexchange/services/ingest")

// Ledger is what the service needs of the ledger client (*ledger.Client).
type Ledger interface {
	Device(ctx context.Context, deviceID string) (ledgerapi.Device, error)
	AnchorRoot(ctx context.Context, a ledgerapi.RootAnchor) (ledgerapi.RootAnchor, error)
	RootAnchorOf(ctx context.Context, anchorID string) (ledgerapi.RootAnchor, error)
}

// Sealer encrypts and decrypts patients' objects (*vault.Vault).
type Sealer = readingstore.Sealer

// stored is the journal's record of one durably stored batch, waiting to be
// anchored.
type stored struct {
	DeviceID  string    `json:"deviceId"`
	PatientID string    `json:"patientId"`
	Seq       uint64    `json:"seq"`
	Key       string    `json:"key"`
	SHA256    string    `json:"sha256"`
	Readings  int       `json:"readings"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
}

// Service is the ingest service's logic, behind the gRPC API.
type Service struct {
	ledger  Ledger
	decider pep.Authorizer
	objects objectstore.Objects
	archive *readingstore.Archive
	vault   Sealer
	journal *durable.Journal[stored]
	log     *slog.Logger
	now     func() time.Time
	limits  Limits

	// seen is the highest sequence number stored per device; it is saved
	// (hwmPath) before the journal entries that raised it are acknowledged,
	// so the saved copy plus the journal is always complete.
	seenMu  sync.Mutex
	seen    map[string]uint64
	hwmPath string
	devices keylock.Locks

	// instance names this service's anchors (anchor ids are
	// <instance>-<first>-<last> journal sequence numbers).
	instance string
	anchorMu sync.Mutex

	hooks *hooks
}

// Limits are the checks on readings and the anchoring period.
type Limits struct {
	// MaxSkew is how far in the future a reading may be (device clocks
	// drift); MaxAge how old.
	MaxSkew, MaxAge time.Duration
	// AnchorEvery is the anchoring period; AnchorMax the most batches under
	// one root.
	AnchorEvery time.Duration
	AnchorMax   int
}

// hooks are test-only points (nil in production).
type hooks struct {
	// afterObjectPut runs once a batch's object is stored, before its
	// journal entry.
	afterObjectPut func()
}

// newService opens the service's state in stateDir: the journal of batches
// not yet anchored and the saved sequence numbers.
func newService(l Ledger, d pep.Authorizer, o objectstore.Objects, v Sealer, stateDir, instance string, limits Limits, log *slog.Logger) (*Service, error) {
	j, err := durable.OpenJournal[stored](stateDir + "/journal")
	if err != nil {
		return nil, err
	}
	s := &Service{ledger: l, decider: d, objects: o, vault: v, archive: readingstore.NewArchive(o, v), journal: j, log: log, now: time.Now, limits: limits,
		seen: map[string]uint64{}, hwmPath: stateDir + "/sequence-numbers.json", instance: instance}
	raw, err := os.ReadFile(s.hwmPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		j.Close()
		return nil, fmt.Errorf("ingest: %w", err)
	default:
		if err := json.Unmarshal(raw, &s.seen); err != nil {
			j.Close()
			return nil, fmt.Errorf("ingest: %s: %w", s.hwmPath, err)
		}
	}
	for _, e := range j.Pending(j.Len()) {
		s.seen[e.Record.DeviceID] = max(s.seen[e.Record.DeviceID], e.Record.Seq)
	}
	return s, nil
}

// Close closes the journal.
func (s *Service) Close() error { return s.journal.Close() }

// lastSeq is the highest sequence number stored for a device.
func (s *Service) lastSeq(deviceID string) uint64 {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	return s.seen[deviceID]
}

func (s *Service) setSeen(deviceID string, seq uint64) {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	s.seen[deviceID] = max(s.seen[deviceID], seq)
}

// saveSeen writes the sequence numbers, atomically and durably.
func (s *Service) saveSeen() error {
	s.seenMu.Lock()
	raw, err := json.Marshal(s.seen)
	s.seenMu.Unlock()
	if err != nil {
		return err
	}
	return durable.WriteFile(s.hwmPath, raw, 0o600)
}
