package research

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/domain/anonymize"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore/objectstoretest"
	"healthexchange/services/platform/vault/vaulttest"
	"healthexchange/services/store/readingstore"
	"healthexchange/services/store/recordstore"
	"healthexchange/wearables/mhealth"
)

// fakeLedger keeps consents, notarizations and dataset releases in memory.
// RecordDatasetRelease checks a release the way the chaincode does
// (chaincode/health/datasets.go). Pages are pageSize long whatever the
// caller asks, so that paging is exercised.
type fakeLedger struct {
	mu       sync.Mutex
	now      func() time.Time
	pageSize int
	consents []ledgerapi.Consent
	records  map[string][]ledgerapi.Notarization // patientId -> latest versions
	releases map[string]ledgerapi.DatasetRelease
	tx       int

	consentPages int // pages of consents served
	// sloppyIndex makes ConsentsByGrantee return every consent, whatever
	// its grantee: the service must check the consents itself.
	sloppyIndex bool
	consentsErr error
	recordsErr  error
	// beforeRecord runs (unlocked) at the start of RecordDatasetRelease.
	beforeRecord func()
	// recordErr, when set, is what RecordDatasetRelease returns; with
	// recordLand the release is stored first (the outcome is unknown to
	// the caller).
	recordErr  error
	recordLand bool
	lookupErr  error
}

func newFakeLedger(now func() time.Time) *fakeLedger {
	return &fakeLedger{now: now, pageSize: 2, records: map[string][]ledgerapi.Notarization{}, releases: map[string]ledgerapi.DatasetRelease{}}
}

func rejected(fn string, reason error, format string, args ...any) error {
	return &ledger.Error{Function: fn, Kind: ledger.ErrRejected, Reason: reason, Message: reason.Error() + ": " + fmt.Sprintf(format, args...)}
}

var errLedgerUnavailable = &ledger.Error{Function: "datasets:Record", Kind: ledger.ErrUnavailable, Message: "context deadline exceeded"}

// grant adds an active research consent of patient to g for categories.
func (l *fakeLedger) grant(patient string, g ledgerapi.Grantee, categories ...string) string {
	return l.add(ledgerapi.Consent{PatientID: patient, Grantee: g, Categories: categories, Purposes: []string{ledgerapi.PurposeResearch}})
}

// add stores c with an id and the defaults of an active consent.
func (l *fakeLedger) add(c ledgerapi.Consent) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tx++
	if c.ConsentID == "" {
		c.ConsentID = fmt.Sprintf("c-%04d", len(l.consents)+1)
	}
	if c.Status == "" {
		c.Status = ledgerapi.StatusActive
	}
	if c.RecordIDs == nil {
		c.RecordIDs = []string{}
	}
	c.GrantedAt, c.GrantTxID = ledgerapi.FormatTime(l.now().Add(-24*time.Hour)), fmt.Sprintf("tx%d", l.tx)
	l.consents = append(l.consents, c)
	return c.ConsentID
}

// consentFor is an active consent of patient to g for demographics and
// labs, for purposes.
func consentFor(patient string, g ledgerapi.Grantee, purposes ...string) ledgerapi.Consent {
	return ledgerapi.Consent{PatientID: patient, Grantee: g, Categories: []string{"demographics", "labs"}, Purposes: purposes}
}

func grantee(kind, id string) ledgerapi.Grantee { return ledgerapi.Grantee{Kind: kind, ID: id} }

func (l *fakeLedger) revoke(consentID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.consents {
		if l.consents[i].ConsentID == consentID {
			l.consents[i].Status, l.consents[i].RevokedAt = ledgerapi.StatusRevoked, ledgerapi.FormatTime(l.now())
			return
		}
	}
	panic("no consent " + consentID)
}

// consentsOf are the ids of a patient's consents.
func (l *fakeLedger) consentsOf(patient string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for _, c := range l.consents {
		if c.PatientID == patient {
			ids = append(ids, c.ConsentID)
		}
	}
	return ids
}

func (l *fakeLedger) notarize(n ledgerapi.Notarization) ledgerapi.Notarization {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tx++
	n.TxID = fmt.Sprintf("tx%d", l.tx)
	if n.Timestamp == "" {
		n.Timestamp = ledgerapi.FormatTime(l.now().Add(time.Duration(l.tx) * time.Second))
	}
	l.records[n.PatientID] = append(l.records[n.PatientID], n)
	return n
}

func (l *fakeLedger) release(id string) (ledgerapi.DatasetRelease, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.releases[id]
	return r, ok
}

// page returns items[start:start+pageSize] and the bookmark of the next page.
func page[T any](items []T, size int, bookmark string) ([]T, string, error) {
	start := 0
	if bookmark != "" {
		n, err := strconv.Atoi(bookmark)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", fmt.Errorf("bad bookmark %q", bookmark)
		}
		start = n
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return slices.Clone(items[start:end]), next, nil
}

func (l *fakeLedger) ConsentsByGrantee(_ context.Context, kind, id string, _ int, bookmark string) (ledgerapi.ConsentPage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.consentsErr != nil {
		return ledgerapi.ConsentPage{}, l.consentsErr
	}
	var matching []ledgerapi.Consent
	for _, c := range l.consents {
		if l.sloppyIndex || c.Grantee == (ledgerapi.Grantee{Kind: kind, ID: id}) {
			matching = append(matching, c)
		}
	}
	items, next, err := page(matching, l.pageSize, bookmark)
	if err != nil {
		return ledgerapi.ConsentPage{}, rejected("consents:ListByGrantee", ledgerapi.ErrInvalid, "%v", err)
	}
	l.consentPages++
	return ledgerapi.ConsentPage{Items: items, Bookmark: next, Count: len(items)}, nil
}

func (l *fakeLedger) RecordsByPatient(_ context.Context, patientID string, _ int32, bookmark string) (ledgerapi.NotarizationPage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.recordsErr != nil {
		return ledgerapi.NotarizationPage{}, l.recordsErr
	}
	items, next, err := page(l.records[patientID], l.pageSize, bookmark)
	if err != nil {
		return ledgerapi.NotarizationPage{}, rejected("notary:ListByPatient", ledgerapi.ErrInvalid, "%v", err)
	}
	return ledgerapi.NotarizationPage{Items: items, Bookmark: next, Count: len(items)}, nil
}

// RecordDatasetRelease checks like datasets:Record: a valid request, a new
// id, every consent in force now, allowing research and given to
// ResearchMSP or the study, and cohortSize the number of their patients.
func (l *fakeLedger) RecordDatasetRelease(_ context.Context, r ledgerapi.DatasetReleaseRequest) (ledgerapi.DatasetRelease, error) {
	if l.beforeRecord != nil {
		l.beforeRecord()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	const fn = "datasets:Record"
	if l.recordErr != nil && !l.recordLand {
		return ledgerapi.DatasetRelease{}, l.recordErr
	}
	if err := r.Validate(); err != nil {
		return ledgerapi.DatasetRelease{}, rejected(fn, ledgerapi.ErrInvalid, "%v", err)
	}
	if _, ok := l.releases[r.DatasetID]; ok {
		return ledgerapi.DatasetRelease{}, rejected(fn, ledgerapi.ErrExists, "dataset %s", r.DatasetID)
	}
	now := l.now()
	patients := map[string]bool{}
	for _, id := range r.ConsentIDs {
		i := slices.IndexFunc(l.consents, func(c ledgerapi.Consent) bool { return c.ConsentID == id })
		if i < 0 {
			return ledgerapi.DatasetRelease{}, rejected(fn, ledgerapi.ErrNotFound, "consent %s", id)
		}
		c := l.consents[i]
		if reason := notInForce(c, now); reason != "" {
			return ledgerapi.DatasetRelease{}, rejected(fn, ledgerapi.ErrForbidden, "%s", reason)
		}
		if !slices.Contains(c.Purposes, ledgerapi.PurposeResearch) {
			return ledgerapi.DatasetRelease{}, rejected(fn, ledgerapi.ErrForbidden, "consent %s does not allow purpose research", id)
		}
		if c.Grantee != (ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: ledgerapi.ResearchMSP}) &&
			c.Grantee != (ledgerapi.Grantee{Kind: ledgerapi.GranteeStudy, ID: r.StudyID}) {
			return ledgerapi.DatasetRelease{}, rejected(fn, ledgerapi.ErrForbidden, "consent %s is not given to ResearchMSP or to study %s", id, r.StudyID)
		}
		patients[c.PatientID] = true
	}
	if r.CohortSize != len(patients) {
		return ledgerapi.DatasetRelease{}, rejected(fn, ledgerapi.ErrInvalid, "cohortSize is %d but the consents belong to %d distinct patients", r.CohortSize, len(patients))
	}
	l.tx++
	rel := ledgerapi.DatasetRelease{DatasetReleaseRequest: r, ConsentSetSHA256: ledgerapi.ConsentSetSHA256(r.ConsentIDs),
		Timestamp: ledgerapi.FormatTime(now), TxID: fmt.Sprintf("tx%d", l.tx)}
	l.releases[r.DatasetID] = rel
	if l.recordErr != nil {
		return ledgerapi.DatasetRelease{}, l.recordErr
	}
	return rel, nil
}

func notInForce(c ledgerapi.Consent, now time.Time) string {
	if c.Status != ledgerapi.StatusActive {
		return "consent " + c.ConsentID + " is revoked"
	}
	if nb, err := time.Parse(time.RFC3339, c.NotBefore); err == nil && now.Before(nb) {
		return "consent " + c.ConsentID + " is not yet valid"
	}
	if exp, err := time.Parse(time.RFC3339, c.ExpiresAt); err == nil && !now.Before(exp) {
		return "consent " + c.ConsentID + " expired"
	}
	return ""
}

func (l *fakeLedger) DatasetRelease(_ context.Context, id string) (ledgerapi.DatasetRelease, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lookupErr != nil {
		return ledgerapi.DatasetRelease{}, l.lookupErr
	}
	r, ok := l.releases[id]
	if !ok {
		return ledgerapi.DatasetRelease{}, rejected("datasets:Get", ledgerapi.ErrNotFound, "dataset %s", id)
	}
	return r, nil
}

// fakeStore is the datasets bucket in memory, with URLs that name the key.
type fakeStore struct {
	*objectstoretest.Memory
}

func (s fakeStore) PresignGet(_ context.Context, key string, expiry time.Duration) (string, error) {
	if _, ok := s.Object(key); !ok {
		return "", errors.New("no such object")
	}
	return "https://datasets.test/" + key + "?X-Amz-Expires=" + strconv.Itoa(int(expiry.Seconds())), nil
}

// failingDecider is a policy engine that cannot answer.
type failingDecider struct{}

func (failingDecider) Decide(context.Context, policy.DatasetInput) (policy.DatasetDecision, error) {
	return policy.DatasetDecision{Allow: false, Reasons: []string{"policy evaluation failed"}}, policy.ErrEvaluation
}

var (
	engineOnce sync.Once
	engine     *policy.DatasetEngine
	engineErr  error
)

// realPolicy is the embedded dataset policy, compiled once for the package.
func realPolicy(t testing.TB) *policy.DatasetEngine {
	t.Helper()
	engineOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		engine, engineErr = policy.NewDatasetEngine(ctx)
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return engine
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Principals.
var (
	alice      = auth.Principal{Subject: "alice", Role: auth.RoleResearcher, Org: ledgerapi.ResearchMSP, StudyID: "study-1"}
	bob        = auth.Principal{Subject: "bob", Role: auth.RoleResearcher, Org: ledgerapi.ResearchMSP, StudyID: "study-1"}
	aliceOther = auth.Principal{Subject: "alice", Role: auth.RoleResearcher, Org: ledgerapi.ResearchMSP, StudyID: "study-2"}
	aliceNone  = auth.Principal{Subject: "alice", Role: auth.RoleResearcher, Org: ledgerapi.ResearchMSP}
	clinician  = auth.Principal{Subject: "dr-carol", Role: auth.RoleClinician, Org: ledgerapi.ProvidersMSP}
)

var (
	researchOrg = ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: ledgerapi.ResearchMSP}
	study1      = ledgerapi.Grantee{Kind: ledgerapi.GranteeStudy, ID: "study-1"}
)

// world is a research service over fakes: the ledger, the records and
// wearables buckets (filled through their archives, with a real vault) and
// the datasets bucket.
type world struct {
	t         *testing.T
	ctx       context.Context
	now       time.Time
	ledger    *fakeLedger
	recordsOS *objectstoretest.Memory
	readingOS *objectstoretest.Memory
	records   *recordstore.Archive
	readings  *readingstore.Archive
	store     fakeStore
	svc       *Service
	seq       uint64
}

// testNow is the fixed time of every world.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, ctx: testContext(t), now: testNow,
		recordsOS: objectstoretest.New(), readingOS: objectstoretest.New(), store: fakeStore{objectstoretest.New()}}
	w.ledger = newFakeLedger(func() time.Time { return w.now })
	v := vaulttest.New(t)
	w.records, w.readings = recordstore.NewArchive(w.recordsOS, v), readingstore.NewArchive(w.readingOS, v)
	w.svc = newService(w.ledger, &storeSources{ledger: w.ledger, records: w.records, readings: w.readings},
		w.store, realPolicy(t), slog.New(slog.DiscardHandler))
	w.svc.now = func() time.Time { return w.now }
	// Record retries without waiting; a release left unknown is settled
	// only when a test runs its job again.
	w.svc.retryWait, w.svc.settleAfter = time.Millisecond, time.Hour
	return w
}

// addRecord stores resource (as filed) as version 1 of a record and
// notarizes its hash.
func (w *world) addRecord(patient, recordID, category string, resource any) ledgerapi.Notarization {
	w.t.Helper()
	raw, err := json.Marshal(resource)
	if err != nil {
		w.t.Fatal(err)
	}
	sum := fhir.Digest(raw)
	n := w.ledger.notarize(ledgerapi.Notarization{RecordID: recordID, PatientID: patient, SHA256: sum, Category: category, Author: "dr-carol", Version: 1})
	if err := w.records.StoreVerbatim(w.ctx, n, raw); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// addReadings stores one signed batch of the patient's readings.
func (w *world) addReadings(patient string, rs ...mhealth.Reading) string {
	w.t.Helper()
	w.seq++
	payload, err := mhealth.Batch{DeviceID: "watch-" + patient, PatientID: patient, Seq: w.seq, Readings: rs}.Encode()
	if err != nil {
		w.t.Fatal(err)
	}
	key, err := w.readings.StoreSigned(w.ctx, payload, []byte("signature"), w.now)
	if err != nil {
		w.t.Fatal(err)
	}
	return key
}

// person is a seeded patient.
type person struct {
	id, birth, sex, zip string
}

// addPatient stores a demographics record and a lab result in the window,
// and grants research consent to ResearchMSP for demographics, labs and
// vitals when consent is true.
func (w *world) addPatient(p person, consent bool) {
	w.t.Helper()
	w.addRecord(p.id, p.id+"-demo", "demographics", patientResource(p.birth, p.sex, p.zip))
	w.addRecord(p.id, p.id+"-lab1", "labs", observation("http://loinc.org", "2345-7", 5.4, "mmol/L", "2025-01-15T08:30:00Z"))
	if consent {
		w.ledger.grant(p.id, researchOrg, "demographics", "labs", "vitals")
	}
}

// cohort adds n consenting patients, born 1980, female, in ZIP 10001, and
// returns them.
func (w *world) cohort(n int) []person {
	var ps []person
	for i := range n {
		p := person{id: fmt.Sprintf("patient-%04d", i+1), birth: fmt.Sprintf("1980-0%d-1%d", 1+i%5, i%10), sex: "female", zip: "10001"}
		w.addPatient(p, true)
		ps = append(ps, p)
	}
	return ps
}

func patientResource(birth, gender, zip string) map[string]any {
	r := map[string]any{"resourceType": "Patient"}
	if birth != "" {
		r["birthDate"] = birth
	}
	if gender != "" {
		r["gender"] = gender
	}
	if zip != "" {
		r["address"] = []any{map[string]any{"postalCode": zip}}
	}
	return r
}

func observation(system, code string, value float64, unit, date string) map[string]any {
	return map[string]any{
		"resourceType":      "Observation",
		"status":            "final",
		"code":              map[string]any{"coding": []any{map[string]any{"system": system, "code": code}}},
		"valueQuantity":     map[string]any{"value": value, "unit": unit},
		"effectiveDateTime": date,
	}
}

// labsSpec asks for labs of study-1 in the year before testNow, k = 3.
func labsSpec() Spec {
	return Spec{StudyID: "study-1", Categories: []string{"labs"}, From: testNow.AddDate(-1, 0, 0), To: testNow, K: 3}
}

// create asks for a dataset as alice.
func (w *world) create(spec Spec, requestID string) *researchv1.Dataset {
	w.t.Helper()
	d, err := w.svc.Create(w.ctx, alice, spec, requestID)
	if err != nil {
		w.t.Fatalf("Create: %v", err)
	}
	return d
}

// runQueued runs every queued job, as work does, until the queue is empty.
func (w *world) runQueued() {
	for {
		select {
		case id := <-w.svc.queue:
			w.svc.runJob(w.ctx, id)
		default:
			return
		}
	}
}

// build creates a dataset as alice, runs it and returns its status.
func (w *world) build(spec Spec) *researchv1.Dataset {
	w.t.Helper()
	d := w.create(spec, "")
	w.runQueued()
	got, err := w.svc.load(w.ctx, d.GetDatasetId())
	if err != nil {
		w.t.Fatal(err)
	}
	return got
}

// released builds a dataset and fails the test unless it is released.
func (w *world) released(spec Spec) *researchv1.Dataset {
	w.t.Helper()
	d := w.build(spec)
	if d.GetState() != researchv1.DatasetState_DATASET_STATE_RELEASED {
		w.t.Fatalf("dataset is %v (%s), want released", d.GetState(), d.GetError())
	}
	return d
}

// download reads one file of a dataset through Service.Download, to its
// end, as the API streams it; nothing when the stream fails.
func (w *world) download(p auth.Principal, id, file string) ([]byte, error) {
	r, err := w.svc.Download(w.ctx, p, id, file)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// testFiles are a dataset's two data files, and how many rows were written.
type testFiles struct {
	csv, ndjson []byte
	rows        int64
}

// check runs the independent check over the files.
func (f testFiles) check(columns []anonymize.Column, qis []string, k int) error {
	csvRead, ndjsonRead, err := checkFiles(bytes.NewReader(f.csv), bytes.NewReader(f.ndjson), f.rows, columns, qis, k)
	if err == nil && (csvRead != (digest{sha256Of(f.csv), int64(len(f.csv))}) || ndjsonRead != (digest{sha256Of(f.ndjson), int64(len(f.ndjson))})) {
		return fmt.Errorf("checkFiles read %v and %v, not the files", csvRead, ndjsonRead)
	}
	return err
}

// testPatient is a released patient and their rows.
type testPatient struct {
	qi   anonymize.Row // pseudonym and generalized quasi-identifiers
	rows []anonymize.Row
}

// writeTestFiles spools the patients' rows and writes the files, as build
// and writeFiles do.
func writeTestFiles(t *testing.T, columns []anonymize.Column, qis []string, patients []testPatient) testFiles {
	t.Helper()
	dir := t.TempDir()
	tail := tailColumns(columns, qis)
	sp, err := newSpool(dir, 2, len(tail))
	if err != nil {
		t.Fatal(err)
	}
	b := &built{columns: columns, qis: qis, spool: sp}
	defer b.Close()
	for i, p := range patients {
		sink := sp.sink(i % 2)
		for _, r := range p.rows {
			cells := sink.next()
			for j, c := range tail {
				cells[j] = r[c.Name]
			}
			if err := sink.put(); err != nil {
				t.Fatal(err)
			}
		}
		b.patients = append(b.patients, releasedPatient{qi: p.qi, rows: sink.run()})
	}
	if err := sp.flush(); err != nil {
		t.Fatal(err)
	}
	fs, err := writeFiles(t.Context(), b, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	out := testFiles{rows: fs.rows}
	for _, f := range []struct {
		dst  *[]byte
		file dataFile
	}{{&out.csv, fs.csv}, {&out.ndjson, fs.ndjson}} {
		if *f.dst, err = io.ReadAll(f.file.reader()); err != nil {
			t.Fatal(err)
		}
		if sha256Of(*f.dst) != f.file.sha256 || int64(len(*f.dst)) != f.file.bytes {
			t.Fatalf("a written file is not what its hash and size say")
		}
	}
	return out
}

// object is a stored file of a dataset.
func (w *world) object(id, file string) []byte {
	w.t.Helper()
	b, ok := w.store.Object(fileKey(id, file))
	if !ok {
		w.t.Fatalf("dataset %s has no %s", id, file)
	}
	return b
}

// csvRows reads a released dataset's CSV back.
func (w *world) csvRows(id string) []map[string]string {
	w.t.Helper()
	rows, err := ReadCSV(strings.NewReader(string(w.object(id, FileCSV))))
	if err != nil {
		w.t.Fatal(err)
	}
	out := make([]map[string]string, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out
}

// files are the objects stored under a dataset's prefix, status included.
func (w *world) files(id string) []string {
	var names []string
	for _, k := range w.store.Keys(id + "/") {
		names = append(names, strings.TrimPrefix(k, id+"/"))
	}
	return names
}

// pseudonyms are the distinct pseudonyms of rows.
func pseudonyms(rows []map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, r := range rows {
		out[r[ColPseudonym]] = true
	}
	return out
}

func sha256Of(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
