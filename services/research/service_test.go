package research

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/platform/auth"
)

func TestReleaseIsRecordedWithTheFilesHashes(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	w.ledger.grant("patient-0002", study1, "labs") // a second useful consent
	d := w.released(labsSpec())
	id := d.GetDatasetId()

	rel, ok := w.ledger.release(id)
	if !ok {
		t.Fatal("no release on the ledger")
	}
	manifest := w.object(id, FileManifest)
	if sum := sha256Of(manifest); rel.SHA256 != sum || d.GetReleaseSha256() != sum {
		t.Errorf("ledger sha256 %s, status %s; the stored manifest hashes to %s", rel.SHA256, d.GetReleaseSha256(), sum)
	}
	if d.GetLedgerTxId() != rel.TxID || d.GetFinishedAt() == "" {
		t.Errorf("status tx %q finished %q, ledger tx %q", d.GetLedgerTxId(), d.GetFinishedAt(), rel.TxID)
	}
	stored := &researchv1.Manifest{}
	if err := protojson.Unmarshal(manifest, stored); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(stored, d.GetManifest()) {
		t.Error("the status's manifest differs from the stored one")
	}
	if len(stored.GetFiles()) != 2 {
		t.Fatalf("manifest files %v", stored.GetFiles())
	}
	for _, f := range stored.GetFiles() {
		b := w.object(id, f.GetName())
		if f.GetSha256() != sha256Of(b) || f.GetBytes() != int64(len(b)) || f.GetObject() != fileKey(id, f.GetName()) {
			t.Errorf("manifest file %v; stored %d bytes hashing to %s", f, len(b), sha256Of(b))
		}
	}
	var want []string
	for _, p := range []string{"patient-0001", "patient-0002", "patient-0003", "patient-0004"} {
		want = append(want, w.ledger.consentsOf(p)...)
	}
	slices.Sort(want)
	if !slices.Equal(rel.ConsentIDs, want) || rel.CohortSize != 4 || rel.K != 3 || rel.StudyID != "study-1" || rel.Researcher != "alice" {
		t.Errorf("release %+v, want consents %v, cohort 4, k 3, study-1, alice", rel.DatasetReleaseRequest, want)
	}
	if stored.GetConsentSetSha256() != rel.ConsentSetSHA256 || stored.GetConsentCount() != 5 {
		t.Errorf("manifest consent set %s (%d), ledger %s", stored.GetConsentSetSha256(), stored.GetConsentCount(), rel.ConsentSetSHA256)
	}
	if stored.GetSoftwareVersion() != SoftwareVersion || len(stored.GetSteps()) != 6 || stored.GetCohortTime() == "" {
		t.Errorf("manifest version %q, %d steps, cohort time %q", stored.GetSoftwareVersion(), len(stored.GetSteps()), stored.GetCohortTime())
	}
	if got := d.GetProgress(); got.GetStage() != "done" || got.GetPatientsDone() != 4 || got.GetRows() != 4 {
		t.Errorf("progress %v", got)
	}
}

// TestFailedJobLeavesNoFiles: whatever stops a job, it ends FAILED with its
// reason, holding its status and no file, and nothing is on the ledger
// unless the ledger said so.
func TestFailedJobLeavesNoFiles(t *testing.T) {
	tests := map[string]struct {
		setup func(*world)
		want  string
	}{
		"a consent revoked between cohort and record": {
			func(w *world) {
				w.ledger.beforeRecord = func() { w.ledger.revoke(w.ledger.consentsOf("patient-0001")[0]) }
			},
			"the ledger refused the release",
		},
		"a file not stored": {
			func(w *world) {
				w.store.FailPuts(func(key string) bool { return strings.HasSuffix(key, "/dataset.ndjson") })
			},
			"storing ndjson",
		},
		"the consents not readable": {
			func(w *world) { w.ledger.consentsErr = errLedgerUnavailable },
			"consents of org ResearchMSP",
		},
		"the records not listable": {
			func(w *world) { w.ledger.recordsErr = errLedgerUnavailable },
			"records of a cohort member",
		},
		"the records bucket down": {
			func(w *world) { w.recordsOS.SetDown(true) },
			"a demographics record",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.cohort(4)
			tc.setup(w)
			d := w.build(labsSpec())
			if d.GetState() != researchv1.DatasetState_DATASET_STATE_FAILED || !strings.Contains(d.GetError(), tc.want) {
				t.Errorf("dataset is %v (%q), want failed saying %q", d.GetState(), d.GetError(), tc.want)
			}
			if got := w.files(d.GetDatasetId()); !slices.Equal(got, []string{"status.json"}) {
				t.Errorf("the failed dataset left %v", got)
			}
			if _, ok := w.ledger.release(d.GetDatasetId()); ok {
				t.Error("a release is on the ledger")
			}
			if d.GetFinishedAt() == "" {
				t.Error("no finished_at")
			}
		})
	}
}

// TestUnknownOutcomeKeepsTheFiles: when the ledger cannot say whether the
// release was recorded, the files are not deleted (the release may be on
// the ledger), nothing is marked failed, and running the job again once the
// ledger answers settles it: built anew when nothing was recorded.
func TestUnknownOutcomeKeepsTheFiles(t *testing.T) {
	tests := map[string]func(*world){
		"the ledger unavailable, the release not landed": func(w *world) { w.ledger.recordErr = errLedgerUnavailable },
		"the ledger unavailable and cannot be asked": func(w *world) {
			w.ledger.recordErr, w.ledger.recordLand, w.ledger.lookupErr = errLedgerUnavailable, false, errLedgerUnavailable
		},
	}
	for name, setup := range tests {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.cohort(4)
			setup(w)
			d := w.build(labsSpec())
			id := d.GetDatasetId()
			if d.GetState() != researchv1.DatasetState_DATASET_STATE_RUNNING || d.GetError() != "" ||
				!strings.Contains(d.GetProgress().GetStage(), "the ledger did not answer") {
				t.Fatalf("dataset is %v (%q, stage %q), want running, waiting for the ledger", d.GetState(), d.GetError(), d.GetProgress().GetStage())
			}
			if got := w.files(id); len(got) != 4 {
				t.Fatalf("files %v, want status and the three files kept", got)
			}
			if _, ok := w.ledger.release(id); ok {
				t.Fatal("a release is on the ledger")
			}
			w.ledger.recordErr, w.ledger.lookupErr = nil, nil
			w.svc.runJob(w.ctx, id)
			got, err := w.svc.load(w.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			rel, ok := w.ledger.release(id)
			if got.GetState() != researchv1.DatasetState_DATASET_STATE_RELEASED || !ok || rel.SHA256 != got.GetReleaseSha256() {
				t.Fatalf("after the ledger answers: %v, ledger %+v", got.GetState(), rel)
			}
		})
	}
}

func TestUnknownOutcomeThatLandedIsReleased(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	w.ledger.recordErr, w.ledger.recordLand = errLedgerUnavailable, true
	d := w.released(labsSpec())
	rel, ok := w.ledger.release(d.GetDatasetId())
	if !ok || d.GetLedgerTxId() != rel.TxID || d.GetReleaseSha256() != rel.SHA256 {
		t.Errorf("status tx %q sha %q, ledger %+v", d.GetLedgerTxId(), d.GetReleaseSha256(), rel)
	}
	if got := w.files(d.GetDatasetId()); len(got) != 4 {
		t.Errorf("files %v, want status and the three files", got)
	}
}

func TestPseudonymsDifferBetweenDatasets(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	a := pseudonyms(w.csvRows(w.released(labsSpec()).GetDatasetId()))
	b := pseudonyms(w.csvRows(w.released(labsSpec()).GetDatasetId()))
	if len(a) != 4 || len(b) != 4 {
		t.Fatalf("%d and %d pseudonyms, want 4 and 4", len(a), len(b))
	}
	for p := range a {
		if b[p] {
			t.Errorf("pseudonym %s is in both datasets", p)
		}
	}
}

func TestRevokedConsentLeavesTheNextDataset(t *testing.T) {
	w := newWorld(t)
	w.cohort(5)
	first := w.released(labsSpec())
	for _, id := range w.ledger.consentsOf("patient-0003") {
		w.ledger.revoke(id)
	}
	second := w.released(labsSpec())
	if n := len(pseudonyms(w.csvRows(first.GetDatasetId()))); n != 5 {
		t.Errorf("the first dataset has %d patients, want 5", n)
	}
	if n := len(pseudonyms(w.csvRows(second.GetDatasetId()))); n != 4 {
		t.Errorf("after a revocation the next dataset has %d patients, want 4", n)
	}
	rel, _ := w.ledger.release(second.GetDatasetId())
	for _, id := range w.ledger.consentsOf("patient-0003") {
		if slices.Contains(rel.ConsentIDs, id) {
			t.Errorf("the revoked consent %s is cited", id)
		}
	}
	if got := w.files(first.GetDatasetId()); len(got) != 4 {
		t.Errorf("the first dataset now has %v: a revocation does not recall a release", got)
	}
}

func TestRequestIDRetry(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	first := w.create(labsSpec(), "req-1")
	again := w.create(labsSpec(), "req-1")
	if again.GetDatasetId() != first.GetDatasetId() {
		t.Errorf("a retry made %s, want %s", again.GetDatasetId(), first.GetDatasetId())
	}
	if n := len(w.svc.queue); n != 1 {
		t.Errorf("%d jobs queued, want 1", n)
	}
	w.runQueued()
	done := w.create(labsSpec(), "req-1")
	if done.GetDatasetId() != first.GetDatasetId() || done.GetState() != researchv1.DatasetState_DATASET_STATE_RELEASED {
		t.Errorf("a retry after the build: %s %v, want %s released", done.GetDatasetId(), done.GetState(), first.GetDatasetId())
	}

	other := labsSpec()
	other.K = 4
	if _, err := w.svc.Create(w.ctx, alice, other, "req-1"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "req-1") {
		t.Errorf("the same request id with another spec: %v, want ErrInvalid", err)
	}
	bobs, err := w.svc.Create(w.ctx, bob, labsSpec(), "req-1")
	if err != nil || bobs.GetDatasetId() == first.GetDatasetId() {
		t.Errorf("bob's req-1: %v, %v; want a dataset of his own", bobs.GetDatasetId(), err)
	}
	for _, bad := range []string{"req 1", strings.Repeat("r", maxRequestID+1)} {
		if _, err := w.svc.Create(w.ctx, alice, labsSpec(), bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("request id %q: %v, want ErrInvalid", bad, err)
		}
	}
	if a, b := w.create(labsSpec(), ""), w.create(labsSpec(), ""); a.GetDatasetId() == b.GetDatasetId() {
		t.Error("two creates without a request id made one dataset")
	}
}

// TestRecoverFinishesALandedRelease: the service stopped after the release
// reached the ledger and before the status said so.
func TestRecoverFinishesALandedRelease(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	id := w.create(labsSpec(), "").GetDatasetId()
	w.store.FailPuts(func(key string) bool {
		_, landed := w.ledger.release(id)
		return key == statusKey(id) && landed
	})
	w.runQueued()
	w.store.FailPuts(nil)
	d, err := w.svc.load(w.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.GetState() != researchv1.DatasetState_DATASET_STATE_RUNNING {
		t.Fatalf("after the stop the dataset is %v, want running", d.GetState())
	}
	csv := w.object(id, FileCSV)

	if err := w.svc.recover(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.runQueued()
	d, err = w.svc.load(w.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := w.ledger.release(id)
	if d.GetState() != researchv1.DatasetState_DATASET_STATE_RELEASED || d.GetReleaseSha256() != rel.SHA256 || d.GetLedgerTxId() != rel.TxID {
		t.Fatalf("recovered dataset %v sha %s tx %s, ledger %s %s", d.GetState(), d.GetReleaseSha256(), d.GetLedgerTxId(), rel.SHA256, rel.TxID)
	}
	if d.GetManifest().GetDatasetId() != id || sha256Of(w.object(id, FileManifest)) != rel.SHA256 {
		t.Error("the status's manifest is not the stored one")
	}
	if string(w.object(id, FileCSV)) != string(csv) {
		t.Error("recovery rebuilt the released CSV")
	}
	got, err := w.download(alice, id, FileCSV)
	if err != nil || string(got) != string(csv) {
		t.Errorf("Download after recovery: %v", err)
	}
}

func TestRecoverRebuildsAnUnreleasedJob(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	id := w.create(labsSpec(), "").GetDatasetId()
	<-w.svc.queue // the service stopped before it ran
	d, _ := w.svc.load(w.ctx, id)
	d.State = researchv1.DatasetState_DATASET_STATE_RUNNING
	if err := w.svc.save(w.ctx, d); err != nil {
		t.Fatal(err)
	}
	w.store.Set(fileKey(id, FileCSV), []byte("half a file"))

	if err := w.svc.recover(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.runQueued()
	d, _ = w.svc.load(w.ctx, id)
	if d.GetState() != researchv1.DatasetState_DATASET_STATE_RELEASED {
		t.Fatalf("dataset is %v (%s), want released", d.GetState(), d.GetError())
	}
	csv := w.object(id, FileCSV)
	if string(csv) == "half a file" || d.GetManifest().GetFiles()[0].GetSha256() != sha256Of(csv) {
		t.Error("the leftover file was released")
	}
}

// TestRecoverLeavesAnotherInstancesJobs: of two instances sharing the
// bucket, the one starting resumes its own interrupted job and a job no
// instance took, and leaves the job the other instance is building alone
// (neither its files deleted nor built twice).
func TestRecoverLeavesAnotherInstancesJobs(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	w.svc.instance = "research-b"
	theirs := w.create(labsSpec(), "theirs").GetDatasetId()
	<-w.svc.queue // research-b is building it
	w.svc.instance = "research-a"
	mine := w.create(labsSpec(), "mine").GetDatasetId()
	<-w.svc.queue // research-a stopped before it ran
	legacy := w.create(labsSpec(), "legacy").GetDatasetId()
	<-w.svc.queue
	if err := w.store.Delete(w.ctx, instanceKey(legacy)); err != nil { // made before jobs had owners
		t.Fatal(err)
	}
	for _, id := range []string{theirs, mine} {
		d, _ := w.svc.load(w.ctx, id)
		d.State = researchv1.DatasetState_DATASET_STATE_RUNNING
		if err := w.svc.save(w.ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	w.store.Set(fileKey(theirs, FileCSV), []byte("research-b's file being written"))

	if err := w.svc.recover(w.ctx); err != nil {
		t.Fatal(err)
	}
	var queued []string
	for len(w.svc.queue) > 0 {
		queued = append(queued, <-w.svc.queue)
	}
	slices.Sort(queued)
	want := []string{mine, legacy}
	slices.Sort(want)
	if !slices.Equal(queued, want) {
		t.Fatalf("recovered %v, want %v (its own and the ownerless job, not %s)", queued, want, theirs)
	}
	if got := w.object(theirs, FileCSV); string(got) != "research-b's file being written" {
		t.Fatalf("the other instance's file was touched: %q", got)
	}
}

func TestRecoverWaitsForTheLedger(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	id := w.create(labsSpec(), "").GetDatasetId()
	<-w.svc.queue
	d, _ := w.svc.load(w.ctx, id)
	d.State = researchv1.DatasetState_DATASET_STATE_RUNNING
	if err := w.svc.save(w.ctx, d); err != nil {
		t.Fatal(err)
	}
	w.ledger.lookupErr = errLedgerUnavailable
	if err := w.svc.recover(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.runQueued()
	d, _ = w.svc.load(w.ctx, id)
	if d.GetState() != researchv1.DatasetState_DATASET_STATE_RUNNING {
		t.Errorf("with the ledger unavailable the dataset is %v, want left running", d.GetState())
	}
	if _, ok := w.ledger.release(id); ok {
		t.Error("a release was recorded without knowing whether one already was")
	}
}

func TestRecoverRefusesAnAlteredManifest(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	id := w.create(labsSpec(), "").GetDatasetId()
	w.store.FailPuts(func(key string) bool {
		_, landed := w.ledger.release(id)
		return key == statusKey(id) && landed
	})
	w.runQueued()
	w.store.FailPuts(nil)
	w.store.Set(fileKey(id, FileManifest), append(w.object(id, FileManifest), ' '))
	if err := w.svc.recover(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.runQueued()
	d, _ := w.svc.load(w.ctx, id)
	if d.GetState() != researchv1.DatasetState_DATASET_STATE_FAILED || !strings.Contains(d.GetError(), "missing or altered") {
		t.Errorf("dataset is %v (%q), want failed: manifest altered", d.GetState(), d.GetError())
	}
}

// TestJobQueuedTwiceRunsOnce: a job queued by Create and again by the
// recovery of a start (both see it QUEUED) is built once; the second run
// must leave the released dataset alone.
func TestJobQueuedTwiceRunsOnce(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	id := w.create(labsSpec(), "").GetDatasetId()
	if err := w.svc.recover(w.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(w.svc.queue); n != 2 {
		t.Fatalf("%d queued, want the job twice", n)
	}
	w.runQueued()
	d, _ := w.svc.load(w.ctx, id)
	if d.GetState() != researchv1.DatasetState_DATASET_STATE_RELEASED {
		t.Fatalf("dataset is %v (%q), want released", d.GetState(), d.GetError())
	}
	if _, err := w.download(alice, id, FileCSV); err != nil {
		t.Errorf("Download: %v", err)
	}
}

func TestWorkRecoversAndRuns(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	id := w.create(labsSpec(), "").GetDatasetId()
	<-w.svc.queue // lost with the previous process
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.svc.work(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := w.svc.Get(w.ctx, alice, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.GetState() == researchv1.DatasetState_DATASET_STATE_RELEASED {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dataset still %v", d.GetState())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestAuthorization(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	id := w.released(labsSpec()).GetDatasetId()
	queued := w.create(labsSpec(), "queued").GetDatasetId()

	for name, p := range map[string]auth.Principal{
		"a clinician":                   clinician,
		"a researcher without study":    aliceNone,
		"a researcher of another study": aliceOther,
		"a researcher of another org":   {Subject: "alice", Role: auth.RoleResearcher, Org: "ProvidersMSP", StudyID: "study-1"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := w.svc.Create(w.ctx, p, labsSpec(), ""); !errors.Is(err, ErrDenied) {
				t.Errorf("Create: %v, want ErrDenied", err)
			}
			if _, err := w.svc.Get(w.ctx, p, id); !errors.Is(err, ErrDenied) {
				t.Errorf("Get: %v, want ErrDenied", err)
			}
			if _, err := w.download(p, id, FileCSV); !errors.Is(err, ErrDenied) {
				t.Errorf("Download: %v, want ErrDenied", err)
			}
			if _, _, _, err := w.svc.DownloadURL(w.ctx, p, id, FileCSV); !errors.Is(err, ErrDenied) {
				t.Errorf("DownloadURL: %v, want ErrDenied", err)
			}
			ds, _, err := w.svc.List(w.ctx, p, 0, "")
			if p.StudyID == "study-2" && p.Org == "ResearchMSP" {
				// Their own (empty) list of study-2.
				if err != nil || len(ds) != 0 {
					t.Errorf("List: %v, %v; want study-2's datasets: none", ds, err)
				}
			} else if !errors.Is(err, ErrDenied) {
				t.Errorf("List: %v, want ErrDenied", err)
			}
		})
	}
	t.Run("a denial says why", func(t *testing.T) {
		_, err := w.svc.Get(w.ctx, clinician, id)
		if err == nil || !strings.Contains(err.Error(), `not for role "clinician"`) {
			t.Errorf("Get: %v, want the policy's reason", err)
		}
	})
	t.Run("a create for another study", func(t *testing.T) {
		s := labsSpec()
		s.StudyID = "study-2"
		if _, err := w.svc.Create(w.ctx, alice, s, ""); !errors.Is(err, ErrDenied) {
			t.Errorf("Create: %v, want ErrDenied", err)
		}
	})
	t.Run("another researcher's dataset is not found", func(t *testing.T) {
		if _, err := w.svc.Get(w.ctx, bob, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get: %v, want ErrNotFound", err)
		}
		if _, err := w.download(bob, id, FileCSV); !errors.Is(err, ErrNotFound) {
			t.Errorf("Download: %v, want ErrNotFound", err)
		}
		if ds, _, err := w.svc.List(w.ctx, bob, 0, ""); err != nil || len(ds) != 0 {
			t.Errorf("List: %v, %v; want none", ds, err)
		}
	})
	t.Run("unknown and malformed ids", func(t *testing.T) {
		if _, err := w.svc.Get(w.ctx, alice, "ds-000000000000000000000000"); !errors.Is(err, ErrNotFound) {
			t.Errorf("an unknown id: %v, want ErrNotFound", err)
		}
		if _, err := w.svc.Get(w.ctx, clinician, "ds-000000000000000000000000"); !errors.Is(err, ErrDenied) {
			t.Errorf("an unknown id for a clinician: %v, want ErrDenied", err)
		}
		for _, bad := range []string{"", "x-1", "ds-a/b", "../ds-1"} {
			if _, err := w.svc.Get(w.ctx, alice, bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("Get(%q): %v, want ErrInvalid", bad, err)
			}
		}
	})
	t.Run("the owner", func(t *testing.T) {
		d, err := w.svc.Get(w.ctx, alice, id)
		if err != nil || d.GetDatasetId() != id {
			t.Fatalf("Get: %v", err)
		}
		ds, next, err := w.svc.List(w.ctx, alice, 0, "")
		if err != nil || next != "" || len(ds) != 2 {
			t.Fatalf("List: %d datasets, next %q, %v; want 2", len(ds), next, err)
		}
		for _, file := range []string{FileCSV, FileNDJSON, FileManifest} {
			b, err := w.download(alice, id, file)
			if err != nil {
				t.Fatalf("Download %s: %v", file, err)
			}
			want := d.GetReleaseSha256()
			for _, f := range d.GetManifest().GetFiles() {
				if f.GetName() == file {
					want = f.GetSha256()
				}
			}
			if sha256Of(b) != want {
				t.Errorf("Download %s: sha256 %s, want %s", file, sha256Of(b), want)
			}
			url, expires, sum, err := w.svc.DownloadURL(w.ctx, alice, id, file)
			if err != nil || !strings.Contains(url, fileKey(id, file)) || sum != want || !expires.Equal(testNow.Add(URLExpiry)) {
				t.Errorf("DownloadURL %s: %q %v %q %v", file, url, expires, sum, err)
			}
		}
		if _, err := w.download(alice, id, "pdf"); !errors.Is(err, ErrInvalid) {
			t.Errorf("Download of an unknown file: %v, want ErrInvalid", err)
		}
	})
	t.Run("not released", func(t *testing.T) {
		if _, err := w.download(alice, queued, FileCSV); !errors.Is(err, ErrNotReleased) {
			t.Errorf("Download: %v, want ErrNotReleased", err)
		}
		if _, _, _, err := w.svc.DownloadURL(w.ctx, alice, queued, FileManifest); !errors.Is(err, ErrNotReleased) {
			t.Errorf("DownloadURL: %v, want ErrNotReleased", err)
		}
	})
	t.Run("an altered file is not served", func(t *testing.T) {
		w.store.Set(fileKey(id, FileNDJSON), append(w.object(id, FileNDJSON), '\n'))
		if _, err := w.download(alice, id, FileNDJSON); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Download: %v, want ErrUnavailable", err)
		}
	})
	t.Run("the policy cannot answer", func(t *testing.T) {
		w.svc.decider = failingDecider{}
		defer func() { w.svc.decider = realPolicy(t) }()
		if _, err := w.svc.Create(w.ctx, alice, labsSpec(), ""); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrDenied) {
			t.Errorf("Create: %v, want ErrUnavailable", err)
		}
		if _, err := w.svc.Get(w.ctx, alice, id); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Get: %v, want ErrUnavailable", err)
		}
		if _, _, err := w.svc.List(w.ctx, alice, 0, ""); !errors.Is(err, ErrUnavailable) {
			t.Errorf("List: %v, want ErrUnavailable", err)
		}
		if b, err := w.download(alice, id, FileCSV); !errors.Is(err, ErrUnavailable) || b != nil {
			t.Errorf("Download: %v, want ErrUnavailable and no bytes", err)
		}
	})
}

func TestList(t *testing.T) {
	w := newWorld(t)
	var ids []string
	for range 5 {
		ids = append(ids, w.create(labsSpec(), "").GetDatasetId())
	}
	if _, err := w.svc.Create(w.ctx, bob, labsSpec(), ""); err != nil {
		t.Fatal(err)
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		ds, next, err := w.svc.List(w.ctx, alice, 2, token)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 2 || pages > 3 {
			t.Fatalf("page of %d, %d pages", len(ds), pages)
		}
		for _, d := range ds {
			got = append(got, d.GetDatasetId())
		}
		if next == "" {
			break
		}
		token = next
	}
	slices.Sort(ids)
	slices.Reverse(ids) // one creation time: newest first falls back to the id, descending
	if !slices.Equal(got, ids) {
		t.Errorf("List = %v, want %v", got, ids)
	}
	for name, tc := range map[string]struct {
		size  int
		token string
	}{"page too large": {101, ""}, "negative page": {-1, ""}, "foreign token": {2, "ds-elsewhere"}} {
		if _, _, err := w.svc.List(w.ctx, alice, tc.size, tc.token); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// TestAPIStatus checks the gRPC edge: the caller comes from the context and
// each domain error has its code.
func TestAPIStatus(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	id := w.released(labsSpec()).GetDatasetId()
	queued := w.create(labsSpec(), "q").GetDatasetId()
	a := &api{svc: w.svc}
	tests := map[string]struct {
		ctx  func() (p auth.Principal, ok bool)
		id   string
		code codes.Code
	}{
		"no caller":      {func() (auth.Principal, bool) { return auth.Principal{}, false }, id, codes.Unauthenticated},
		"a clinician":    {func() (auth.Principal, bool) { return clinician, true }, id, codes.PermissionDenied},
		"another's":      {func() (auth.Principal, bool) { return bob, true }, id, codes.NotFound},
		"a malformed id": {func() (auth.Principal, bool) { return alice, true }, "nope", codes.InvalidArgument},
		"the owner":      {func() (auth.Principal, bool) { return alice, true }, id, codes.OK},
		"not released":   {func() (auth.Principal, bool) { return alice, true }, queued, codes.FailedPrecondition},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := w.ctx
			if p, ok := tc.ctx(); ok {
				ctx = auth.NewContext(ctx, p)
			}
			_, err := a.GetDownloadUrl(ctx, &researchv1.GetDownloadUrlRequest{DatasetId: tc.id, File: FileCSV})
			if got := status.Code(err); got != tc.code {
				t.Fatalf("GetDownloadUrl: %v, want %v", err, tc.code)
			}
			if tc.code == codes.PermissionDenied {
				var info *errdetails.ErrorInfo
				for _, d := range status.Convert(err).Details() {
					if i, ok := d.(*errdetails.ErrorInfo); ok {
						info = i
					}
				}
				if info.GetReason() != reasonDenied {
					t.Errorf("details %v, want ErrorInfo %s", status.Convert(err).Details(), reasonDenied)
				}
			}
		})
	}
	w.svc.decider = failingDecider{}
	_, err := a.GetDataset(auth.NewContext(w.ctx, alice), &researchv1.GetDatasetRequest{DatasetId: id})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("the policy down: %v, want Unavailable", err)
	}
}
