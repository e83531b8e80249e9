package consent

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/objectstore/objectstoretest"
)

func openTestRequests(t *testing.T) (*requestStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "access-requests.json")
	s, err := openRequests(path)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func labsRequest(patient, requester string) accessRequest {
	return accessRequest{
		PatientID: patient, Requester: requester, RequesterOrg: "ProvidersMSP", RequesterRole: "clinician",
		Categories: []string{"labs"}, Purposes: []string{"treatment"}, Reason: "follow-up of your blood tests",
	}
}

func requestIDs(rs []accessRequest) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.RequestID)
	}
	return out
}

func TestRequestStoreCreate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(r *accessRequest)
		wantErr string // "" for success; else a substring of the error
	}{
		{"valid", func(r *accessRequest) {}, ""},
		{"several categories and purposes", func(r *accessRequest) {
			r.Categories, r.Purposes = []string{"labs", "imaging"}, []string{"treatment", "operations"}
		}, ""},
		{"reason of exactly 500 bytes", func(r *accessRequest) { r.Reason = strings.Repeat("a", 500) }, ""},
		{"empty reason", func(r *accessRequest) { r.Reason = "" }, ""},
		{"bad category", func(r *accessRequest) { r.Categories = []string{"labs", "genome"} }, "categories"},
		{"bad purpose", func(r *accessRequest) { r.Purposes = []string{"marketing"} }, "purposes"},
		{"no categories", func(r *accessRequest) { r.Categories = nil }, "categories: at least one is required"},
		{"no purposes", func(r *accessRequest) { r.Purposes = []string{} }, "purposes: at least one is required"},
		{"reason longer than 500", func(r *accessRequest) { r.Reason = strings.Repeat("a", 501) }, "reason is longer than 500"},
		{"bad patient id", func(r *accessRequest) { r.PatientID = "pat 1" }, "patientId"},
		{"missing patient id", func(r *accessRequest) { r.PatientID = "" }, "patientId"},
		{"bad requester", func(r *accessRequest) { r.Requester = "-dr" }, "requester"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTestRequests(t)
			in := labsRequest("pat-1", "dr-alice")
			tt.change(&in)
			got, err := s.create(in, testNow)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("create = %v, want ErrInvalid mentioning %q", err, tt.wantErr)
				}
				if all := s.mustList("pat-1", ""); len(all) != 0 {
					t.Errorf("a refused request was stored: %+v", all)
				}
				return
			}
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if !strings.HasPrefix(got.RequestID, "req-") || ledgerapi.ValidateID("requestId", got.RequestID) != nil {
				t.Errorf("RequestID = %q, want a valid id starting req-", got.RequestID)
			}
			want := in
			want.RequestID, want.State, want.CreatedAt = got.RequestID, requestPending, "2030-01-02T03:04:05Z"
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("created request (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]accessRequest{got}, s.mustList("pat-1", "")); diff != "" {
				t.Errorf("stored requests (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("ids are distinct", func(t *testing.T) {
		s, _ := openTestRequests(t)
		a, err := s.create(labsRequest("pat-1", "dr-alice"), testNow)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.create(labsRequest("pat-1", "dr-alice"), testNow)
		if err != nil {
			t.Fatal(err)
		}
		if a.RequestID == b.RequestID {
			t.Fatalf("two requests share id %s", a.RequestID)
		}
	})
}

func TestRequestStoreList(t *testing.T) {
	s, _ := openTestRequests(t)
	create := func(patient string, at time.Time) accessRequest {
		t.Helper()
		r, err := s.create(labsRequest(patient, "dr-alice"), at)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Created out of time order, so insertion order cannot pass for age.
	late := create("pat-1", testNow.Add(2*time.Hour))
	early := create("pat-1", testNow)
	middle := create("pat-1", testNow.Add(time.Hour))
	other := create("pat-2", testNow.Add(30*time.Minute))
	if _, err := s.answer(middle.RequestID, "pat-1", requestApproved, "c-1", testNow.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.answer(late.RequestID, "pat-1", requestDenied, "", testNow.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, patient, state string
		want                 []string
	}{
		{"every state, oldest first", "pat-1", "", []string{early.RequestID, middle.RequestID, late.RequestID}},
		{"pending", "pat-1", requestPending, []string{early.RequestID}},
		{"approved", "pat-1", requestApproved, []string{middle.RequestID}},
		{"denied", "pat-1", requestDenied, []string{late.RequestID}},
		{"another patient sees only their own", "pat-2", "", []string{other.RequestID}},
		{"another patient has none approved", "pat-2", requestApproved, []string{}},
		{"a patient without requests", "pat-3", "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.mustList(tt.patient, tt.state)
			if diff := cmp.Diff(tt.want, requestIDs(got)); diff != "" {
				t.Errorf("list(%q, %q) (-want +got):\n%s", tt.patient, tt.state, diff)
			}
			for _, r := range got {
				if r.PatientID != tt.patient {
					t.Errorf("list(%q) returned %s of patient %s", tt.patient, r.RequestID, r.PatientID)
				}
			}
		})
	}
}

func TestRequestStorePendingAndAnswer(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the id to ask for.
		setup   func(t *testing.T, s *requestStore) string
		patient string
		wantErr error
	}{
		{
			name:    "own pending request",
			setup:   func(t *testing.T, s *requestStore) string { return mustCreate(t, s, "pat-1").RequestID },
			patient: "pat-1",
		},
		{
			name:    "another patient's request is not found",
			setup:   func(t *testing.T, s *requestStore) string { return mustCreate(t, s, "pat-2").RequestID },
			patient: "pat-1",
			wantErr: ErrNotFound,
		},
		{
			name:    "unknown id is not found",
			setup:   func(t *testing.T, s *requestStore) string { mustCreate(t, s, "pat-1"); return "req-unknown" },
			patient: "pat-1",
			wantErr: ErrNotFound,
		},
		{
			name: "an answered request is answered",
			setup: func(t *testing.T, s *requestStore) string {
				r := mustCreate(t, s, "pat-1")
				if _, err := s.answer(r.RequestID, "pat-1", requestDenied, "", testNow); err != nil {
					t.Fatal(err)
				}
				return r.RequestID
			},
			patient: "pat-1",
			wantErr: ErrAnswered,
		},
		{
			name: "another patient's answered request is not found, not answered",
			setup: func(t *testing.T, s *requestStore) string {
				r := mustCreate(t, s, "pat-2")
				if _, err := s.answer(r.RequestID, "pat-2", requestApproved, "c-1", testNow); err != nil {
					t.Fatal(err)
				}
				return r.RequestID
			},
			patient: "pat-1",
			wantErr: ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTestRequests(t)
			id := tt.setup(t, s)
			before := s.mustList(tt.patient, "")

			r, err := s.pending(id, tt.patient)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("pending = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && (r.RequestID != id || r.State != requestPending) {
				t.Errorf("pending = %+v, want request %s pending", r, id)
			}

			answered, err := s.answer(id, tt.patient, requestApproved, "c-9", testNow.Add(time.Minute))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("answer = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if diff := cmp.Diff(before, s.mustList(tt.patient, "")); diff != "" {
					t.Errorf("a refused answer changed the requests (-before +after):\n%s", diff)
				}
				return
			}
			if answered.State != requestApproved || answered.ConsentID != "c-9" || answered.AnsweredAt != "2030-01-02T03:05:05Z" {
				t.Errorf("answer = %+v, want approved with consent c-9 at 03:05:05", answered)
			}
			// Only once.
			_, err = s.answer(id, tt.patient, requestDenied, "", testNow.Add(2*time.Minute))
			if !errors.Is(err, ErrAnswered) {
				t.Fatalf("second answer = %v, want ErrAnswered", err)
			}
			if diff := cmp.Diff([]accessRequest{answered}, s.mustList(tt.patient, "")); diff != "" {
				t.Errorf("the second answer changed the request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestStoreAnswerRace(t *testing.T) {
	tests := []struct {
		name    string
		answers []string
	}{
		{"concurrent approvals", slices.Repeat([]string{requestApproved}, 32)},
		{"approvals racing denials", slices.Repeat([]string{requestApproved, requestDenied}, 16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTestRequests(t)
			r := mustCreate(t, s, "pat-1")
			errs := make(chan error, len(tt.answers))
			start := make(chan struct{})
			for _, state := range tt.answers {
				go func() {
					<-start
					_, err := s.answer(r.RequestID, "pat-1", state, "", testNow)
					errs <- err
				}()
			}
			close(start)
			ok := 0
			for range tt.answers {
				err := waitDone(t, "an answer", errs)
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, ErrAnswered):
					t.Errorf("answer = %v, want nil or ErrAnswered", err)
				}
			}
			if ok != 1 {
				t.Fatalf("%d answers succeeded, want exactly 1", ok)
			}
			reopened, err := openRequests(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s.mustList("pat-1", ""), reopened.mustList("pat-1", "")); diff != "" {
				t.Errorf("the stored answer differs from the one in memory (-memory +disk):\n%s", diff)
			}
		})
	}
}

func mustCreate(t *testing.T, s *requestStore, patient string) accessRequest {
	t.Helper()
	r, err := s.create(labsRequest(patient, "dr-alice"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRequestStorePersistence(t *testing.T) {
	tests := []struct {
		name   string
		answer string // "" leaves the first request pending
	}{
		{"pending requests survive a restart", ""},
		{"an approval survives a restart", requestApproved},
		{"a denial survives a restart", requestDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTestRequests(t)
			first := mustCreate(t, s, "pat-1")
			if _, err := s.create(labsRequest("pat-2", "dr-bob"), testNow.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if tt.answer != "" {
				if _, err := s.answer(first.RequestID, "pat-1", tt.answer, "c-1", testNow.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("requests file mode = %v, want 0600 (it holds patients' requests)", perm)
			}

			reopened, err := openRequests(path)
			if err != nil {
				t.Fatalf("openRequests: %v", err)
			}
			for _, patient := range []string{"pat-1", "pat-2"} {
				if diff := cmp.Diff(s.mustList(patient, ""), reopened.mustList(patient, "")); diff != "" {
					t.Errorf("%s's requests after reopening (-before +after):\n%s", patient, diff)
				}
			}
			// The reopened store still refuses a second answer, or takes a
			// first one.
			_, err = reopened.answer(first.RequestID, "pat-1", requestDenied, "", testNow.Add(time.Hour))
			if tt.answer != "" && !errors.Is(err, ErrAnswered) {
				t.Errorf("answer after reopening = %v, want ErrAnswered", err)
			}
			if tt.answer == "" && err != nil {
				t.Errorf("answer after reopening = %v, want nil", err)
			}
		})
	}
	t.Run("a damaged file is an error", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access-requests.json")
		if err := os.WriteFile(path, []byte(`[{"requestId":`), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := openRequests(path); err == nil {
			t.Fatal("openRequests of a damaged file = nil error")
		}
	})
}

// TestSharedRequestsAcrossInstances: two instances keeping requests in the
// storage they share: a request filed at one is listed, answered and seen
// answered at the other; another patient, a made-up id or a path in the id
// finds nothing; storage that is down is an error, never an empty list.
func TestSharedRequestsAcrossInstances(t *testing.T) {
	objects := objectstoretest.New()
	a, b := sharedRequests(objects), sharedRequests(objects)
	r, err := a.create(labsRequest("pat-1", "dr-bob"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.create(labsRequest("pat-2", "dr-bob"), testNow); err != nil {
		t.Fatal(err)
	}
	if got := b.mustList("pat-1", requestPending); len(got) != 1 || !cmp.Equal(got[0], r) {
		t.Fatalf("the other instance lists %+v, want the request filed at the first", got)
	}
	if _, err := b.answer("req-000000000000000000000000", "pat-1", requestApproved, "c-1", testNow); !errors.Is(err, ErrNotFound) {
		t.Errorf("a made-up id: %v, want ErrNotFound", err)
	}
	if _, err := b.pending(r.RequestID, "pat-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("pat-1's request asked for as pat-2's: %v, want ErrNotFound", err)
	}
	if _, err := b.pending("../pat-2/"+r.RequestID, "pat-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a path as the id: %v, want ErrNotFound", err)
	}
	answered, err := b.answer(r.RequestID, "pat-1", requestApproved, "c-1", testNow.Add(time.Minute))
	if err != nil || answered.State != requestApproved || answered.ConsentID != "c-1" {
		t.Fatalf("answer at the other instance: %+v, %v", answered, err)
	}
	if got := a.mustList("pat-1", ""); len(got) != 1 || !cmp.Equal(got[0], answered) {
		t.Fatalf("the first instance lists %+v, want the answered request", got)
	}
	if _, err := a.answer(r.RequestID, "pat-1", requestDenied, "", testNow.Add(time.Hour)); !errors.Is(err, ErrAnswered) {
		t.Fatalf("answering again at the first instance: %v, want ErrAnswered", err)
	}
	objects.SetDown(true)
	if got, err := a.list("pat-1", ""); !errors.Is(err, ErrUnavailable) || got != nil {
		t.Fatalf("list with the storage down: %v, %v; want ErrUnavailable", got, err)
	}
	if _, err := a.create(labsRequest("pat-1", "dr-eve"), testNow); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("create with the storage down: %v, want ErrUnavailable", err)
	}
}
