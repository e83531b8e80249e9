package records

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore/objectstoretest"
	"healthexchange/services/platform/vault"
	"healthexchange/services/platform/vault/vaulttest"
	"healthexchange/services/store/recordstore"
)

// fakeLedger keeps notarizations, access events and erasures in memory,
// with the chaincode's version-chain rule. notarizeErr, when set, decides
// what a Notarize does: return an error before (lost) or after (landed)
// storing.
type fakeLedger struct {
	mu       sync.Mutex
	versions map[string][]ledgerapi.Notarization // recordId -> versions
	events   []ledgerapi.AccessEvent
	erasures map[string]ledgerapi.Erasure
	patients map[string]ledgerapi.Patient
	consents []ledgerapi.Consent
	// dispenses are prescriptions' fills, by record id.
	dispenses map[string][]ledgerapi.Dispense
	// cardIssuers is the health card issuer registry.
	cardIssuers []ledgerapi.CardIssuer
	tx          int

	notarizeErr  error
	notarizeLand bool // with notarizeErr: the notarization is stored anyway (outcome unknown to the caller)
	down         bool
	// registryReads counts the reads of the card issuer registry.
	registryReads int
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{versions: map[string][]ledgerapi.Notarization{}, erasures: map[string]ledgerapi.Erasure{},
		patients: map[string]ledgerapi.Patient{}}
}

var errLedgerDown = &ledger.Error{Function: "fake", Kind: ledger.ErrUnavailable, Message: "ledger down"}

func (l *fakeLedger) Notarize(_ context.Context, n ledgerapi.Notarization) (ledgerapi.Notarization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return ledgerapi.Notarization{}, errLedgerDown
	}
	if l.notarizeErr != nil && !l.notarizeLand {
		return ledgerapi.Notarization{}, l.notarizeErr
	}
	vs := l.versions[n.RecordID]
	want, prev := 1, ""
	if len(vs) > 0 {
		want, prev = vs[len(vs)-1].Version+1, vs[len(vs)-1].SHA256
	}
	if n.Version != want || n.PreviousSHA256 != prev || (len(vs) > 0 && vs[0].PatientID != n.PatientID) {
		return ledgerapi.Notarization{}, &ledger.Error{Function: "notary:Notarize", Kind: ledger.ErrRejected, Reason: ledgerapi.ErrConflict,
			Message: fmt.Sprintf("conflicts with the ledger: record %s: version %d does not follow", n.RecordID, n.Version)}
	}
	l.tx++
	n.TxID, n.Timestamp, n.Org = fmt.Sprintf("tx%d", l.tx), ledgerapi.FormatTime(time.Unix(int64(l.tx), 0)), l.MSPID()
	l.versions[n.RecordID] = append(vs, n)
	if l.notarizeErr != nil {
		return ledgerapi.Notarization{}, l.notarizeErr
	}
	return n, nil
}

func (l *fakeLedger) Verify(_ context.Context, recordID, sum string) (ledgerapi.VerifyResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	vs := l.versions[recordID]
	if len(vs) == 0 {
		return ledgerapi.VerifyResult{}, fmt.Errorf("%w: record %s is not notarized", ledgerapi.ErrNotFound, recordID)
	}
	for _, v := range vs {
		if v.SHA256 == sum {
			return ledgerapi.VerifyResult{Match: true, Notarization: v, Reason: fmt.Sprintf("matches version %d", v.Version)}, nil
		}
	}
	return ledgerapi.VerifyResult{Notarization: vs[len(vs)-1], Reason: "matches no notarized version"}, nil
}

func (l *fakeLedger) RecordHistory(_ context.Context, recordID string) ([]ledgerapi.Notarization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return nil, errLedgerDown
	}
	vs := l.versions[recordID]
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: record %s is not notarized", ledgerapi.ErrNotFound, recordID)
	}
	return slices.Clone(vs), nil
}

func (l *fakeLedger) RecordsByPatient(_ context.Context, patientID string, pageSize int32, bookmark string) (ledgerapi.NotarizationPage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id, vs := range l.versions {
		if vs[0].PatientID == patientID && id > bookmark {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	page := ledgerapi.NotarizationPage{Items: []ledgerapi.Notarization{}}
	for _, id := range ids {
		if len(page.Items) == int(pageSize) {
			page.Bookmark = page.Items[len(page.Items)-1].RecordID
			break
		}
		vs := l.versions[id]
		page.Items = append(page.Items, vs[len(vs)-1])
	}
	page.Count = len(page.Items)
	return page, nil
}

func (l *fakeLedger) RecordsByHash(_ context.Context, sum string) ([]ledgerapi.Notarization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []ledgerapi.Notarization{}
	for _, vs := range l.versions {
		for _, v := range vs {
			if v.SHA256 == sum {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

func (l *fakeLedger) AppendAccessEvents(_ context.Context, events []ledgerapi.AccessEvent) (ledgerapi.AppendResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, events...)
	return ledgerapi.AppendResult{Appended: len(events)}, nil
}

// register gives a patient a key, for signed erasures.
func (l *fakeLedger) register(k *patientkey.Key) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.patients[k.PatientID()] = ledgerapi.Patient{PatientID: k.PatientID(), PublicKey: k.PublicKey(), KeyVersion: 1}
}

func (l *fakeLedger) Patient(_ context.Context, patientID string) (ledgerapi.Patient, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.patients[patientID]
	if !ok {
		return ledgerapi.Patient{}, fmt.Errorf("%w: patient %s", ledgerapi.ErrNotFound, patientID)
	}
	return p, nil
}

func (l *fakeLedger) MSPID() string { return "ProvidersMSP" }

// RequestErasure checks the request as the chaincode does: the patient's
// key signed it with a fresh nonce; the same request again is answered.
func (l *fakeLedger) RequestErasure(_ context.Context, s ledger.Signed) (ledgerapi.Erasure, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return ledgerapi.Erasure{}, errLedgerDown
	}
	req, err := ledgerapi.Parse[ledgerapi.PatientErasure]([]byte(s.Payload))
	if err != nil {
		return ledgerapi.Erasure{}, err
	}
	p, ok := l.patients[req.PatientID]
	if !ok {
		return ledgerapi.Erasure{}, fmt.Errorf("%w: patient %s", ledgerapi.ErrNotFound, req.PatientID)
	}
	if err := ledgerapi.VerifySignature(p.PublicKey, []byte(s.Payload), s.Signature); err != nil {
		return ledgerapi.Erasure{}, &ledger.Error{Function: "erasures:Request", Kind: ledger.ErrRejected, Reason: ledgerapi.ErrSignature, Message: err.Error()}
	}
	if old, ok := l.erasures[req.PatientID]; ok {
		if old.ErasureID != req.ErasureID {
			return ledgerapi.Erasure{}, &ledger.Error{Function: "erasures:Request", Kind: ledger.ErrRejected, Reason: ledgerapi.ErrExists, Message: "already registered"}
		}
		return old, nil
	}
	if req.Nonce <= p.Nonce {
		return ledgerapi.Erasure{}, &ledger.Error{Function: "erasures:Request", Kind: ledger.ErrRejected, Reason: ledgerapi.ErrNonce, Message: "stale or replayed nonce"}
	}
	p.Nonce = req.Nonce
	l.patients[req.PatientID] = p
	l.tx++
	e := ledgerapi.Erasure{PatientID: req.PatientID, ErasureID: req.ErasureID, Status: ledgerapi.ErasureRequested,
		RequestedBy: "ProvidersMSP", RequestedAt: "2030-01-01T00:00:00Z", RequestTxID: fmt.Sprintf("tx%d", l.tx)}
	l.erasures[req.PatientID] = e
	return e, nil
}

func (l *fakeLedger) CompleteErasure(_ context.Context, patientID, erasureID string, counts ledgerapi.ErasureCounts) (ledgerapi.Erasure, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return ledgerapi.Erasure{}, errLedgerDown
	}
	e, ok := l.erasures[patientID]
	switch {
	case !ok || e.ErasureID != erasureID:
		return ledgerapi.Erasure{}, fmt.Errorf("%w: erasure", ledgerapi.ErrNotFound)
	case e.Status == ledgerapi.ErasureCompleted && *e.Counts != counts:
		return ledgerapi.Erasure{}, fmt.Errorf("%w: erasure", ledgerapi.ErrConflict)
	case e.Status == ledgerapi.ErasureCompleted:
		return e, nil
	}
	l.tx++
	e.Status, e.Counts, e.CompleteTxID, e.CompletedAt = ledgerapi.ErasureCompleted, &counts, fmt.Sprintf("tx%d", l.tx), "2030-01-01T00:00:01Z"
	l.erasures[patientID] = e
	return e, nil
}

func (l *fakeLedger) Erasure(_ context.Context, patientID string) (ledgerapi.Erasure, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.erasures[patientID]
	if !ok {
		return ledgerapi.Erasure{}, fmt.Errorf("%w: erasure", ledgerapi.ErrNotFound)
	}
	return e, nil
}

func (l *fakeLedger) records() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.versions)
}

// fakeDecider allows what allow says, records every question, and fails
// every call with err when set.
type fakeDecider struct {
	mu    sync.Mutex
	allow func(action string, r *consentv1.Resource) bool
	asked []string
	err   error
	// fhir lists "type interaction scopes" of every call, as asked.
	fhir []string
}

func (d *fakeDecider) decide(action string, r *consentv1.Resource) *consentv1.Decision {
	d.asked = append(d.asked, action+" "+r.GetCategory()+" "+r.GetRecordId())
	if d.allow(action, r) {
		return &consentv1.Decision{Allow: true, Reasons: []string{"allowed by consent c1"}, Obligations: []string{"log-access"}, Fulfilled: []string{"log-access"}, EventId: "ev"}
	}
	return &consentv1.Decision{Reasons: []string{"no consent is given to this subject"}, EventId: "ev-deny"}
}

func (d *fakeDecider) Authorize(_ context.Context, in *consentv1.AuthorizeRequest, _ ...grpc.CallOption) (*consentv1.AuthorizeResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return nil, d.err
	}
	d.fhir = append(d.fhir, in.GetFhirResourceType()+" "+in.GetFhirInteraction()+" "+in.GetOnBehalfOf().GetScopes())
	return &consentv1.AuthorizeResponse{Decision: d.decide(in.GetAction(), in.GetResource())}, nil
}

func (d *fakeDecider) BatchAuthorize(_ context.Context, in *consentv1.BatchAuthorizeRequest, _ ...grpc.CallOption) (*consentv1.BatchAuthorizeResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return nil, d.err
	}
	d.fhir = append(d.fhir, in.GetFhirResourceType()+" "+in.GetFhirInteraction()+" "+in.GetOnBehalfOf().GetScopes())
	out := &consentv1.BatchAuthorizeResponse{}
	for _, r := range in.GetResources() {
		out.Decisions = append(out.Decisions, d.decide(in.GetAction(), r))
	}
	return out, nil
}

// keys lists the stored keys, without idempotency entries if recordsOnly.
func (f *fixture) keys(recordsOnly bool) []string {
	var out []string
	for _, k := range f.objects.Keys("") {
		if !recordsOnly || !recordstore.IsIdempotencyKey(k) {
			out = append(out, k)
		}
	}
	return out
}

// flip xors one byte of a stored object (at from the end when negative).
func (f *fixture) flip(key string, at int, mask byte) {
	data, _ := f.objects.Object(key)
	if at < 0 {
		at += len(data)
	}
	data[at] ^= mask
	f.objects.Set(key, data)
}

// fixture is a Service over fakes and a real vault.
type fixture struct {
	svc     *Service
	ledger  *fakeLedger
	decider *fakeDecider
	objects *objectstoretest.Memory
	vault   *vault.Vault
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	v := vaulttest.New(t)
	f := &fixture{
		ledger: newFakeLedger(), objects: objectstoretest.New(), vault: v,
		decider: &fakeDecider{allow: func(string, *consentv1.Resource) bool { return true }},
	}
	f.svc = NewService(f.ledger, f.decider, f.objects, v, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return f
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var (
	drWho = auth.Principal{Subject: "dr-who", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	alice = auth.Principal{Subject: "alice", Role: auth.RolePatient}
)

// observation is a lab Observation of the patient, with a marker value.
func observation(patientID, marker string) []byte {
	return []byte(`{
  "resourceType": "Observation",
  "status": "final",
  "code": {"text": "` + marker + `"},
  "subject": {"reference": "Patient/` + patientID + `"},
  "valueQuantity": {"value": 5.4, "unit": "mmol/L"}
}`)
}

// condition is a Condition of the patient (category conditions).
func condition(patientID, marker string) []byte {
	return []byte(`{"resourceType":"Condition","code":{"text":"` + marker + `"},"subject":{"reference":"Patient/` + patientID + `"}}`)
}

func (f *fixture) put(t *testing.T, p auth.Principal, req PutRequest) PutResult {
	t.Helper()
	r, err := f.svc.Put(testContext(t), p, req)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return r
}

func (l *fakeLedger) ConsentsByPatient(_ context.Context, patientID string, pageSize int, bookmark string) (ledgerapi.ConsentPage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	page := ledgerapi.ConsentPage{Items: []ledgerapi.Consent{}}
	for _, c := range l.consents {
		if c.PatientID == patientID {
			page.Items = append(page.Items, c)
		}
	}
	return page, nil
}

func (l *fakeLedger) AccessEvents(_ context.Context, patientID string, pageSize int, bookmark string) (ledgerapi.AccessEventPage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return ledgerapi.AccessEventPage{}, errLedgerDown
	}
	// Pages of pageSize, the bookmark the index of the next event.
	start := 0
	if bookmark != "" {
		fmt.Sscan(bookmark, &start)
	}
	page := ledgerapi.AccessEventPage{Items: []ledgerapi.AccessEvent{}}
	var mine []ledgerapi.AccessEvent
	for _, e := range l.events {
		if e.PatientID == patientID {
			mine = append(mine, e)
		}
	}
	for i := start; i < len(mine) && len(page.Items) < pageSize; i++ {
		page.Items = append(page.Items, mine[i])
		if i+1 < len(mine) && len(page.Items) == pageSize {
			page.Bookmark = fmt.Sprint(i + 1)
		}
	}
	return page, nil
}

func (l *fakeLedger) Dispenses(_ context.Context, recordID string) ([]ledgerapi.Dispense, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return nil, errLedgerDown
	}
	return l.dispenses[recordID], nil
}

func (l *fakeLedger) CardIssuers(context.Context) ([]ledgerapi.CardIssuer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.registryReads++
	if l.down {
		return nil, errLedgerDown
	}
	return l.cardIssuers, nil
}

func (l *fakeLedger) RegisterCardIssuer(_ context.Context, issuer string, k ledgerapi.CardKey) (ledgerapi.CardIssuer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return ledgerapi.CardIssuer{}, errLedgerDown
	}
	for i := range l.cardIssuers {
		if l.cardIssuers[i].Org == l.MSPID() {
			l.cardIssuers[i].Issuers = append(l.cardIssuers[i].Issuers, issuer)
			l.cardIssuers[i].Keys = append(l.cardIssuers[i].Keys, k)
			return l.cardIssuers[i], nil
		}
	}
	ci := ledgerapi.CardIssuer{Org: l.MSPID(), Issuers: []string{issuer}, Keys: []ledgerapi.CardKey{k}}
	l.cardIssuers = append(l.cardIssuers, ci)
	return ci, nil
}
