package records

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
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
	if len(patient) > len("Patient/") && patient[:len("Patient/")] == "Patient/" {
		patient = patient[len("Patient/"):]
	}
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

// consents reads every consent of the patient, newest grant first.
func (s *Service) consents(ctx context.Context, patient string) ([]ledgerapi.Consent, error) {
	var out []ledgerapi.Consent
	token := ""
	for range maxLedgerPages {
		page, err := s.ledger.ConsentsByPatient(ctx, patient, 100, token)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if token = page.Bookmark; token == "" {
			slices.SortStableFunc(out, func(a, b ledgerapi.Consent) int { return -compareStrings(a.GrantedAt, b.GrantedAt) })
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: the patient has more than %d consents; not served here", ErrInvalid, maxLedgerPages*100)
}

// accessEvents reads the patient's access log, newest first.
func (s *Service) accessEvents(ctx context.Context, patient string) ([]ledgerapi.AccessEvent, error) {
	var out []ledgerapi.AccessEvent
	token := ""
	for range maxLedgerPages {
		page, err := s.ledger.AccessEvents(ctx, patient, 100, token)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if token = page.Bookmark; token == "" {
			slices.Reverse(out) // the ledger lists them oldest first
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: the access log has more than %d events; read it with the patient CLI", ErrInvalid, maxLedgerPages*100)
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
		var resources [][]byte
		var ids []string
		if typ == "Consent" {
			consents, err := a.svc.consents(ctx, patient)
			if err != nil {
				a.fail(ctx, w, err)
				return
			}
			for _, c := range consents {
				if status != "" && (status == "active") != (c.Status == ledgerapi.StatusActive) {
					continue
				}
				raw, err := fhir.ConsentResource(c)
				if err != nil {
					a.fail(ctx, w, err)
					return
				}
				resources, ids = append(resources, raw), append(ids, c.ConsentID)
			}
		} else {
			events, err := a.svc.accessEvents(ctx, patient)
			if err != nil {
				a.fail(ctx, w, err)
				return
			}
			for _, e := range events {
				if !recordedWithin(e.Time, dates) {
					continue
				}
				raw, err := fhir.AuditEventResource(e)
				if err != nil {
					a.fail(ctx, w, err)
					return
				}
				resources, ids = append(resources, raw), append(ids, e.EventID)
			}
		}
		total := len(resources)
		bundle := fhir.Bundle{ResourceType: "Bundle", Type: "searchset", Total: &total}
		for i := offset; i < total && i < offset+count; i++ {
			bundle.Entry = append(bundle.Entry, fhir.BundleEntry{FullURL: baseURL(r) + "/" + typ + "/" + ids[i],
				Resource: resources[i], Search: &fhir.EntrySearch{Mode: "match"}})
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
		var raw []byte
		var err error
		if typ == "Consent" {
			var consents []ledgerapi.Consent
			if consents, err = a.svc.consents(ctx, p.Subject); err == nil {
				for _, c := range consents {
					if c.ConsentID == id {
						raw, err = fhir.ConsentResource(c)
					}
				}
			}
		} else {
			var events []ledgerapi.AccessEvent
			if events, err = a.svc.accessEvents(ctx, p.Subject); err == nil {
				for _, e := range events {
					if e.EventID == id {
						raw, err = fhir.AuditEventResource(e)
					}
				}
			}
		}
		if err == nil && raw == nil {
			err = fmt.Errorf("%w: the patient has no %s %s", ErrNotFound, typ, strconv.Quote(id))
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
