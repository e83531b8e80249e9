package consent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/durable"
	"healthexchange/services/platform/ledger"
)

// testNow is the clock of every test service: decisions and requests are
// stamped with it.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// logBuffer collects a logger's text output, safe for concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func bufferLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// testContext is a context that ends with the test, or after a bound.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// as returns ctx carrying a verified principal.
func as(ctx context.Context, subject string, role auth.Role, org string) context.Context {
	return auth.NewContext(ctx, auth.Principal{Subject: subject, Role: role, Org: org})
}

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitDone waits for a goroutine to report, failing the test after a deadline.
func waitDone[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// activeConsent is an active consent of patient to a grantee, valid from its
// grant with no expiry, granted in transaction "tx-grant-<id>".
func activeConsent(id, patient, kind, grantee string, categories, purposes []string) ledgerapi.Consent {
	return ledgerapi.Consent{
		ConsentID: id, PatientID: patient,
		Grantee:    ledgerapi.Grantee{Kind: kind, ID: grantee},
		Categories: categories, Purposes: purposes, RecordIDs: []string{},
		Status: ledgerapi.StatusActive, GrantedAt: "2029-12-01T00:00:00Z", GrantTxID: "tx-grant-" + id,
	}
}

// revoked is c revoked in transaction "tx-revoke-<id>".
func revoked(c ledgerapi.Consent) ledgerapi.Consent {
	c.Status, c.RevokedAt, c.RevokeTxID = ledgerapi.StatusRevoked, "2029-12-15T00:00:00Z", "tx-revoke-"+c.ConsentID
	return c
}

// consentEvent is the chaincode event of a consent change.
func consentEvent(t testing.TB, name string, c ledgerapi.Consent) ledger.Event {
	t.Helper()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	txID := c.GrantTxID
	if name == eventConsentRevoked {
		txID = c.RevokeTxID
	}
	return ledger.Event{TransactionID: txID, Name: name, Payload: raw}
}

func grantedEvents(t testing.TB, cs ...ledgerapi.Consent) []ledger.Event {
	t.Helper()
	var out []ledger.Event
	for _, c := range cs {
		out = append(out, consentEvent(t, eventConsentGranted, c))
	}
	return out
}

// registeredEvent is the chaincode event of a patient's registration.
func registeredEvent(t testing.TB, patientID string) ledger.Event {
	t.Helper()
	raw, err := json.Marshal(ledgerapi.Patient{PatientID: patientID, KeyVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	return ledger.Event{TransactionID: "tx-register-" + patientID, Name: eventRegistered, Payload: raw}
}

// testPatients are the patients the unit tests' views know as registered.
var testPatients = []string{"pat-1", "pat-2"}

// registeredView is a view, not following any ledger, where the test
// patients are registered (block 0).
func registeredView(t *testing.T) *View {
	t.Helper()
	v := NewView()
	var events []ledger.Event
	for _, p := range testPatients {
		events = append(events, registeredEvent(t, p))
	}
	if err := v.Apply(ledger.Block{Number: 0, Events: events}); err != nil {
		t.Fatal(err)
	}
	return v
}

// liveView is a view where the test patients are registered and that holds
// the consents (applied in block 0), and is live: it follows a ledger of
// height 1.
func liveView(t *testing.T, cs ...ledgerapi.Consent) *View {
	t.Helper()
	v := NewView()
	var events []ledger.Event
	for _, p := range testPatients {
		events = append(events, registeredEvent(t, p))
	}
	if err := v.Apply(ledger.Block{Number: 0, Events: append(events, grantedEvents(t, cs...)...)}); err != nil {
		t.Fatal(err)
	}
	v.follow(1)
	if live, why := v.Live(); !live {
		t.Fatalf("view not live after setup: %s", why)
	}
	return v
}

// fakeDecider is a policy engine that answers what it is told and counts
// its calls.
type fakeDecider struct {
	mu    sync.Mutex
	d     policy.Decision
	err   error
	calls []policy.Input
}

func (f *fakeDecider) Decide(_ context.Context, in policy.Input) (policy.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	return f.d, f.err
}

func (f *fakeDecider) called() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

var (
	engineOnce sync.Once
	engineVal  *policy.Engine
	engineErr  error
)

// realEngine is the policy engine with the embedded policies, compiled once.
func realEngine(t testing.TB) *policy.Engine {
	t.Helper()
	engineOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		engineVal, engineErr = policy.New(ctx)
	})
	if engineErr != nil {
		t.Fatalf("policy.New: %v", engineErr)
	}
	return engineVal
}

// fakeSink is a ledger's access log: it records what it is sent, and fails
// the calls failOn says.
type fakeSink struct {
	mu      sync.Mutex
	batches [][]ledgerapi.AccessEvent
	ctxErrs []error
	calls   int
	failOn  func(call int) bool
	// refuse, if set, names the events the chaincode refuses: a batch
	// holding one is rejected whole.
	refuse func(e ledgerapi.AccessEvent) bool
}

func (s *fakeSink) AppendAccessEvents(ctx context.Context, events []ledgerapi.AccessEvent) (ledgerapi.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.ctxErrs = append(s.ctxErrs, ctx.Err())
	if s.failOn != nil && s.failOn(s.calls) {
		return ledgerapi.AppendResult{}, &ledger.Error{Function: "accesslog:Append", Kind: ledger.ErrUnavailable, Message: "peer down"}
	}
	for _, e := range events {
		if s.refuse != nil && s.refuse(e) {
			return ledgerapi.AppendResult{}, &ledger.Error{Function: "accesslog:Append", Kind: ledger.ErrRejected, Message: "not found: patient " + e.PatientID}
		}
	}
	s.batches = append(s.batches, append([]ledgerapi.AccessEvent(nil), events...))
	return ledgerapi.AppendResult{Appended: len(events)}, nil
}

// sent is every event the sink accepted, in order.
func (s *fakeSink) sent() []ledgerapi.AccessEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ledgerapi.AccessEvent
	for _, b := range s.batches {
		out = append(out, b...)
	}
	return out
}

func (s *fakeSink) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, b := range s.batches {
		out = append(out, len(b))
	}
	return out
}

// fakeLedger is the ledger as the patient API sees it. Each call is
// recorded; the answers come from the func fields (an unset one fails the
// test's expectations with errUnexpected).
type fakeLedger struct {
	mu       sync.Mutex
	calls    []string
	signed   []ledger.Signed
	patient  func(id string) (ledgerapi.Patient, error)
	register func(s ledger.Signed) (ledgerapi.Patient, error)
	grant    func(s ledger.Signed) (ledgerapi.Consent, error)
	revoke   func(s ledger.Signed) (ledgerapi.Consent, error)
	pair     func(s ledger.Signed) (ledgerapi.Device, error)
	unpair   func(s ledger.Signed) (ledgerapi.Device, error)
	devices  func(patientID string) ([]ledgerapi.Device, error)
	consents func(patientID string, pageSize int, bookmark string) (ledgerapi.ConsentPage, error)
	events   func(patientID string, pageSize int, bookmark string) (ledgerapi.AccessEventPage, error)
	// keyChange answers RotateKey, RequestRecovery, CancelRecovery and
	// CompleteRecovery (call names one).
	keyChange func(call string, k ledger.KeyChange) (ledgerapi.Patient, error)
	// delegations answers Delegation, by id; delegate answers the grant
	// and the revocation of one.
	delegations map[string]ledgerapi.Delegation
	delegate    func(call string, s ledger.Signed) (ledgerapi.Delegation, error)
}

func (f *fakeLedger) GrantDelegation(_ context.Context, s ledger.Signed) (ledgerapi.Delegation, error) {
	f.record("GrantDelegation", &s)
	if f.delegate == nil {
		return ledgerapi.Delegation{}, errUnexpected
	}
	return f.delegate("GrantDelegation", s)
}

func (f *fakeLedger) RevokeDelegation(_ context.Context, s ledger.Signed) (ledgerapi.Delegation, error) {
	f.record("RevokeDelegation", &s)
	if f.delegate == nil {
		return ledgerapi.Delegation{}, errUnexpected
	}
	return f.delegate("RevokeDelegation", s)
}

func (f *fakeLedger) Delegation(_ context.Context, id string) (ledgerapi.Delegation, error) {
	f.record("Delegation", nil)
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.delegations[id]
	if !ok {
		return ledgerapi.Delegation{}, fmt.Errorf("%w: delegation %s", ledgerapi.ErrNotFound, id)
	}
	return d, nil
}

func (f *fakeLedger) DelegationsByPatient(_ context.Context, patientID string) ([]ledgerapi.Delegation, error) {
	return f.delegationsWhere(func(d ledgerapi.Delegation) bool { return d.PatientID == patientID }), nil
}

func (f *fakeLedger) DelegationsByDelegate(_ context.Context, delegateID string) ([]ledgerapi.Delegation, error) {
	return f.delegationsWhere(func(d ledgerapi.Delegation) bool { return d.DelegateID == delegateID }), nil
}

func (f *fakeLedger) delegationsWhere(keep func(ledgerapi.Delegation) bool) []ledgerapi.Delegation {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ledgerapi.Delegation
	for _, d := range f.delegations {
		if keep(d) {
			out = append(out, d)
		}
	}
	return out
}

func (f *fakeLedger) keyCall(call string, k ledger.KeyChange) (ledgerapi.Patient, error) {
	f.record(call, &k.Signed)
	if f.keyChange == nil {
		return ledgerapi.Patient{}, errUnexpected
	}
	return f.keyChange(call, k)
}

func (f *fakeLedger) PatientHistory(context.Context, string) ([]ledgerapi.PatientVersion, error) {
	f.record("PatientHistory", nil)
	return nil, errUnexpected
}

func (f *fakeLedger) RotateKey(_ context.Context, k ledger.KeyChange) (ledgerapi.Patient, error) {
	return f.keyCall("RotateKey", k)
}

func (f *fakeLedger) RequestRecovery(_ context.Context, k ledger.KeyChange) (ledgerapi.Patient, error) {
	return f.keyCall("RequestRecovery", k)
}

func (f *fakeLedger) CancelRecovery(_ context.Context, s ledger.Signed) (ledgerapi.Patient, error) {
	return f.keyCall("CancelRecovery", ledger.KeyChange{Signed: s})
}

func (f *fakeLedger) CompleteRecovery(_ context.Context, patientID string) (ledgerapi.Patient, error) {
	return f.keyCall("CompleteRecovery", ledger.KeyChange{Signed: ledger.Signed{Payload: patientID}})
}

var errUnexpected = errors.New("fake ledger: unexpected call")

func (f *fakeLedger) record(call string, s *ledger.Signed) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if s != nil {
		f.signed = append(f.signed, *s)
	}
}

func (f *fakeLedger) called(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakeLedger) Blocks(context.Context, ledger.Checkpoint) (<-chan ledger.Block, error) {
	f.record("Blocks", nil)
	return nil, errUnexpected
}

func (f *fakeLedger) BlockHash(context.Context, uint64) ([]byte, error) {
	f.record("BlockHash", nil)
	return nil, errUnexpected
}

func (f *fakeLedger) ChainHeight(context.Context) (uint64, error) {
	f.record("ChainHeight", nil)
	return 0, errUnexpected
}

func (f *fakeLedger) AppendAccessEvents(context.Context, []ledgerapi.AccessEvent) (ledgerapi.AppendResult, error) {
	f.record("AppendAccessEvents", nil)
	return ledgerapi.AppendResult{}, errUnexpected
}

func (f *fakeLedger) RegisterPatient(_ context.Context, s ledger.Signed) (ledgerapi.Patient, error) {
	f.record("RegisterPatient", &s)
	if f.register == nil {
		return ledgerapi.Patient{}, errUnexpected
	}
	return f.register(s)
}

func (f *fakeLedger) Patient(_ context.Context, id string) (ledgerapi.Patient, error) {
	f.record("Patient", nil)
	if f.patient == nil {
		return ledgerapi.Patient{}, errUnexpected
	}
	return f.patient(id)
}

func (f *fakeLedger) GrantConsent(_ context.Context, s ledger.Signed) (ledgerapi.Consent, error) {
	f.record("GrantConsent", &s)
	if f.grant == nil {
		return ledgerapi.Consent{}, errUnexpected
	}
	return f.grant(s)
}

func (f *fakeLedger) RevokeConsent(_ context.Context, s ledger.Signed) (ledgerapi.Consent, error) {
	f.record("RevokeConsent", &s)
	if f.revoke == nil {
		return ledgerapi.Consent{}, errUnexpected
	}
	return f.revoke(s)
}

func (f *fakeLedger) RegisterDevice(_ context.Context, s ledger.Signed) (ledgerapi.Device, error) {
	f.record("RegisterDevice", &s)
	if f.pair == nil {
		return ledgerapi.Device{}, errUnexpected
	}
	return f.pair(s)
}

func (f *fakeLedger) DevicesByPatient(_ context.Context, patientID string) ([]ledgerapi.Device, error) {
	f.record("DevicesByPatient", nil)
	if f.devices == nil {
		return nil, errUnexpected
	}
	return f.devices(patientID)
}

func (f *fakeLedger) RevokeDevice(_ context.Context, s ledger.Signed) (ledgerapi.Device, error) {
	f.record("RevokeDevice", &s)
	if f.unpair == nil {
		return ledgerapi.Device{}, errUnexpected
	}
	return f.unpair(s)
}

func (f *fakeLedger) ConsentsByPatient(_ context.Context, patientID string, pageSize int, bookmark string) (ledgerapi.ConsentPage, error) {
	f.record("ConsentsByPatient", nil)
	if f.consents == nil {
		return ledgerapi.ConsentPage{}, errUnexpected
	}
	return f.consents(patientID, pageSize, bookmark)
}

func (f *fakeLedger) AccessEvents(_ context.Context, patientID string, pageSize int, bookmark string) (ledgerapi.AccessEventPage, error) {
	f.record("AccessEvents", nil)
	if f.events == nil {
		return ledgerapi.AccessEventPage{}, errUnexpected
	}
	return f.events(patientID, pageSize, bookmark)
}

// openJournal is a real journal in a fresh folder, closed with the test.
func openJournal(t *testing.T) *durable.Journal[ledgerapi.AccessEvent] {
	t.Helper()
	return openJournalIn(t, filepath.Join(t.TempDir(), "access-events"))
}

// openJournalIn is a real journal in dir, closed with the test.
func openJournalIn(t *testing.T, dir string) *durable.Journal[ledgerapi.AccessEvent] {
	t.Helper()
	j, err := durable.OpenJournal[ledgerapi.AccessEvent](dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// newService is a service over a fake ledger, the given view and decider, a
// real journal and a real request store in a temporary folder. Its shipper
// does not run; its batch is 500.
func newService(t *testing.T, l ledgerAPI, v *View, d decider) *service {
	t.Helper()
	j := openJournal(t)
	reqs, err := openRequests(filepath.Join(t.TempDir(), "access-requests.json"))
	if err != nil {
		t.Fatal(err)
	}
	log := discardLog()
	dir := t.TempDir()
	bg, err := openBreakGlass(DefaultBreakGlassLimits(), filepath.Join(dir, "break-glass.json"), filepath.Join(dir, "seal.key"))
	if err != nil {
		t.Fatal(err)
	}
	feed, err := openFeed(filepath.Join(dir, "notifications"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { feed.Close() })
	return &service{
		ledger: l, view: v, policy: d, journal: j, requests: reqs,
		now: func() time.Time { return testNow }, log: log, awaitView: 5 * time.Second,
		breakGlassKey: []byte("test break-glass key, 32 bytes!!"), breakGlass: bg, feed: feed,
		shipper: &shipper{journal: j, sinks: everyOrg(&fakeSink{}), own: ledgerapi.ProvidersMSP, every: time.Hour, batch: 500,
			kick: make(chan struct{}, 1), log: log},
	}
}

// everyOrg is sink for every member organisation.
func everyOrg(sink eventSink) map[string]eventSink {
	out := map[string]eventSink{}
	for _, msp := range ledgerapi.MemberMSPs() {
		out[msp] = sink
	}
	return out
}

// mustList is list for a test, whose store cannot fail to be read.
func (s *requestStore) mustList(patientID, state string) []accessRequest {
	out, err := s.list(patientID, state)
	if err != nil {
		panic(err)
	}
	return out
}
