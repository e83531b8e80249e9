//go:build ha

package hatest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	ingestv1 "healthexchange/proto/ingest/v1"
	recordsv1 "healthexchange/proto/records/v1"
	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/apps/patientcli"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/auth/devissuer"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/serving"
	"healthexchange/wearables/mhealth"
)

// ------------------------------------------------------ the services' side ---

func haEnv(t testing.TB) devenv.Env {
	t.Helper()
	e, err := devenv.Load(filepath.Join(haState, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// dialService connects to every instance of a service as the named holder
// of a development certificate: calls are spread over the instances that
// are up, and go on against the others when one goes.
func dialService(t testing.TB, env devenv.Env, service, as string) *grpc.ClientConn {
	t.Helper()
	svc, err := env.Service(service)
	if err != nil {
		t.Fatal(err)
	}
	return dialAddrs(t, env, svc.GRPC, as)
}

func dialAddrs(t testing.TB, env devenv.Env, addrs, as string) *grpc.ClientConn {
	t.Helper()
	f := env.TLS(as)
	conn, err := serving.DialAsCaller(serving.TLSFiles{CertFile: f.CertFile, KeyFile: f.KeyFile, CAFile: f.CAFile}, addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitServing waits until every instance of every service says SERVING
// (the consent service does once its view follows the ledger).
func waitServing(t testing.TB, env devenv.Env, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, name := range env.ServiceNames() {
		svc, _ := env.Service(name)
		if len(svc.Instances) < 2 {
			t.Fatalf("the profile runs %d instance(s) of the %s service, want 2", len(svc.Instances), name)
		}
		for _, in := range svc.Instances {
			health := healthpb.NewHealthClient(dialAddrs(t, env, in.GRPC, "app-operator"))
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
				cancel()
				if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s (%s) not SERVING within %s: %v %v", in.Name, in.GRPC, within, resp.GetStatus(), err)
				}
				time.Sleep(250 * time.Millisecond)
			}
		}
	}
}

// issue is a development token of the profile's identity provider for
// issuerOrg ("" for the patients').
func issue(t testing.TB, env devenv.Env, issuerOrg string, c devissuer.Claims) string {
	t.Helper()
	return itest.IssuedTokenIn(t, env, issuerOrg, c)
}

func bearer(tok string) grpc.CallOption { return grpc.PerRPCCredentials(auth.Bearer(tok)) }

// transient is an answer a client tries again: the instance went away
// under the call, or could not finish it in time.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// viaConsentService writes a patient's changes through the consent service
// (all its instances), with the patient's token.
type viaConsentService struct {
	c   consentv1.ConsentServiceClient
	tok string
}

func (v viaConsentService) grant(ctx context.Context, s ledger.Signed) error {
	_, err := v.c.GrantConsent(ctx, &consentv1.GrantConsentRequest{Grant: &consentv1.SignedPayload{Payload: s.Payload, Signature: s.Signature}}, bearer(v.tok))
	return asLedgerError(err)
}

func (v viaConsentService) revoke(ctx context.Context, s ledger.Signed) error {
	_, err := v.c.RevokeConsent(ctx, &consentv1.RevokeConsentRequest{Revocation: &consentv1.SignedPayload{Payload: s.Payload, Signature: s.Signature}}, bearer(v.tok))
	return asLedgerError(err)
}

// asLedgerError: a final answer of the service as ledger.ErrRejected (what
// the consent load stops or counts on), anything else as it is (retried).
func asLedgerError(err error) error {
	if err == nil || transient(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ledger.ErrRejected, err)
}

// --------------------------------------------------------------- the loads ---

// opLoad counts one kind of operation a client makes against a replicated
// service: what was acknowledged and when, each failed attempt (retried),
// and the first final refusal (which ends the test).
type opLoad struct {
	name     string
	mu       sync.Mutex
	acks     []time.Time
	failures []string
	fatal    error
	stop     context.CancelFunc
	done     chan struct{}
	wg       sync.WaitGroup
}

func newOpLoad(name string) (*opLoad, context.Context) {
	ctx, stop := context.WithCancel(context.Background())
	return &opLoad{name: name, stop: stop, done: make(chan struct{})}, ctx
}

// run starts the load's clients.
func (l *opLoad) run(clients ...func()) {
	for _, c := range clients {
		l.wg.Go(c)
	}
	go func() { l.wg.Wait(); close(l.done) }()
}

// try makes call until it succeeds (true), is refused for good (the load
// fails), or the load ends (false: neither acknowledged nor failed).
func (l *opLoad) try(ctx context.Context, call func(context.Context) error) bool {
	for ctx.Err() == nil {
		callCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := call(callCtx)
		cancel()
		if err == nil {
			l.mu.Lock()
			l.acks = append(l.acks, time.Now())
			l.mu.Unlock()
			return true
		}
		if !transient(err) {
			l.setFatal(fmt.Errorf("%s: refused: %w", l.name, err))
			return false
		}
		l.mu.Lock()
		l.failures = append(l.failures, time.Now().Format("15:04:05.000")+" "+err.Error())
		l.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

func (l *opLoad) acked(since time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.acks {
		if !at.Before(since) {
			n++
		}
	}
	return n
}

func (l *opLoad) waitAcked(t *testing.T, n int, since time.Time, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for l.acked(since) < n {
		l.mu.Lock()
		fatal := l.fatal
		l.mu.Unlock()
		if fatal != nil {
			t.Fatal(fatal)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d acknowledged since %s, want %d within %s", l.name, l.acked(since), since.Format(time.TimeOnly), n, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *opLoad) finish(t *testing.T) {
	t.Helper()
	l.stop()
	select {
	case <-l.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s: the load did not end within 2 minutes of being stopped", l.name)
	}
	if l.fatal != nil {
		t.Fatal(l.fatal)
	}
}

// gapAfter: how long after t0 the first acknowledgement came, and the
// longest time between two from t0 on.
func (l *opLoad) gapAfter(t0 time.Time) (first, longest time.Duration) {
	l.mu.Lock()
	times := slices.Clone(l.acks)
	l.mu.Unlock()
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	prev := t0
	for _, at := range times {
		if at.Before(t0) {
			continue
		}
		if first == 0 {
			first = at.Sub(t0)
		}
		longest = max(longest, at.Sub(prev))
		prev = at
	}
	return first, longest
}

func (l *opLoad) logFailures(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.failures {
		t.Logf("%s: failed attempt (retried): %.300s", l.name, f)
	}
}

// retried makes a read until it answers, or fails for good, or a minute
// has passed: what a client does when an answer does not come (a MinIO
// node that has just left or come back can hold a call for the services'
// whole store timeout).
func retried(ctx context.Context, call func(context.Context) error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := call(callCtx)
		cancel()
		if err == nil || !transient(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// count is what a load's acknowledgements came to.
type count struct{ acknowledged, present, lost, duplicated, failedAttempts int }

func (c count) String() string {
	return fmt.Sprintf("acknowledged %d, present %d, lost %d, duplicated %d; failed attempts (retried) %d",
		c.acknowledged, c.present, c.lost, c.duplicated, c.failedAttempts)
}

// ------------------------------------------------------------ the patients ---

// dataPatient is a patient whose records and readings the loads write: they
// let Providers read and write labs and vitals for treatment, and the study
// use them for research, and paired a wearable.
type dataPatient struct {
	id, device string
	deviceKey  ed25519.PrivateKey
}

// setUpDataPatients registers n such patients through the ledger.
func setUpDataPatients(t *testing.T, c *ledger.Client, n int, study string) []dataPatient {
	t.Helper()
	ctx := context.Background()
	submit := func(what string, call func() error) {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
			err := call()
			if err == nil {
				return
			}
			if !errors.Is(err, ledger.ErrUnavailable) || time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
		}
	}
	var out []dataPatient
	for _, k := range registerPatients(t, c, n) {
		pub, key, _ := ed25519.GenerateKey(nil)
		p := dataPatient{id: k.PatientID(), device: "watch-" + k.PatientID(), deviceKey: key}
		care, _ := k.Grant(ledgerapi.ConsentGrant{ConsentID: p.id + "-care", Grantee: ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: ledgerapi.ProvidersMSP},
			Categories: []string{"demographics", "labs", "vitals"}, Purposes: []string{"treatment"}})
		submit("grant care", func() error { _, err := c.GrantConsent(ctx, care); return err })
		research, _ := k.Grant(ledgerapi.ConsentGrant{ConsentID: p.id + "-study", Grantee: ledgerapi.Grantee{Kind: ledgerapi.GranteeStudy, ID: study},
			Categories: []string{"demographics", "labs", "vitals"}, Purposes: []string{"research"}})
		submit("grant research", func() error { _, err := c.GrantConsent(ctx, research); return err })
		dev, _ := k.RegisterDevice(p.device, base64.StdEncoding.EncodeToString(pub))
		submit("pair device", func() error { _, err := c.RegisterDevice(ctx, dev); return err })
		out = append(out, p)
	}
	return out
}

// ---------------------------------------------------------------- records ---

type filed struct{ patient, recordID, sha string }

type recordLoad struct {
	*opLoad
	mu    sync.Mutex
	filed []filed
}

// startRecordLoad: a Providers clinician files lab results for each
// patient, one at a time, each put with its own idempotency key and tried
// again (the same request) until it is acknowledged.
func startRecordLoad(c recordsv1.RecordServiceClient, tok, run string, patients []dataPatient) *recordLoad {
	ol, ctx := newOpLoad("records")
	l := &recordLoad{opLoad: ol}
	var clients []func()
	for _, p := range patients {
		clients = append(clients, func() {
			for n := 0; ctx.Err() == nil; n++ {
				req := &recordsv1.PutRecordRequest{PatientId: p.id, IdempotencyKey: fmt.Sprintf("%s-%d", run, n),
					Resource: []byte(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},` +
						`"subject":{"reference":"Patient/` + p.id + `"},"valueQuantity":{"value":` + fmt.Sprintf("%d.%d", 5+n%4, n%10) + `,"unit":"%"}}`)}
				var resp *recordsv1.PutRecordResponse
				if !l.try(ctx, func(ctx context.Context) (err error) {
					resp, err = c.PutRecord(ctx, req, bearer(tok))
					return err
				}) {
					return
				}
				r := resp.GetRecord()
				l.mu.Lock()
				l.filed = append(l.filed, filed{patient: p.id, recordID: r.GetRecordId(), sha: r.GetSha256()})
				l.mu.Unlock()
			}
		})
	}
	l.run(clients...)
	return l
}

// tally reads every acknowledged record back (its bytes must hash to what
// was notarized) and lists each patient's records: one per acknowledged
// put, no more.
func (l *recordLoad) tally(t *testing.T, c recordsv1.RecordServiceClient, tok string) count {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l.mu.Lock()
	acks := slices.Clone(l.filed)
	l.mu.Unlock()
	n := count{acknowledged: len(acks), failedAttempts: len(l.failures)}
	byPatient := map[string]int{}
	for _, a := range acks {
		byPatient[a.patient]++
		var resp *recordsv1.GetRecordResponse
		err := retried(ctx, func(ctx context.Context) (err error) {
			resp, err = c.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: a.patient, RecordId: a.recordID}, bearer(tok))
			return err
		})
		sum := sha256.Sum256(resp.GetResource())
		if err != nil || resp.GetRecord().GetSha256() != a.sha || hex.EncodeToString(sum[:]) != a.sha {
			t.Errorf("record %s of %s: acknowledged with sha256 %s, read back: %v", a.recordID, a.patient, a.sha, err)
			n.lost++
			continue
		}
		n.present++
	}
	for p, want := range byPatient {
		listed := 0
		for page := ""; ; {
			var resp *recordsv1.ListRecordsResponse
			err := retried(ctx, func(ctx context.Context) (err error) {
				resp, err = c.ListRecords(ctx, &recordsv1.ListRecordsRequest{PatientId: p, PageSize: 100, PageToken: page}, bearer(tok))
				return err
			})
			if err != nil {
				t.Fatalf("listing %s's records: %v", p, err)
			}
			listed += len(resp.GetRecords())
			if page = resp.GetNextPageToken(); page == "" {
				break
			}
		}
		listed-- // the demographics record
		if listed > want {
			t.Errorf("patient %s: %d records listed for %d acknowledged puts", p, listed, want)
			n.duplicated += listed - want
		}
	}
	return n
}

// ------------------------------------------------------------- wearables ---

type uploaded struct {
	patient, device string
	seq             uint64
}

type uploadLoad struct {
	*opLoad
	mu   sync.Mutex
	sent []uploaded
}

const readingsPerBatch = 3

// startUploadLoad: each patient's wearable uploads signed batches with
// increasing sequence numbers; a batch whose answer is lost is sent again,
// the same signed bytes, until it is acknowledged (accepted, or a
// duplicate of one stored).
func startUploadLoad(c ingestv1.IngestServiceClient, patients []dataPatient) *uploadLoad {
	ol, ctx := newOpLoad("ingest")
	l := &uploadLoad{opLoad: ol}
	var clients []func()
	for _, p := range patients {
		clients = append(clients, func() {
			for seq := uint64(1); ctx.Err() == nil; seq++ {
				at := time.Now().Add(-time.Minute).Truncate(time.Second)
				rs := make([]mhealth.Reading, readingsPerBatch)
				for i := range rs {
					rs[i] = mhealth.NewHeartRate(60+float64(seq%40), at.Add(time.Duration(i)*time.Second))
				}
				sb, err := mhealth.Sign(p.deviceKey, mhealth.Batch{DeviceID: p.device, PatientID: p.id, Seq: seq, Readings: rs})
				if err != nil {
					l.setFatal(err)
					return
				}
				req := &ingestv1.UploadRequest{DeviceId: p.device, Payload: sb.Payload, Signature: sb.Signature}
				if !l.try(ctx, func(ctx context.Context) error { return uploadOne(ctx, c, req) }) {
					return
				}
				l.mu.Lock()
				l.sent = append(l.sent, uploaded{patient: p.id, device: p.device, seq: seq})
				l.mu.Unlock()
			}
		})
	}
	l.run(clients...)
	return l
}

// uploadOne sends one batch on a stream of its own and checks its
// acknowledgement.
func uploadOne(ctx context.Context, c ingestv1.IngestServiceClient, req *ingestv1.UploadRequest) error {
	stream, err := c.Upload(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(req); err != nil {
		return err
	}
	ack, err := stream.Recv()
	if err != nil {
		return err
	}
	stream.CloseSend()
	switch ack.GetStatus() {
	case ingestv1.BatchStatus_BATCH_STATUS_ACCEPTED, ingestv1.BatchStatus_BATCH_STATUS_DUPLICATE:
		return nil
	}
	return status.Errorf(codes.FailedPrecondition, "batch %d: %s: %s", ack.GetSeq(), ack.GetStatus(), ack.GetError())
}

// tally reads each patient's readings back: every acknowledged batch with
// all its readings, none twice.
func (l *uploadLoad) tally(t *testing.T, c ingestv1.IngestServiceClient, tok string, from time.Time) count {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l.mu.Lock()
	acks := slices.Clone(l.sent)
	l.mu.Unlock()
	n := count{acknowledged: len(acks), failedAttempts: len(l.failures)}
	readings := map[string]map[uint64]int{} // patient -> seq -> readings
	for _, a := range acks {
		if readings[a.patient] != nil {
			continue
		}
		var resp *ingestv1.ReadReadingsResponse
		err := retried(ctx, func(ctx context.Context) (err error) {
			resp, err = c.ReadReadings(ctx, &ingestv1.ReadReadingsRequest{PatientId: a.patient, Purpose: "treatment",
				From: from.Add(-time.Hour).UTC().Format(time.RFC3339), To: time.Now().Add(time.Hour).UTC().Format(time.RFC3339), Limit: 100000}, bearer(tok))
			return err
		})
		if err != nil {
			t.Fatalf("reading %s's readings: %v", a.patient, err)
		}
		if resp.GetTruncated() {
			t.Fatalf("%s's readings truncated", a.patient)
		}
		readings[a.patient] = map[uint64]int{}
		for _, r := range resp.GetReadings() {
			readings[a.patient][r.GetSeq()]++
		}
	}
	for _, a := range acks {
		switch got := readings[a.patient][a.seq]; {
		case got == readingsPerBatch:
			n.present++
		case got > readingsPerBatch:
			n.present++
			n.duplicated += got/readingsPerBatch - 1
			t.Errorf("batch %d of %s: %d readings, want %d", a.seq, a.device, got, readingsPerBatch)
		default:
			n.lost++
			t.Errorf("batch %d of %s acknowledged: %d readings read back, want %d", a.seq, a.device, got, readingsPerBatch)
		}
	}
	return n
}

// provable waits until every acknowledged batch is anchored on the ledger
// (a proof of its first reading is served), within the time given.
func (l *uploadLoad) provable(t *testing.T, c ingestv1.IngestServiceClient, tok string, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	l.mu.Lock()
	acks := slices.Clone(l.sent)
	l.mu.Unlock()
	missing := 0
	for _, a := range acks {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := c.GetProof(ctx, &ingestv1.GetProofRequest{PatientId: a.patient, DeviceId: a.device, Seq: a.seq, Purpose: "treatment"}, bearer(tok))
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("batch %d of %s: no proof within %s: %v", a.seq, a.device, within, err)
				missing++
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return missing
}

// -------------------------------------------------------------- research ---

type datasetLoad struct {
	*opLoad
	mu  sync.Mutex
	ids []string
}

// startDatasetLoad: a researcher of the study asks for a dataset of the
// patients' labs and vitals every second, each request with its own
// request id, tried again (the same request) until it is acknowledged.
func startDatasetLoad(c researchv1.ResearchServiceClient, tok, run, study string) *datasetLoad {
	ol, ctx := newOpLoad("research")
	l := &datasetLoad{opLoad: ol}
	l.run(func() {
		for n := 0; ctx.Err() == nil; n++ {
			req := &researchv1.CreateDatasetRequest{RequestId: fmt.Sprintf("%s-%d", run, n), Spec: &researchv1.DatasetSpec{StudyId: study,
				Categories: []string{"labs", "vitals"}, K: 2,
				From: time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339), To: time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}}
			var resp *researchv1.CreateDatasetResponse
			if !l.try(ctx, func(ctx context.Context) (err error) {
				resp, err = c.CreateDataset(ctx, req, bearer(tok))
				return err
			}) {
				return
			}
			l.mu.Lock()
			l.ids = append(l.ids, resp.GetDataset().GetDatasetId())
			l.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	})
	return l
}

// tally waits until every acknowledged dataset is released (built by the
// instance that took it, or by that instance once it is back), and lists
// the researcher's datasets: one per acknowledged request.
func (l *datasetLoad) tally(t *testing.T, c researchv1.ResearchServiceClient, tok string, within time.Duration) count {
	t.Helper()
	l.mu.Lock()
	ids := slices.Clone(l.ids)
	l.mu.Unlock()
	n := count{acknowledged: len(ids), failedAttempts: len(l.failures)}
	deadline := time.Now().Add(within)
	for _, id := range ids {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := c.GetDataset(ctx, &researchv1.GetDatasetRequest{DatasetId: id}, bearer(tok))
			cancel()
			st := resp.GetDataset().GetState()
			if err == nil && st == researchv1.DatasetState_DATASET_STATE_RELEASED {
				n.present++
				break
			}
			if err == nil && st == researchv1.DatasetState_DATASET_STATE_FAILED {
				t.Errorf("dataset %s failed: %s", id, resp.GetDataset().GetError())
				n.lost++
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("dataset %s not released within %s: %v %v", id, within, st, err)
				n.lost++
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listed := 0
	for page := ""; ; {
		resp, err := c.ListDatasets(ctx, &researchv1.ListDatasetsRequest{PageSize: 100, PageToken: page}, bearer(tok))
		if err != nil {
			t.Fatalf("listing the datasets: %v", err)
		}
		listed += len(resp.GetDatasets())
		if page = resp.GetNextPageToken(); page == "" {
			break
		}
	}
	if listed > len(ids) {
		t.Errorf("%d datasets listed for %d acknowledged requests", listed, len(ids))
		n.duplicated = listed - len(ids)
	}
	return n
}

// ------------------------------------------------------------------ test ---

// TestServiceInstancesKilledUnderLoad: patients grant and revoke through
// the consent service, a clinician files lab results through the records
// service, wearables upload through the ingest service and a researcher
// asks for datasets through the research service, each client given both
// instances of its service. One instance of each service is killed
// (SIGKILL) at the same moment; every client carries on against the other
// instance (the records, ingest and research services' own decisions move
// to the consent instance that is left). Every acknowledged change,
// record, batch and dataset is there once; the killed instances, started
// again, anchor the batches and build the datasets they had taken.
func TestServiceInstancesKilledUnderLoad(t *testing.T) {
	env := haEnv(t)
	waitServing(t, env, 2*time.Minute)
	reg := dialOrg(t, "providers")
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	study := "study-ha-" + run
	started := time.Now()
	patients := setUpDataPatients(t, reg, 3, study)

	clinician := issue(t, env, ledgerapi.ProvidersMSP, devissuer.Claims{Subject: "dr-ha-" + run, Audiences: devenv.AudiencesFor("clinician"),
		Role: auth.RoleClinician, Org: ledgerapi.ProvidersMSP})
	researcher := issue(t, env, ledgerapi.ResearchMSP, devissuer.Claims{Subject: "res-ha-" + run, Audiences: devenv.AudiencesFor("researcher"),
		Role: auth.RoleResearcher, Org: ledgerapi.ResearchMSP, StudyID: study})
	consent := consentv1.NewConsentServiceClient(dialService(t, env, "consent", "app-patient"))
	records := recordsv1.NewRecordServiceClient(dialService(t, env, "records", "app-clinician"))
	ingest := ingestv1.NewIngestServiceClient(dialService(t, env, "ingest", "device-wearable"))
	ingestReads := ingestv1.NewIngestServiceClient(dialService(t, env, "ingest", "app-clinician"))
	research := researchv1.NewResearchServiceClient(dialService(t, env, "research", "app-researcher"))

	cl := startConsentLoadVia(t, reg, func(k *patientkey.Key) consentWriter {
		return viaConsentService{c: consent, tok: issue(t, env, "", devissuer.Claims{Subject: k.PatientID(),
			Audiences: devenv.AudiencesFor("patient"), Role: auth.RolePatient})}
	}, 4)
	// Each patient's demographics (a research dataset leaves out patients
	// without them), alike enough for k = 2.
	for _, p := range patients {
		put := &recordsv1.PutRecordRequest{PatientId: p.id, IdempotencyKey: "demographics-" + run,
			Resource: []byte(fmt.Sprintf(`{"resourceType":"Patient","id":%q,"gender":"female","birthDate":"1970-03-01","address":[{"postalCode":"12345"}]}`, p.id))}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
			_, err := records.PutRecord(context.Background(), put, bearer(clinician))
			if err == nil {
				break
			}
			if !transient(err) || time.Now().After(deadline) {
				t.Fatalf("filing %s's demographics: %v", p.id, err)
			}
		}
	}
	rl := startRecordLoad(records, clinician, run, patients)
	ul := startUploadLoad(ingest, patients)
	dl := startDatasetLoad(research, researcher, run, study)
	loads := []*opLoad{rl.opLoad, ul.opLoad, dl.opLoad}
	cl.waitAcked(t, 10, time.Time{}, 2*time.Minute)
	for _, l := range loads {
		l.waitAcked(t, 3, time.Time{}, 2*time.Minute)
	}

	killed := []string{"consent-a", "records-a", "ingest-a", "research-a"}
	t.Cleanup(func() {
		for _, n := range killed {
			ha(t, "start", n)
		}
	})
	// All four at once: each ha.sh stop in its own goroutine.
	at := time.Now()
	var kills sync.WaitGroup
	errs := make([]error, len(killed))
	for i, n := range killed {
		kills.Go(func() {
			cmd := exec.Command(haScript, "stop", n)
			cmd.Env = append(os.Environ(), "HX_HA_STATE="+haState)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("ha.sh stop %s: %w\n%s", n, err, out)
			}
		})
	}
	kills.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %v between %s and %s", killed, at.Format("15:04:05.000"), time.Now().Format("15:04:05.000"))
	cl.waitAcked(t, 20, at, 3*time.Minute)
	for _, l := range loads {
		l.waitAcked(t, 5, at, 3*time.Minute)
	}
	cl.finish(t)
	for _, l := range loads {
		l.finish(t)
	}

	report := func(name string, first, longest time.Duration, c count) {
		t.Logf("%-8s first acknowledgement %s after the kill, longest gap %s; %s", name,
			first.Round(time.Millisecond), longest.Round(time.Millisecond), c)
		if c.lost != 0 || c.duplicated != 0 || c.present != c.acknowledged {
			t.Errorf("%s: lost %d, duplicated %d", name, c.lost, c.duplicated)
		}
	}
	first, longest := cl.gapAfter(at)
	ct := cl.tally(t, reg)
	report("consent", first, longest, count{acknowledged: ct.acknowledged, present: ct.present, lost: ct.lost,
		duplicated: ct.duplicated, failedAttempts: ct.failedAttempts})
	cl.logFailures(t)
	first, longest = rl.gapAfter(at)
	report("records", first, longest, rl.tally(t, records, clinician))
	first, longest = ul.gapAfter(at)
	report("ingest", first, longest, ul.tally(t, ingestReads, clinician, started))

	// The killed instances come back on their own state: the ingest
	// instance anchors the batches its journal kept, the research instance
	// builds the datasets it had queued.
	for _, n := range killed {
		ha(t, "start", n)
	}
	waitServing(t, env, 2*time.Minute)
	first, longest = dl.gapAfter(at)
	report("research", first, longest, dl.tally(t, research, researcher, 5*time.Minute))
	if missing := ul.provable(t, ingestReads, clinician, 2*time.Minute); missing != 0 {
		t.Errorf("%d acknowledged batches never anchored", missing)
	} else {
		t.Logf("every acknowledged batch is anchored on the ledger (a proof served for each)")
	}
	for _, l := range loads {
		l.logFailures(t)
	}
}

// TestConsentInstancesShareRequestsAndBreakGlass: what a patient and a
// clinician do at one consent instance is seen at the other. A clinician's
// access request filed at consent-a is listed and approved by the patient
// at consent-b, and seen approved at consent-a; a clinician's break-glass
// grants opened alternately at the two instances count against one daily
// limit, so the one after the limit is refused at either.
func TestConsentInstancesShareRequestsAndBreakGlass(t *testing.T) {
	env := haEnv(t)
	waitServing(t, env, 2*time.Minute)
	svc, _ := env.Service("consent")
	at := map[string]string{}
	for _, in := range svc.Instances {
		at[in.Name] = in.GRPC
	}
	ctx := context.Background()
	reg := dialOrg(t, "providers")
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	keys := registerPatients(t, reg, 6)
	dr := "dr-bg-" + run
	clinician := issue(t, env, ledgerapi.ProvidersMSP, devissuer.Claims{Subject: dr, Audiences: devenv.AudiencesFor("clinician"),
		Role: auth.RoleClinician, Org: ledgerapi.ProvidersMSP})

	// The access request.
	k := keys[0]
	patient := issue(t, env, "", devissuer.Claims{Subject: k.PatientID(), Audiences: devenv.AudiencesFor("patient"), Role: auth.RolePatient})
	asClinician := func(node string) consentv1.ConsentServiceClient {
		return consentv1.NewConsentServiceClient(dialAddrs(t, env, at[node], "app-clinician"))
	}
	asPatient := func(node string) consentv1.ConsentServiceClient {
		return consentv1.NewConsentServiceClient(dialAddrs(t, env, at[node], "app-patient"))
	}
	var created *consentv1.CreateAccessRequestResponse
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		// Each instance knows the patient once its view has the registration.
		var err error
		created, err = asClinician("consent-a").CreateAccessRequest(ctx, &consentv1.CreateAccessRequestRequest{PatientId: k.PatientID(),
			Categories: []string{"labs"}, Purposes: []string{"treatment"}, Reason: "follow-up"}, bearer(clinician))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("filing the access request at consent-a: %v", err)
		}
	}
	id := created.GetRequest().GetRequestId()
	listed, err := asPatient("consent-b").ListAccessRequests(ctx, &consentv1.ListAccessRequestsRequest{State: "pending"}, bearer(patient))
	if err != nil || len(listed.GetRequests()) != 1 || listed.GetRequests()[0].GetRequestId() != id {
		t.Fatalf("the patient's pending requests at consent-b: %v, %v; want %s filed at consent-a", listed.GetRequests(), err, id)
	}
	grant, err := k.Grant(ledgerapi.ConsentGrant{ConsentID: "c-" + run, Grantee: ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, dr),
		Categories: []string{"labs"}, Purposes: []string{"treatment"}})
	if err != nil {
		t.Fatal(err)
	}
	approved, err := asPatient("consent-b").ApproveAccessRequest(ctx, &consentv1.ApproveAccessRequestRequest{RequestId: id,
		Grant: &consentv1.SignedPayload{Payload: grant.Payload, Signature: grant.Signature}}, bearer(patient))
	if err != nil || approved.GetRequest().GetState() != "approved" {
		t.Fatalf("approving at consent-b: %v, %v", approved, err)
	}
	listed, err = asPatient("consent-a").ListAccessRequests(ctx, &consentv1.ListAccessRequestsRequest{}, bearer(patient))
	if err != nil || len(listed.GetRequests()) != 1 || listed.GetRequests()[0].GetState() != "approved" {
		t.Fatalf("the request at consent-a after the approval at consent-b: %v, %v", listed.GetRequests(), err)
	}
	t.Logf("access request %s filed at consent-a, listed and approved at consent-b, seen approved at consent-a", id)

	// Break-glass: the daily limit (5 by default) across both instances.
	er := "dr-er-" + run
	emergency := issue(t, env, ledgerapi.ProvidersMSP, devissuer.Claims{Subject: er, Audiences: devenv.AudiencesFor("clinician"),
		Role: auth.RoleClinician, Org: ledgerapi.ProvidersMSP})
	breakGlass := func(node string, k *patientkey.Key) *consentv1.Decision {
		dc := consentv1.NewDecisionServiceClient(dialAddrs(t, env, at[node], "app-clinician"))
		resp, err := dc.Authorize(ctx, &consentv1.AuthorizeRequest{Action: "read", Purpose: "emergency", BreakGlassReason: "unconscious, labs needed",
			Resource: &consentv1.Resource{PatientId: k.PatientID(), Category: "labs"}}, bearer(emergency))
		if err != nil {
			t.Fatalf("break-glass at %s: %v", node, err)
		}
		return resp.GetDecision()
	}
	nodes := []string{"consent-a", "consent-b"}
	for i, k := range keys[:5] {
		if d := breakGlass(nodes[i%2], k); !d.GetAllow() {
			t.Fatalf("break-glass %d of the day at %s: denied %v", i+1, nodes[i%2], d.GetReasons())
		}
	}
	for _, node := range nodes {
		d := breakGlass(node, keys[5])
		if d.GetAllow() || !strings.Contains(strings.Join(d.GetReasons(), " "), "limit") {
			t.Fatalf("a sixth break-glass at %s: allow %v %v; want the daily limit", node, d.GetAllow(), d.GetReasons())
		}
	}
	if d := breakGlass("consent-b", keys[0]); !d.GetAllow() {
		t.Fatalf("the grant opened at consent-a, used at consent-b: denied %v", d.GetReasons())
	}
	t.Logf("5 break-glass grants opened alternately at consent-a and consent-b; the sixth refused at both; a grant opened at one honoured at the other")
}

// registerPatients registers n new patients through c. Right after the
// profile starts, a gateway may not yet know the other organisation's peers
// (gossip): each registration waits for its endorsement, a minute at most.
func registerPatients(t *testing.T, c *ledger.Client, n int) []*patientkey.Key {
	t.Helper()
	var keys []*patientkey.Key
	for i := range n {
		k, err := patientkey.Generate(fmt.Sprintf("pat-ha-%s-%d", strconv.FormatInt(time.Now().UnixNano(), 36), i))
		if err != nil {
			t.Fatal(err)
		}
		reg, err := k.Register()
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
			_, err := c.RegisterPatient(context.Background(), reg)
			if err == nil {
				break
			}
			if !errors.Is(err, ledger.ErrUnavailable) || time.Now().After(deadline) {
				t.Fatalf("registering patient %d: %v", i, err)
			}
		}
		keys = append(keys, k)
	}
	return keys
}

// TestPatientCLIFailsOver: the patient's command-line app, given both
// consent instances' gateways (what network.json lists), registers a new
// patient and grants a consent while the first instance is down.
func TestPatientCLIFailsOver(t *testing.T) {
	env := haEnv(t)
	waitServing(t, env, 2*time.Minute)
	servers := env.URL("consent")
	if !strings.Contains(servers, ",") {
		t.Fatalf("network.json gives the CLIs %q: want both consent instances' gateways", servers)
	}
	t.Cleanup(func() { ha(t, "start", "consent-a") })
	ha(t, "stop", "consent-a")

	id := "pat-cli-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	key := filepath.Join(t.TempDir(), "key.json")
	tok := issue(t, env, "", devissuer.Claims{Subject: id, Audiences: devenv.AudiencesFor("patient"), Role: auth.RolePatient})
	run := func(args ...string) string {
		t.Helper()
		full := append([]string{args[0], "--server", servers, "--ca", env.ServicesTLS.CA, "--token", tok, "--key", key, "--json"}, args[1:]...)
		var out, errOut strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if code := patientcli.Run(ctx, full, &out, &errOut); code != 0 {
			t.Fatalf("patient %s with consent-a down: exit %d: %s", args[0], code, errOut.String())
		}
		return out.String()
	}
	run("keygen", "--id", id)
	run("register")
	out := run("grant", "--to", "org:ProvidersMSP", "--categories", "labs", "--purposes", "treatment")
	if !strings.Contains(out, `"active"`) {
		t.Fatalf("grant through consent-b: %s", out)
	}
	t.Logf("with consent-a down, the patient CLI registered %s and granted a consent through consent-b", id)
}

// TestMinIONodeStoppedUnderServiceLoad: a clinician files lab results
// through the records service and wearables upload through the ingest
// service (both instances of each) while the MinIO node the services ask
// first is killed. The services carry on through the other nodes; every
// acknowledged record and batch reads back through the services, with the
// node down and after it is back.
func TestMinIONodeStoppedUnderServiceLoad(t *testing.T) {
	env := haEnv(t)
	waitServing(t, env, 2*time.Minute)
	reg := dialOrg(t, "providers")
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	started := time.Now()
	patients := setUpDataPatients(t, reg, 3, "study-hm-"+run)
	clinician := issue(t, env, ledgerapi.ProvidersMSP, devissuer.Claims{Subject: "dr-hm-" + run, Audiences: devenv.AudiencesFor("clinician"),
		Role: auth.RoleClinician, Org: ledgerapi.ProvidersMSP})
	records := recordsv1.NewRecordServiceClient(dialService(t, env, "records", "app-clinician"))
	ingest := ingestv1.NewIngestServiceClient(dialService(t, env, "ingest", "device-wearable"))
	ingestReads := ingestv1.NewIngestServiceClient(dialService(t, env, "ingest", "app-clinician"))

	rl := startRecordLoad(records, clinician, run, patients)
	ul := startUploadLoad(ingest, patients)
	for _, l := range []*opLoad{rl.opLoad, ul.opLoad} {
		l.waitAcked(t, 5, time.Time{}, 2*time.Minute)
	}
	const node = "minio0"
	t.Cleanup(func() { ha(t, "start", node) })
	killed := time.Now()
	ha(t, "stop", node)
	rl.waitAcked(t, 15, killed, 3*time.Minute)
	ul.waitAcked(t, 50, killed, 3*time.Minute)
	rl.finish(t)
	ul.finish(t)
	check := func(when string) {
		t.Helper()
		first, longest := rl.gapAfter(killed)
		rc := rl.tally(t, records, clinician)
		t.Logf("%s: records through the records service: first acknowledgement %s after the kill, longest gap %s; %s", when,
			first.Round(time.Millisecond), longest.Round(time.Millisecond), rc)
		first, longest = ul.gapAfter(killed)
		uc := ul.tally(t, ingestReads, clinician, started)
		t.Logf("%s: batches through the ingest service: first acknowledgement %s after the kill, longest gap %s; %s", when,
			first.Round(time.Millisecond), longest.Round(time.Millisecond), uc)
		for name, c := range map[string]count{"records": rc, "batches": uc} {
			if c.lost != 0 || c.duplicated != 0 || c.present != c.acknowledged {
				t.Errorf("%s: %s: lost %d, duplicated %d", when, name, c.lost, c.duplicated)
			}
		}
	}
	check(node + " down")
	ha(t, "start", node)
	check(node + " back")
	rl.logFailures(t)
	ul.logFailures(t)
}
