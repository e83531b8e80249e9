package records

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/auth"
)

// FHIRBase is the path under which the records service speaks FHIR R4.
const FHIRBase = "/fhir/r4"

// maxSearchScan bounds how many of a patient's records one search looks
// through (in pages of the ledger's listing, readable or not); a patient
// with more gets an error, not a partial answer.
const maxSearchScan = 2000

// Verifier checks a bearer token and returns the caller.
type Verifier interface {
	Verify(token string) (auth.Principal, error)
}

// fhirAPI serves the FHIR R4 REST API over Service: the same tokens,
// consent decisions, access events and integrity checks as the gRPC API.
type fhirAPI struct {
	svc      *Service
	verifier Verifier
}

// FHIRHandler returns the FHIR R4 REST API, to be served at FHIRBase+"/":
// metadata (public), and for each type of fhir.SearchTypes read, vread,
// history, create, update (with If-Match) and search. Every error is an
// OperationOutcome.
func (s *Service) FHIRHandler(v Verifier) http.Handler {
	a := &fhirAPI{svc: s, verifier: v}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+FHIRBase+"/metadata", a.metadata)
	mux.HandleFunc("GET "+FHIRBase+"/.well-known/smart-configuration", smartConfigurationHandler)
	mux.HandleFunc("GET "+FHIRBase+"/{type}", a.withCaller(a.throttled(a.search)))
	mux.HandleFunc("POST "+FHIRBase+"/{type}", a.withCaller(a.create))
	mux.HandleFunc("GET "+FHIRBase+"/{type}/{id}", a.withCaller(a.read))
	mux.HandleFunc("PUT "+FHIRBase+"/{type}/{id}", a.withCaller(a.update))
	mux.HandleFunc("GET "+FHIRBase+"/{type}/{id}/_history", a.withCaller(a.history))
	mux.HandleFunc("GET "+FHIRBase+"/{type}/{id}/_history/{vid}", a.withCaller(a.read))
	for _, typ := range []string{"Consent", "AuditEvent"} {
		mux.HandleFunc("GET "+FHIRBase+"/"+typ, a.withCaller(a.throttled(a.searchLedger(typ))))
		// A read looks through the whole list too: throttled as a search.
		mux.HandleFunc("GET "+FHIRBase+"/"+typ+"/{id}", a.withCaller(a.throttled(a.readLedger(typ))))
		mux.HandleFunc("POST "+FHIRBase+"/"+typ, readOnly)
		mux.HandleFunc("PUT "+FHIRBase+"/"+typ+"/{id}", readOnly)
		mux.HandleFunc("DELETE "+FHIRBase+"/"+typ+"/{id}", readOnly)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := r.URL.Query().Get("_format"); f != "" && !fhir.JSONFormat(f) {
			writeOutcome(w, http.StatusNotAcceptable, "not-supported", "only JSON (application/fhir+json) is served", nil)
			return
		}
		if !acceptsJSON(r.Header.Get("Accept")) {
			writeOutcome(w, http.StatusNotAcceptable, "not-supported", "only JSON (application/fhir+json) is served", nil)
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			writeOutcome(w, http.StatusNotFound, "not-supported", "no such FHIR interaction here (see "+FHIRBase+"/metadata)", nil)
			return
		}
		mux.ServeHTTP(w, r) // sets the path values
	})
}

// acceptsJSON reports whether an Accept header admits a JSON answer.
func acceptsJSON(accept string) bool {
	if accept == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if fhir.JSONFormat(mt) || mt == "*/*" || mt == "application/*" {
			return true
		}
	}
	return false
}

type callerHandler func(w http.ResponseWriter, r *http.Request, p auth.Principal)

// throttled refuses a caller past the service's search rate (429, with
// Retry-After): a search reads many records or ledger pages.
func (a *fhirAPI) throttled(h callerHandler) callerHandler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		if a.svc.searchLimit != nil {
			if ok, wait := a.svc.searchLimit.Allow(p.Key()); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
				writeOutcome(w, http.StatusTooManyRequests, "throttled", "too many searches: try again after Retry-After seconds", nil)
				return
			}
		}
		h(w, r, p)
	}
}

// withCaller verifies the bearer token (401 without a valid one, before the
// body is read) and checks the type in the path.
func (a *fhirAPI) withCaller(h callerHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, err := auth.BearerToken(r.Header)
		var p auth.Principal
		if err == nil {
			p, err = a.verifier.Verify(token)
		}
		if err != nil {
			msg := err.Error()
			if errors.Is(err, auth.ErrMissingToken) {
				msg = "a bearer token is required (Authorization: Bearer <jwt>)"
			}
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeOutcome(w, http.StatusUnauthorized, "login", msg, nil)
			return
		}
		if typ := r.PathValue("type"); typ != "" {
			if !fhir.Searchable(typ) {
				writeOutcome(w, http.StatusNotFound, "not-supported",
					fmt.Sprintf("resource type %q is not served here (served: %s)", typ, strings.Join(fhir.SearchTypes(), ", ")), nil)
				return
			}
			r = r.WithContext(withFHIRType(r.Context(), typ))
		}
		h(w, r, p)
	}
}

// read serves GET /{type}/{id} and GET /{type}/{id}/_history/{vid}.
func (a *fhirAPI) read(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ctx := r.Context()
	typ, id := r.PathValue("type"), r.PathValue("id")
	version := 0
	if vid := r.PathValue("vid"); vid != "" {
		n, err := strconv.Atoi(vid)
		if err != nil || n < 1 {
			writeOutcome(w, http.StatusBadRequest, "invalid", "a version id is a number from 1", nil)
			return
		}
		version = n
	}
	if strings.HasPrefix(id, "wr-") {
		writeOutcome(w, http.StatusNotFound, "not-supported",
			"a wearable reading is served by search only (Observation?patient=&category=vital-signs&date=ge..&date=lt..); its identifier names its device, batch and index, which the ingest service's proof takes", nil)
		return
	}
	patient, err := a.svc.patientOf(ctx, id)
	if err != nil {
		a.fail(ctx, w, err)
		return
	}
	got, err := a.svc.Get(ctx, p, GetRequest{PatientID: patient, RecordID: id, Version: version})
	if err != nil {
		a.fail(ctx, w, err)
		return
	}
	if got.ResourceType != typ {
		writeOutcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("%s/%s is not a %s", got.ResourceType, id, typ), nil)
		return
	}
	a.writeResource(w, http.StatusOK, got.Record, got.Resource)
}

// create serves POST /{type}: a new record, filed for the patient the
// resource names, by the caller's organisation.
func (a *fhirAPI) create(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	body, patient, ok := a.body(w, r)
	if !ok {
		return
	}
	res, err := a.svc.Put(r.Context(), p, PutRequest{PatientID: patient, Resource: body, IdempotencyKey: r.Header.Get("Idempotency-Key")})
	if err != nil {
		a.fail(r.Context(), w, err)
		return
	}
	n := res.Record
	w.Header().Set("Location", fmt.Sprintf("%s/%s/%s/_history/%d", baseURL(r), r.PathValue("type"), n.RecordID, n.Version))
	a.respondWritten(w, r, http.StatusCreated, n, body)
}

// update serves PUT /{type}/{id}: a new version of the record, made from
// the version If-Match names (required; a stale one is 412).
func (a *fhirAPI) update(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	match := r.Header.Get("If-Match")
	if match == "" {
		writeOutcome(w, http.StatusPreconditionRequired, "required",
			`If-Match is required: the ETag of the version the update was made from (W/"<version>")`, nil)
		return
	}
	base, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(match, "W/"), `"`), `"`))
	if err != nil || base < 1 {
		writeOutcome(w, http.StatusBadRequest, "invalid", `If-Match must be an ETag W/"<version>"`, nil)
		return
	}
	body, patient, ok := a.body(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if got, _ := fhir.ResourceID(body); got != id {
		writeOutcome(w, http.StatusBadRequest, "invalid", "the resource's id must be the id in the URL", nil)
		return
	}
	res, err := a.svc.Put(r.Context(), p, PutRequest{PatientID: patient, RecordID: id, Resource: body, BaseVersion: base,
		IdempotencyKey: r.Header.Get("Idempotency-Key")})
	if err != nil {
		a.fail(r.Context(), w, err)
		return
	}
	w.Header().Set("Content-Location", fmt.Sprintf("%s/%s/%s/_history/%d", baseURL(r), r.PathValue("type"), id, res.Record.Version))
	a.respondWritten(w, r, http.StatusOK, res.Record, body)
}

// body reads a create's or update's resource: JSON, at most
// fhir.MaxResourceBytes, of the type in the path, naming its patient.
func (a *fhirAPI) body(w http.ResponseWriter, r *http.Request) ([]byte, string, bool) {
	if ct := r.Header.Get("Content-Type"); !fhir.JSONFormat(ct) {
		writeOutcome(w, http.StatusUnsupportedMediaType, "not-supported", "send the resource as application/fhir+json", nil)
		return nil, "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, fhir.MaxResourceBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeOutcome(w, http.StatusRequestEntityTooLarge, "too-costly", fmt.Sprintf("a resource is at most %d bytes", fhir.MaxResourceBytes), nil)
		} else {
			writeOutcome(w, http.StatusBadRequest, "invalid", "the request body could not be read", nil)
		}
		return nil, "", false
	}
	typ, err := fhir.ResourceTypeOf(body)
	if err != nil || typ != r.PathValue("type") {
		writeOutcome(w, http.StatusBadRequest, "invalid", "the resource's resourceType must be the type in the URL", nil)
		return nil, "", false
	}
	patient, err := fhir.PatientOf(body)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "invalid", err.Error(), nil)
		return nil, "", false
	}
	return body, patient, true
}

// respondWritten answers a create or update as Prefer asks: the resource as
// served (the default), nothing, or an OperationOutcome.
func (a *fhirAPI) respondWritten(w http.ResponseWriter, r *http.Request, code int, n ledgerapi.Notarization, body []byte) {
	switch prefer := r.Header.Get("Prefer"); {
	case strings.Contains(prefer, "return=minimal"):
		setVersionHeaders(w, n)
		w.WriteHeader(code)
	case strings.Contains(prefer, "return=OperationOutcome"):
		setVersionHeaders(w, n)
		writeJSON(w, code, fhir.OperationOutcome{ResourceType: "OperationOutcome", Issue: []fhir.Issue{{Severity: "information", Code: "informational",
			Diagnostics: fmt.Sprintf("stored as version %d of %s, notarized in transaction %s", n.Version, n.RecordID, n.TxID)}}})
	default:
		a.writeResource(w, code, n, body)
	}
}

// writeResource writes a stored version as the API serves it.
func (a *fhirAPI) writeResource(w http.ResponseWriter, code int, n ledgerapi.Notarization, raw []byte) {
	view, err := fhir.WithServerMeta(raw, serverMeta(n))
	if err != nil {
		writeOutcome(w, http.StatusInternalServerError, "exception", "the stored resource could not be served", nil)
		return
	}
	setVersionHeaders(w, n)
	w.Header().Set("Content-Type", fhir.ContentType)
	w.WriteHeader(code)
	w.Write(view)
}

func serverMeta(n ledgerapi.Notarization) fhir.ServerMeta {
	return fhir.ServerMeta{ID: n.RecordID, VersionID: n.Version, LastUpdated: n.Timestamp}
}

// setVersionHeaders sets the ETag and Last-Modified of a version, and the
// notarized SHA-256 of its filed bytes (what the gRPC API serves exactly).
func setVersionHeaders(w http.ResponseWriter, n ledgerapi.Notarization) {
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, n.Version))
	if t, err := ledgerapi.ParseTime("timestamp", n.Timestamp); err == nil {
		w.Header().Set("Last-Modified", t.UTC().Format(http.TimeFormat))
	}
	w.Header().Set("X-Notarized-SHA256", n.SHA256)
}

// history serves GET /{type}/{id}/_history: every version, newest first,
// paged with _count and _offset.
func (a *fhirAPI) history(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ctx := r.Context()
	typ, id := r.PathValue("type"), r.PathValue("id")
	count, offset, err := paging(r.URL.Query())
	if err != nil {
		a.fail(ctx, w, err)
		return
	}
	patient, err := a.svc.patientOf(ctx, id)
	if err != nil {
		a.fail(ctx, w, err)
		return
	}
	versions, err := a.svc.History(ctx, p, HistoryRequest{PatientID: patient, RecordID: id})
	if err != nil {
		a.fail(ctx, w, err)
		return
	}
	total := len(versions)
	bundle := fhir.Bundle{ResourceType: "Bundle", Type: "history", Total: &total}
	base := baseURL(r)
	for i := total - 1 - offset; i >= 0 && i > total-1-offset-count; i-- {
		n := versions[i]
		raw, err := a.svc.readChecked(ctx, p, n)
		if err != nil {
			a.fail(ctx, w, err)
			return
		}
		if t, _ := fhir.ResourceTypeOf(raw); t != typ {
			writeOutcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("%s/%s is not a %s", t, id, typ), nil)
			return
		}
		view, err := fhir.WithServerMeta(raw, serverMeta(n))
		if err != nil {
			a.fail(ctx, w, err)
			return
		}
		method, status := "PUT", "200 OK"
		if n.Version == 1 {
			method, status = "POST", "201 Created"
		}
		url := fmt.Sprintf("%s/%s", typ, id)
		if method == "POST" {
			url = typ
		}
		bundle.Entry = append(bundle.Entry, fhir.BundleEntry{
			FullURL: fmt.Sprintf("%s/%s/%s", base, typ, id), Resource: view,
			Request:  &fhir.EntryRequest{Method: method, URL: url},
			Response: &fhir.EntryResponse{Status: status, Etag: fmt.Sprintf(`W/"%d"`, n.Version), LastModified: n.Timestamp},
		})
	}
	bundle.Link = pageLinks(r, total, count, offset)
	writeJSON(w, http.StatusOK, bundle)
}

// search serves GET /{type}?patient=...: the patient's records of the type
// the caller may read that match, paged. Totals and pages are computed
// after the consent filtering: nothing in the answer tells how many
// records were withheld.
func (a *fhirAPI) search(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ctx := r.Context()
	q := r.URL.Query()
	if p.Role == auth.RolePatient && q.Get("patient") == "" && q.Get("subject") == "" {
		q.Set("patient", p.Subject) // a patient searches their own records by default
	}
	s, err := fhir.ParseSearch(r.PathValue("type"), q)
	if err != nil {
		a.fail(ctx, w, fmt.Errorf("%w: %w", ErrInvalid, err))
		return
	}
	matches, err := a.svc.searchRecords(ctx, p, s)
	if err != nil {
		a.fail(ctx, w, err)
		return
	}
	base := baseURL(r)
	readings, err := a.svc.searchReadings(ctx, p, base, s)
	if err != nil {
		a.fail(ctx, w, err)
		return
	}
	total := len(matches) + len(readings)
	bundle := fhir.Bundle{ResourceType: "Bundle", Type: "searchset", Total: &total}
	for i := s.Offset; i < total && i < s.Offset+s.Count; i++ {
		if i >= len(matches) { // the records first, then the wearable readings
			rm := readings[i-len(matches)]
			bundle.Entry = append(bundle.Entry, fhir.BundleEntry{FullURL: rm.fullURL, Resource: rm.raw, Search: &fhir.EntrySearch{Mode: "match"}})
			continue
		}
		m := matches[i]
		view, err := fhir.WithServerMeta(m.raw, serverMeta(m.n))
		if err != nil {
			a.fail(ctx, w, err)
			return
		}
		bundle.Entry = append(bundle.Entry, fhir.BundleEntry{FullURL: fmt.Sprintf("%s/%s/%s", base, s.Type, m.n.RecordID),
			Resource: view, Search: &fhir.EntrySearch{Mode: "match"}})
	}
	bundle.Link = pageLinks(r, total, s.Count, s.Offset)
	writeJSON(w, http.StatusOK, bundle)
}

// paging reads _count and _offset of a history or a ledger view's search.
func paging(q url.Values) (count, offset int, err error) {
	if count, offset, err = fhir.Paging(q); err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return count, offset, nil
}

// pageLinks are a Bundle's self, next and previous links: the request's
// own query with _offset moved.
func pageLinks(r *http.Request, total, count, offset int) []fhir.BundleLink {
	at := func(off int) string {
		q := r.URL.Query()
		q.Set("_count", strconv.Itoa(count))
		q.Set("_offset", strconv.Itoa(off))
		return baseURL(r) + strings.TrimPrefix(r.URL.Path, FHIRBase) + "?" + q.Encode()
	}
	links := []fhir.BundleLink{{Relation: "self", URL: at(offset)}}
	if offset+count < total {
		links = append(links, fhir.BundleLink{Relation: "next", URL: at(offset + count)})
	}
	if offset > 0 {
		links = append(links, fhir.BundleLink{Relation: "previous", URL: at(max(0, offset-count))})
	}
	return links
}

// baseURL is the API's base as the caller reached it.
func baseURL(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host + FHIRBase
}

// fail writes err as an OperationOutcome, through the service's one
// mapping of errors to codes (status.go): a denial carries the policy's
// reasons as codes.
func (a *fhirAPI) fail(ctx context.Context, w http.ResponseWriter, err error) {
	st := status.Convert(toStatus(ctx, a.svc.log, err))
	code := runtime.HTTPStatusFromCode(st.Code())
	issue := map[codes.Code]string{
		codes.InvalidArgument: "invalid", codes.PermissionDenied: "forbidden", codes.NotFound: "not-found",
		codes.Aborted: "conflict", codes.FailedPrecondition: "business-rule", codes.AlreadyExists: "duplicate",
		codes.Unavailable: "transient", codes.DeadlineExceeded: "timeout", codes.DataLoss: "exception",
		codes.ResourceExhausted: "throttled", codes.Unauthenticated: "login",
	}[st.Code()]
	if issue == "" {
		issue = "exception"
	}
	if errors.Is(err, ErrStale) {
		code = http.StatusPreconditionFailed // FHIR's answer to an If-Match that is not the latest
	}
	var details *fhir.Concept
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			details = &fhir.Concept{Text: info.GetReason(), Coding: []fhir.Coding{{System: "urn:healthexchange:" + info.GetDomain(), Code: info.GetReason()}}}
			if reasons := info.GetMetadata()["reasons"]; reasons != "" {
				details.Text = strings.ReplaceAll(reasons, "\n", "; ")
			}
			if event := info.GetMetadata()["access_event_id"]; event != "" {
				details.Coding = append(details.Coding, fhir.Coding{System: "urn:healthexchange:access-event", Code: event})
			}
		}
	}
	writeOutcome(w, code, issue, st.Message(), details)
}

func writeOutcome(w http.ResponseWriter, code int, issue, diagnostics string, details *fhir.Concept) {
	writeJSON(w, code, fhir.NewOutcome(issue, diagnostics, details))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := fhir.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]}`)
	}
	w.Header().Set("Content-Type", fhir.ContentType)
	w.WriteHeader(code)
	w.Write(b)
}
