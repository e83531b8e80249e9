package consent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
)

// The patient's feed: what every decision, consent change, access request
// and expiring consent tells them (feed.go keeps it), read by the patient
// alone.

const (
	defaultNotePage = 100
	maxNotePage     = 500
)

// notifications are the calling patient's notifications after seq, at most
// size (0: the default), with break-glass reasons opened for them.
func (s *service) notifications(p auth.Principal, after uint64, size int32) ([]*consentv1.Notification, <-chan struct{}, error) {
	if err := requireRole(p, auth.RolePatient); err != nil {
		return nil, nil, err
	}
	n := int(size)
	switch {
	case size == 0:
		n = defaultNotePage
	case size < 0 || size > maxNotePage:
		return nil, nil, fmt.Errorf("%w: page_size must be 1 to %d", ErrInvalid, maxNotePage)
	}
	if s.feed == nil {
		return nil, nil, fmt.Errorf("%w: no notification feed", ErrUnavailable)
	}
	notes, changed, err := s.feed.List(p.Subject, after, n)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	out := make([]*consentv1.Notification, len(notes))
	for i, note := range notes {
		out[i] = s.noteToProto(note)
	}
	return out, changed, nil
}

// watch sends the calling patient's notifications after seq, then each new
// one, until ctx ends.
func (s *service) watch(ctx context.Context, p auth.Principal, after uint64, send func(*consentv1.Notification) error) error {
	for {
		notes, changed, err := s.notifications(p, after, maxNotePage)
		if err != nil {
			return err
		}
		for _, n := range notes {
			if err := send(n); err != nil {
				return err
			}
			after = n.GetSeq()
		}
		if len(notes) == maxNotePage {
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

func (s *service) noteToProto(n notification) *consentv1.Notification {
	out := &consentv1.Notification{
		Seq: n.Seq, Time: n.Time, Kind: n.Kind, Actor: n.Actor, ActorRole: n.ActorRole, ActorOrg: n.ActorOrg,
		Action: n.Action, Resource: n.Resource, Purpose: n.Purpose, Decision: n.Decision, ReasonCodes: n.ReasonCodes,
		EventId: n.EventID, ConsentId: n.ConsentID, Grantee: n.Grantee, ExpiresAt: n.ExpiresAt, RequestId: n.RequestID,
		GrantUntil: n.GrantUntil,
	}
	if n.Sealed != "" && s.breakGlass != nil {
		reason, err := s.breakGlass.openReason(n.PatientID, n.EventID, n.Sealed)
		if err != nil {
			s.log.Error("a sealed break-glass reason does not open", "patient", n.PatientID, "event", n.EventID, "err", err)
			reason = "(the reason could not be opened)"
		}
		out.BreakGlassReason = reason
	}
	return out
}

// consentChanged tells a patient that a consent of theirs came into force
// or was revoked on the ledger (the view calls it for every change it
// applies).
func (s *service) consentChanged(c ledgerapi.Consent) {
	n := notification{PatientID: c.PatientID, Kind: noteConsentGranted, Key: "consent-granted/" + c.ConsentID,
		Time: c.GrantedAt, ConsentID: c.ConsentID, Grantee: c.Grantee.Kind + ":" + c.Grantee.ID, ExpiresAt: c.ExpiresAt}
	if c.Status == ledgerapi.StatusRevoked {
		n.Kind, n.Key, n.Time = noteConsentRevoked, "consent-revoked/"+c.ConsentID, c.RevokedAt
	}
	if err := s.notify(context.Background(), n, false); err != nil {
		s.log.Warn("consent change not put on the patient's feed", "patient", c.PatientID, "consent", c.ConsentID, "err", err)
	}
}

// patientErased removes an erased patient's feed.
func (s *service) patientErased(patientID string) {
	if s.feed == nil {
		return
	}
	if err := s.feed.Erase(patientID); err != nil {
		s.log.Error("an erased patient's feed was not removed", "patient", patientID, "err", err)
	}
}

// announceExpiring tells each patient, once, of their active consents that
// end within notice, every period, until ctx ends.
func (s *service) announceExpiring(notice, period time.Duration) func(context.Context) {
	return func(ctx context.Context) {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			if live, _ := s.view.Live(); live {
				now := s.now()
				for _, c := range s.view.Expiring(now, now.Add(notice)) {
					n := notification{PatientID: c.PatientID, Kind: noteConsentExpiring, Key: "consent-expiring/" + c.ConsentID,
						Time: ledgerapi.FormatTime(now), ConsentID: c.ConsentID, Grantee: c.Grantee.Kind + ":" + c.Grantee.ID, ExpiresAt: c.ExpiresAt}
					if err := s.notify(ctx, n, false); err != nil {
						s.log.Warn("an expiring consent was not announced", "consent", c.ConsentID, "err", err)
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

// sseHeartbeat is how often an idle Server-Sent Events stream says it is
// alive, so proxies and the client notice a dead one.
const sseHeartbeat = 15 * time.Second

// eventStream serves GET /v1/notifications/events: the calling patient's
// notifications as Server-Sent Events (after the query's after, or the
// Last-Event-ID a reconnecting browser sends), then each new one, until the
// client goes. The token is checked here, before anything is read or sent.
func (s *service) eventStream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.verifier == nil {
			http.Error(w, "no token verifier", http.StatusServiceUnavailable)
			return
		}
		p, err := s.verifier.VerifyRequest(r)
		if err != nil {
			msg := err.Error()
			if errors.Is(err, auth.ErrMissingToken) {
				msg = "a bearer token is required"
			}
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, msg, http.StatusUnauthorized)
			return
		}
		if p.Role != auth.RolePatient {
			http.Error(w, "only a patient reads their notifications", http.StatusForbidden)
			return
		}
		after, err := strconv.ParseUint(cmp.Or(r.URL.Query().Get("after"), r.Header.Get("Last-Event-ID"), "0"), 10, 64)
		if err != nil {
			http.Error(w, "after must be a notification's seq", http.StatusBadRequest)
			return
		}
		flusher, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		flusher.Flush()
		beat := time.NewTicker(sseHeartbeat)
		defer beat.Stop()
		for {
			notes, changed, err := s.notifications(p, after, maxNotePage)
			if err != nil {
				fmt.Fprintf(w, "event: error\ndata: %s\n\n", strings.ReplaceAll(err.Error(), "\n", " "))
				flusher.Flush()
				return
			}
			for _, n := range notes {
				data, _ := protojson.Marshal(n)
				fmt.Fprintf(w, "id: %d\nevent: notification\ndata: %s\n\n", n.GetSeq(), data)
				after = n.GetSeq()
			}
			flusher.Flush()
			if len(notes) == maxNotePage {
				continue
			}
			for waiting := true; waiting; {
				select {
				case <-changed:
					waiting = false
				case <-beat.C:
					fmt.Fprint(w, ": alive\n\n")
					flusher.Flush()
				case <-r.Context().Done():
					return
				}
			}
		}
	})
}
