package consent

import (
	"cmp"
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
// every change.
type requestStore struct {
	path  string
	mu    sync.Mutex
	items map[string]accessRequest
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
func (s *requestStore) list(patientID, state string) []accessRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []accessRequest
	for _, r := range s.items {
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
	return out
}

// pending returns a pending request of the patient.
func (s *requestStore) pending(id, patientID string) (accessRequest, error) {
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

// answer moves a pending request to approved or denied.
func (s *requestStore) answer(id, patientID, state, consentID string, now time.Time) (accessRequest, error) {
	if _, err := s.pending(id, patientID); err != nil {
		return accessRequest{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.items[id]
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
