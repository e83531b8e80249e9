package ingest

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore/objectstoretest"
	"healthexchange/services/platform/vault"
	"healthexchange/services/platform/vault/vaulttest"
	"healthexchange/wearables/mhealth"
)

var errLedgerDown = &ledger.Error{Function: "fake", Kind: ledger.ErrUnavailable, Message: "ledger down"}

// fakeLedger keeps devices and root anchors in memory.
type fakeLedger struct {
	mu      sync.Mutex
	devices map[string]ledgerapi.Device
	anchors map[string]ledgerapi.RootAnchor
	calls   int // AnchorRoot calls that wrote
	down    bool
	tx      int
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{devices: map[string]ledgerapi.Device{}, anchors: map[string]ledgerapi.RootAnchor{}}
}

func (l *fakeLedger) Device(_ context.Context, id string) (ledgerapi.Device, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return ledgerapi.Device{}, errLedgerDown
	}
	d, ok := l.devices[id]
	if !ok {
		return ledgerapi.Device{}, fmt.Errorf("%w: device %s", ledgerapi.ErrNotFound, id)
	}
	return d, nil
}

func (l *fakeLedger) AnchorRoot(_ context.Context, a ledgerapi.RootAnchor) (ledgerapi.RootAnchor, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return ledgerapi.RootAnchor{}, errLedgerDown
	}
	if old, ok := l.anchors[a.AnchorID]; ok {
		if old.Root != a.Root || old.Size != a.Size {
			return ledgerapi.RootAnchor{}, fmt.Errorf("%w: anchor %s", ledgerapi.ErrConflict, a.AnchorID)
		}
		return old, nil
	}
	l.tx++
	l.calls++
	a.TxID, a.Timestamp = fmt.Sprintf("tx%d", l.tx), ledgerapi.FormatTime(time.Now())
	l.anchors[a.AnchorID] = a
	return a, nil
}

func (l *fakeLedger) RootAnchorOf(_ context.Context, id string) (ledgerapi.RootAnchor, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.anchors[id]
	if !ok {
		return ledgerapi.RootAnchor{}, fmt.Errorf("%w: anchor %s", ledgerapi.ErrNotFound, id)
	}
	return a, nil
}

func (l *fakeLedger) setDown(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = down
}

func (l *fakeLedger) revoke(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.devices[id]
	d.Status = ledgerapi.StatusRevoked
	l.devices[id] = d
}

// fakeDecider allows when allow is set; err fails every call.
type fakeDecider struct {
	mu    sync.Mutex
	allow bool
	err   error
}

func (d *fakeDecider) Authorize(_ context.Context, in *consentv1.AuthorizeRequest, _ ...grpc.CallOption) (*consentv1.AuthorizeResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return nil, d.err
	}
	if in.GetResource().GetCategory() != categoryVitals || in.GetAction() != "read" {
		return &consentv1.AuthorizeResponse{Decision: &consentv1.Decision{Reasons: []string{"not vitals"}}}, nil
	}
	if !d.allow {
		return &consentv1.AuthorizeResponse{Decision: &consentv1.Decision{Reasons: []string{"no consent is given to this subject"}}}, nil
	}
	return &consentv1.AuthorizeResponse{Decision: &consentv1.Decision{Allow: true}}, nil
}

// fixture is a Service over fakes and a real vault, with its state in dir.
type fixture struct {
	svc     *Service
	ledger  *fakeLedger
	decider *fakeDecider
	objects *objectstoretest.Memory
	vault   *vault.Vault
	dir     string
	now     time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	v := vaulttest.New(t)
	f := &fixture{ledger: newFakeLedger(), decider: &fakeDecider{allow: true}, objects: objectstoretest.New(), vault: v,
		dir: dir, now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	f.restart(t)
	return f
}

// restart opens a new Service on the same state, storage and ledger, as a
// process restart would (the old one is dropped without a clean stop).
func (f *fixture) restart(t *testing.T) {
	t.Helper()
	svc, err := newService(f.ledger, f.decider, f.objects, f.vault, filepath.Join(f.dir, "state"), "ingest-test",
		Limits{MaxSkew: 2 * time.Minute, MaxAge: 7 * 24 * time.Hour, AnchorEvery: time.Second, AnchorMax: 1000},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	svc.now = func() time.Time { return f.now }
	f.svc = svc
}

// testContext is a call of a verified clinician, with a deadline.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(auth.NewContext(context.Background(),
		auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP", Issuer: "https://idp.providers"}), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// device is a paired device: its key, registered on the fake ledger.
type device struct {
	id, patient string
	key         ed25519.PrivateKey
}

func (f *fixture) pair(id, patient string) device {
	pub, key, _ := ed25519.GenerateKey(nil)
	f.ledger.mu.Lock()
	f.ledger.devices[id] = ledgerapi.Device{DeviceID: id, PatientID: patient, PublicKey: base64.StdEncoding.EncodeToString(pub),
		Status: ledgerapi.StatusActive}
	f.ledger.mu.Unlock()
	return device{id: id, patient: patient, key: key}
}

// heartRates is n heart-rate readings a second apart, from start.
func heartRates(start time.Time, n int, bpm float64) []mhealth.Reading {
	rs := make([]mhealth.Reading, n)
	for i := range rs {
		rs[i] = mhealth.NewHeartRate(bpm, start.Add(time.Duration(i)*time.Second))
	}
	return rs
}

// upload signs a batch of the device and builds its upload.
func (d device) upload(t *testing.T, seq uint64, rs []mhealth.Reading) Upload {
	t.Helper()
	sb, err := mhealth.Sign(d.key, mhealth.Batch{DeviceID: d.id, PatientID: d.patient, Seq: seq, Readings: rs})
	if err != nil {
		t.Fatal(err)
	}
	return Upload{DeviceID: d.id, Payload: sb.Payload, Signature: sb.Signature}
}

func (f *fixture) ingest(t *testing.T, u Upload) Ack {
	t.Helper()
	ack, err := f.svc.Ingest(testContext(t), u)
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	return ack
}
