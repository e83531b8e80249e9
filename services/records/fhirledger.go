package records

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/auth"
)

// maxLedgerPages bounds how many pages of 100 consents or access events one
// FHIR search reads from the ledger.
const maxLedgerPages = 50

// The patient's consents and access log are read from the ledger, the
// source of truth, and served read-only as R4 Consent and AuditEvent
// resources, to the patient alone (as the consent service serves them).

// ownPatient returns the patient the request is about: the patient
// parameter, or the calling patient's own id. Anyone but that patient is
// refused.
func ownPatient(p auth.Principal, q url.Values) (string, error) {
	patient := q.Get("patient")
	if len(q["patient"]) > 1 {
		return "", fmt.Errorf("%w: patient: give it once", ErrInvalid)
	}
	if patient == "" && p.Role == auth.RolePatient {
		patient = p.Subject
	}
	patient = strings.TrimPrefix(patient, "Patient/")
	if patient == "" {
		return "", fmt.Errorf("%w: patient is required", ErrInvalid)
	}
	if p.Role != auth.RolePatient || p.Subject != patient {
		return "", &DeniedError{Reasons: []string{"only the patient reads their own consents and access log"}}
	}
	return patient, nil
}

// scopeAllows refuses a SMART app whose scopes do not cover the
// interaction on typ (the consents and the access log are outside the
// access policy's categories, so this is checked here).
func scopeAllows(p auth.Principal, typ, interaction, patient string) error {
	if !p.ScopePermits(typ, interaction, patient) {
		return &DeniedError{Reasons: []string{fmt.Sprintf("the app's SMART scopes do not allow %s of %s of patient %s", interaction, typ, patient)}}
	}
	return nil
}

// allPages reads a list from the ledger page by page (fetch answers the
// items after a bookmark and the next bookmark, "" after the last), at
// most maxLedgerPages of them: a longer list is an error, not a part.
func allPages[T any](what string, fetch func(bookmark string) ([]T, string, error)) ([]T, error) {
	var out []T
	bookmark := ""
	for range maxLedgerPages {
		items, next, err := fetch(bookmark)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if bookmark = next; bookmark == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: the patient has more than %d %s; not served here", ErrInvalid, maxLedgerPages*ledgerPageSize, what)
}

// ledgerPageSize is the page size asked of the ledger.
const ledgerPageSize = 100

// ledgerEntries are the patient's consents or access events that a ledger
// view serves, in its order: their ids, and how to write the i-th as FHIR
// (done for the entries served only).
type ledgerEntries struct {
	ids   []string
	write func(i int) ([]byte, error)
}

// ledgerView reads the patient's consents (newest grant first, of status
// when set) or access events (newest first, recorded within dates).
func (s *Service) ledgerView(ctx context.Context, typ, patient, status string, dates []fhir.DateBound) (ledgerEntries, error) {
	if typ == "Consent" {
		all, err := allPages("consents", func(b string) ([]ledgerapi.Consent, string, error) {
			page, err := s.ledger.ConsentsByPatient(ctx, patient, ledgerPageSize, b)
			return page.Items, page.Bookmark, err
		})
		if err != nil {
			return ledgerEntries{}, err
		}
		slices.SortStableFunc(all, func(a, b ledgerapi.Consent) int { return strings.Compare(b.GrantedAt, a.GrantedAt) })
		all = slices.DeleteFunc(all, func(c ledgerapi.Consent) bool {
			return status != "" && (status == "active") != (c.Status == ledgerapi.StatusActive)
		})
		out := ledgerEntries{write: func(i int) ([]byte, error) { return fhir.ConsentResource(all[i]) }}
		for _, c := range all {
			out.ids = append(out.ids, c.ConsentID)
		}
		return out, nil
	}
	all, err := allPages("access events", func(b string) ([]ledgerapi.AccessEvent, string, error) {
		page, err := s.ledger.AccessEvents(ctx, patient, ledgerPageSize, b)
		return page.Items, page.Bookmark, err
	})
	if err != nil {
		return ledgerEntries{}, err
	}
	slices.Reverse(all) // the ledger lists them oldest first
	all = slices.DeleteFunc(all, func(e ledgerapi.AccessEvent) bool { return !recordedWithin(e.Time, dates) })
	out := ledgerEntries{write: func(i int) ([]byte, error) { return fhir.AuditEventResource(all[i]) }}
	for _, e := range all {
		out.ids = append(out.ids, e.EventID)
	}
	return out, nil
}

// ledgerSearch parses a Consent or AuditEvent search: patient, _count and
// _offset, status (Consent), date (AuditEvent, its recorded time).
func ledgerSearch(typ string, q url.Values) (count, offset int, status string, dates []fhir.DateBound, err error) {
	count, offset, err = paging(q)
	if err != nil {
		return
	}
	for name, values := range q {
		switch {
		case name == "patient" || name == "_count" || name == "_offset" || name == "_format":
		case name == "status" && typ == "Consent":
			status = values[0]
			if len(values) != 1 || status != "active" && status != "inactive" {
				err = fmt.Errorf("%w: status must be active or inactive", ErrInvalid)
				return
			}
		case name == "date" && typ == "AuditEvent":
			for _, v := range values {
				d, perr := fhir.ParseDateBound(v)
				if perr != nil {
					err = fmt.Errorf("%w: %w", ErrInvalid, perr)
					return
				}
				dates = append(dates, d)
			}
		default:
			supported := "patient, status, _count"
			if typ == "AuditEvent" {
				supported = "patient, date, _count"
			}
			err = fmt.Errorf("%w: search parameter %q is not supported for %s (supported: %s)", ErrInvalid, name, typ, supported)
			return
		}
	}
	return
}

// searchLedger serves GET /Consent and GET /AuditEvent.
func (a *fhirAPI) searchLedger(typ string) callerHandler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		ctx := r.Context()
		q := r.URL.Query()
		patient, err := ownPatient(p, q)
		if err == nil {
			err = scopeAllows(p, typ, interactionSearch, patient)
		}
		if err != nil {
			a.fail(ctx, w, err)
			return
		}
		count, offset, status, dates, err := ledgerSearch(typ, q)
		if err != nil {
			a.fail(ctx, w, err)
			return
		}
		entries, err := a.svc.ledgerView(ctx, typ, patient, status, dates)
		if err != nil {
			a.fail(ctx, w, err)
			return
		}
		total := len(entries.ids)
		bundle := fhir.Bundle{ResourceType: "Bundle", Type: "searchset", Total: &total}
		for i := offset; i < total && i < offset+count; i++ {
			raw, err := entries.write(i)
			if err != nil {
				a.fail(ctx, w, err)
				return
			}
			bundle.Entry = append(bundle.Entry, fhir.BundleEntry{FullURL: baseURL(r) + "/" + typ + "/" + entries.ids[i],
				Resource: raw, Search: &fhir.EntrySearch{Mode: "match"}})
		}
		bundle.Link = pageLinks(r, total, count, offset)
		writeJSON(w, http.StatusOK, bundle)
	}
}

func recordedWithin(at string, dates []fhir.DateBound) bool {
	if len(dates) == 0 {
		return true
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return false
	}
	for _, d := range dates {
		if !d.Matches(t, t.Add(time.Nanosecond)) {
			return false
		}
	}
	return true
}

// readLedger serves GET /Consent/{id} and GET /AuditEvent/{id}, for the
// calling patient's own.
func (a *fhirAPI) readLedger(typ string) callerHandler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		ctx := r.Context()
		if p.Role != auth.RolePatient {
			a.fail(ctx, w, &DeniedError{Reasons: []string{"only the patient reads their own consents and access log"}})
			return
		}
		if err := scopeAllows(p, typ, interactionRead, p.Subject); err != nil {
			a.fail(ctx, w, err)
			return
		}
		id := r.PathValue("id")
		entries, err := a.svc.ledgerView(ctx, typ, p.Subject, "", nil)
		var raw []byte
		if err == nil {
			if i := slices.Index(entries.ids, id); i >= 0 {
				raw, err = entries.write(i)
			} else {
				err = fmt.Errorf("%w: the patient has no %s %s", ErrNotFound, typ, strconv.Quote(id))
			}
		}
		if err != nil {
			a.fail(ctx, w, err)
			return
		}
		w.Header().Set("Content-Type", fhir.ContentType)
		w.WriteHeader(http.StatusOK)
		w.Write(raw)
	}
}

// readOnly answers a write to a ledger view.
func readOnly(w http.ResponseWriter, _ *http.Request) {
	writeOutcome(w, http.StatusMethodNotAllowed, "not-supported",
		"Consent and AuditEvent are read-only here: the ledger is their source of truth (the patient grants and revokes with their own key)", nil)
}
