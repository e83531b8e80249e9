package consent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/mtls"
	"healthexchange/services/platform/serving"
)

// The patient web app's records page reads the patient's records through
// this service, so that the page talks to one origin only (its
// Content-Security-Policy allows no other): the relay passes three reads on
// to the records service's HTTP/JSON API with the patient's own token, and
// the records service decides, records the access and checks each record
// against the notary as for any other caller. The relay serves patients
// only, each their own records: anything else is refused here, before the
// records service is asked.

// relayKind is one of the reads the relay passes on.
type relayKind int

const (
	relayList    relayKind = iota // the patient's records, a page
	relayGet                      // one record's version, with its bytes
	relayHistory                  // one record's notarized versions
)

// Bounds of the relay.
const (
	// maxRelayAnswer bounds an answer passed back: a 1 MiB record is about
	// 1.4 MB in base64 in its JSON.
	maxRelayAnswer = 3 << 20
	// relayTimeout bounds one call to the records service.
	relayTimeout = 20 * time.Second
	// maxPageToken bounds a list's page token.
	maxPageToken = 512
)

// relayRate bounds the records reads one patient may ask through the relay.
var relayRate = serving.Rate{PerSecond: 5, Burst: 60}

// recordsRelay passes the records page's reads on to the records service.
type recordsRelay struct {
	bases    []*url.URL // the records service's instances, tried in order; none: no records page
	client   *http.Client
	verifier *auth.Verifier
	limit    *serving.Limiter
	log      *slog.Logger
}

// newRecordsRelay relays to the records service at urls (https://host:port,
// separated by commas; empty: the page is not offered), whose certificate
// must chain to tlsFiles' CA.
func newRecordsRelay(urls string, tlsFiles serving.TLSFiles, v *auth.Verifier, log *slog.Logger) (*recordsRelay, error) {
	limit, err := serving.NewLimiter(relayRate)
	if err != nil {
		return nil, err
	}
	r := &recordsRelay{verifier: v, limit: limit, log: log}
	if strings.TrimSpace(urls) == "" {
		return r, nil
	}
	for _, raw := range strings.Split(urls, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("consent config: the records service's address %q (-web-records) is not https://host:port", raw)
		}
		u.Path = ""
		r.bases = append(r.bases, u)
	}
	tlsCfg, err := mtls.ClientConfig(tlsFiles.CAFile, "", "", "")
	if err != nil {
		return nil, fmt.Errorf("consent config: the records relay: %w", err)
	}
	r.client = &http.Client{
		Timeout: relayTimeout,
		// Never a proxy from the environment, and never a redirect: the
		// patient's token goes to the configured records service only.
		Transport:     &http.Transport{TLSClientConfig: tlsCfg, Proxy: nil, MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return r, nil
}

// Offered reports whether the records page is set up.
func (r *recordsRelay) Offered() bool { return len(r.bases) > 0 }

// handler relays one kind of read.
func (r *recordsRelay) handler(kind relayKind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !r.Offered() {
			writeJSONError(w, http.StatusNotFound, "the records page is not set up on this exchange")
			return
		}
		target, code, msg := r.target(kind, req)
		if code != 0 {
			writeJSONError(w, code, msg)
			return
		}
		r.relay(w, req, target)
	})
}

// target checks the caller and the request, and says what to ask the
// records service: its path and query; or the status and the words of a
// refusal.
func (r *recordsRelay) target(kind relayKind, req *http.Request) (*url.URL, int, string) {
	p, err := r.verifier.VerifyRequest(req)
	switch {
	case errors.Is(err, auth.ErrMissingToken):
		return nil, http.StatusUnauthorized, "sign in first"
	case err != nil:
		return nil, http.StatusUnauthorized, "your session has ended: sign in again"
	}
	patientID := req.PathValue("patient")
	if p.Role != auth.RolePatient || p.Subject != patientID {
		return nil, http.StatusForbidden, "this page shows patients their own records only"
	}
	if ok, wait := r.limit.Allow(p.Key()); !ok {
		return nil, http.StatusTooManyRequests, fmt.Sprintf("too many requests: try again in %d seconds", int(wait/time.Second)+1)
	}
	if err := ledgerapi.ValidateID("patientId", patientID); err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	// Ids are of A-Z a-z 0-9 . _ : @ - only: nothing to escape in a path.
	path := "/v1/patients/" + patientID + "/records"
	q, allowed := req.URL.Query(), map[string]bool{}
	out := url.Values{}
	switch kind {
	case relayList:
		allowed["page_size"], allowed["page_token"] = true, true
		if v := q.Get("page_size"); v != "" {
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 200 {
				return nil, http.StatusBadRequest, "page_size must be 1 to 200"
			}
			out.Set("page_size", v)
		}
		if v := q.Get("page_token"); v != "" {
			if len(v) > maxPageToken {
				return nil, http.StatusBadRequest, "the page token is too long"
			}
			out.Set("page_token", v)
		}
	case relayGet, relayHistory:
		recordID := req.PathValue("record")
		if err := ledgerapi.ValidateID("recordId", recordID); err != nil {
			return nil, http.StatusBadRequest, err.Error()
		}
		path += "/" + recordID
		if kind == relayHistory {
			path += "/history"
		} else {
			allowed["version"] = true
			if v := q.Get("version"); v != "" {
				if n, err := strconv.Atoi(v); err != nil || n < 0 {
					return nil, http.StatusBadRequest, "version must be a whole number"
				}
				out.Set("version", v)
			}
		}
	}
	for k, vs := range q {
		if !allowed[k] || len(vs) != 1 {
			return nil, http.StatusBadRequest, fmt.Sprintf("unexpected parameter %q", k)
		}
	}
	return &url.URL{Path: path, RawQuery: out.Encode()}, 0, ""
}

// relay asks each instance in turn until one answers, and passes its
// answer on: its status, and its JSON body when that is not too large. A
// records service that cannot be reached is a 503 in words.
func (r *recordsRelay) relay(w http.ResponseWriter, req *http.Request, target *url.URL) {
	for _, base := range r.bases {
		u := *base
		u.Path, u.RawQuery = target.Path, target.RawQuery
		status, body, err := r.call(req.Context(), u.String(), req.Header.Get("Authorization"))
		if err != nil {
			if req.Context().Err() != nil {
				return // the page went away
			}
			r.log.WarnContext(req.Context(), "the records service did not answer the web app's read", "instance", base.Host, "err", err)
			continue
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
		return
	}
	writeJSONError(w, http.StatusServiceUnavailable, "your records cannot be reached right now: try again later")
}

// call is one GET to the records service with the patient's token.
func (r *recordsRelay) call(ctx context.Context, target, authorization string) (int, []byte, error) {
	out, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, nil, err
	}
	out.Header.Set("Authorization", authorization)
	out.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(out)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayAnswer+1))
	if err != nil {
		return 0, nil, err
	}
	if len(body) > maxRelayAnswer {
		return 0, nil, errors.New("the answer is larger than the relay passes on")
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return 0, nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.StatusCode, body, nil
}
