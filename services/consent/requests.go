package consent

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/durable"
	"healthexchange/services/platform/objectstore"
)

// Access request states.
const (
	requestPending  = "pending"
	requestApproved = "approved"
	requestDenied   = "denied"
)

// accessRequest is a request for access waiting for a patient's answer. It
// lives in the service's state folder, not on the ledger: it is a
// conversation, not a consent; the consent that approves it goes on the
// ledger.
type accessRequest struct {
	RequestID     string   `json:"requestId"`
	PatientID     string   `json:"patientId"`
	Requester     string   `json:"requester"`
	RequesterOrg  string   `json:"requesterOrg"`
	RequesterRole string   `json:"requesterRole"`
	Categories    []string `json:"categories"`
	Purposes      []string `json:"purposes"`
	Reason        string   `json:"reason"`
	State         string   `json:"state"`
	ConsentID     string   `json:"consentId,omitempty"`
	CreatedAt     string   `json:"createdAt"`
	AnsweredAt    string   `json:"answeredAt,omitempty"`
}

// requestStore keeps access requests in one file, replaced atomically on
// every change; or, when the service runs as several instances, in the
// object storage they share (shared), one object per request under
// requests/<patient>/, so that a request filed at one instance is listed
// and answered at any.
type requestStore struct {
	path  string
	mu    sync.Mutex
	items map[string]accessRequest

	shared objectstore.Objects
}

// sharedRequests keeps access requests in objects (the instances' shared
// bucket).
func sharedRequests(o objectstore.Objects) *requestStore {
	return &requestStore{shared: o}
}

// maxRequestObject bounds what is read back of one stored request.
const maxRequestObject = 16 << 10

func requestKey(patientID, id string) string { return "requests/" + patientID + "/" + id + ".json" }

// load reads one shared request of the patient.
func (s *requestStore) load(id, patientID string) (accessRequest, error) {
	if ledgerapi.ValidateID("request", id) != nil {
		return accessRequest{}, fmt.Errorf("%w: access request %s", ErrNotFound, id)
	}
	raw, err := s.shared.Get(context.Background(), requestKey(patientID, id), maxRequestObject)
	if errors.Is(err, objectstore.ErrNotFound) {
		return accessRequest{}, fmt.Errorf("%w: access request %s", ErrNotFound, id)
	}
	if err != nil {
		return accessRequest{}, fmt.Errorf("%w: access requests: %w", ErrUnavailable, err)
	}
	var r accessRequest
	if err := json.Unmarshal(raw, &r); err != nil || r.RequestID != id || r.PatientID != patientID {
		return accessRequest{}, fmt.Errorf("access request %s: the stored object does not decode as it (%v)", id, err)
	}
	return r, nil
}

// store writes one shared request.
func (s *requestStore) store(r accessRequest) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("access requests: %w", err)
	}
	if err := s.shared.Put(context.Background(), requestKey(r.PatientID, r.RequestID), raw); err != nil {
		return fmt.Errorf("%w: access requests: %w", ErrUnavailable, err)
	}
	return nil
}

func openRequests(path string) (*requestStore, error) {
	s := &requestStore{path: path, items: map[string]accessRequest{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("access requests: %w", err)
	}
	var list []accessRequest
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("access requests %s: %w", path, err)
	}
	for _, r := range list {
		s.items[r.RequestID] = r
	}
	return s, nil
}

// saveLocked writes every request; on failure the caller undoes its change.
func (s *requestStore) saveLocked() error {
	list := make([]accessRequest, 0, len(s.items))
	for _, r := range s.items {
		list = append(list, r)
	}
	slices.SortFunc(list, func(a, b accessRequest) int { return strings.Compare(a.RequestID, b.RequestID) })
	raw, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("access requests: %w", err)
	}
	return durable.WriteFile(s.path, raw, 0o600)
}

func validateRequest(r accessRequest) error {
	if err := errors.Join(
		ledgerapi.ValidateID("patientId", r.PatientID),
		ledgerapi.ValidateID("requester", r.Requester),
		checkAll("categories", r.Categories, ledgerapi.ValidateCategory),
		checkAll("purposes", r.Purposes, ledgerapi.ValidatePurpose),
	); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(r.Reason) > 500 {
		return fmt.Errorf("%w: reason is longer than 500 characters", ErrInvalid)
	}
	return nil
}

func checkAll(field string, values []string, check func(field, v string) error) error {
	if len(values) == 0 {
		return fmt.Errorf("%s: at least one is required", field)
	}
	for _, v := range values {
		if err := check(field, v); err != nil {
			return err
		}
	}
	return nil
}

func newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b) // never fails (crypto/rand)
	return prefix + "-" + hex.EncodeToString(b)
}

func (s *requestStore) create(r accessRequest, now time.Time) (accessRequest, error) {
	if err := validateRequest(r); err != nil {
		return accessRequest{}, err
	}
	r.RequestID, r.State, r.CreatedAt = newID("req"), requestPending, ledgerapi.FormatTime(now)
	if s.shared != nil {
		if err := s.store(r); err != nil {
			return accessRequest{}, err
		}
		return r, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[r.RequestID] = r
	if err := s.saveLocked(); err != nil {
		delete(s.items, r.RequestID)
		return accessRequest{}, err
	}
	return r, nil
}

// list returns a patient's requests in a state ("" for all), oldest first.
func (s *requestStore) list(patientID, state string) ([]accessRequest, error) {
	var all []accessRequest
	if s.shared != nil {
		keys, err := s.shared.List(context.Background(), "requests/"+patientID+"/")
		if err != nil {
			return nil, fmt.Errorf("%w: access requests: %w", ErrUnavailable, err)
		}
		for _, k := range keys {
			id, ok := strings.CutSuffix(k[strings.LastIndexByte(k, '/')+1:], ".json")
			if !ok {
				continue
			}
			r, err := s.load(id, patientID)
			if err != nil {
				return nil, err
			}
			all = append(all, r)
		}
	} else {
		s.mu.Lock()
		for _, r := range s.items {
			all = append(all, r)
		}
		s.mu.Unlock()
	}
	var out []accessRequest
	for _, r := range all {
		if r.PatientID == patientID && (state == "" || r.State == state) {
			out = append(out, r)
		}
	}
	// Compare times as times: RFC 3339 strings with trimmed fractions do not
	// sort as the instants they name.
	created := func(r accessRequest) time.Time { t, _ := time.Parse(time.RFC3339Nano, r.CreatedAt); return t }
	slices.SortFunc(out, func(a, b accessRequest) int {
		return cmp.Or(created(a).Compare(created(b)), strings.Compare(a.RequestID, b.RequestID))
	})
	return out, nil
}

// pending returns a pending request of the patient.
func (s *requestStore) pending(id, patientID string) (accessRequest, error) {
	if s.shared != nil {
		r, err := s.load(id, patientID)
		if err != nil {
			return accessRequest{}, err
		}
		if r.State != requestPending {
			return accessRequest{}, fmt.Errorf("%w: %s is %s", ErrAnswered, id, r.State)
		}
		return r, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.items[id]
	switch {
	case !ok || r.PatientID != patientID:
		// Another patient's request is reported as missing, not as forbidden:
		// its existence is not the caller's business.
		return accessRequest{}, fmt.Errorf("%w: access request %s", ErrNotFound, id)
	case r.State != requestPending:
		return accessRequest{}, fmt.Errorf("%w: %s is %s", ErrAnswered, id, r.State)
	}
	return r, nil
}

// answer moves a pending request to approved or denied. With shared
// requests, two instances answering one request at the same moment both
// succeed, the later answer standing (an approval's consent is on the
// ledger either way, and the patient can revoke it).
func (s *requestStore) answer(id, patientID, state, consentID string, now time.Time) (accessRequest, error) {
	before, err := s.pending(id, patientID)
	if err != nil {
		return accessRequest{}, err
	}
	if s.shared != nil {
		after := before
		after.State, after.ConsentID, after.AnsweredAt = state, consentID, ledgerapi.FormatTime(now)
		if err := s.store(after); err != nil {
			return accessRequest{}, err
		}
		return after, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before = s.items[id]
	if before.State != requestPending { // answered meanwhile
		return accessRequest{}, fmt.Errorf("%w: %s is %s", ErrAnswered, id, before.State)
	}
	after := before
	after.State, after.ConsentID, after.AnsweredAt = state, consentID, ledgerapi.FormatTime(now)
	s.items[id] = after
	if err := s.saveLocked(); err != nil {
		s.items[id] = before
		return accessRequest{}, err
	}
	return after, nil
}
