package consent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/serving"
)

// Sign-in with the patient's own key, for the patient's web app: the
// service hands out a challenge, the page signs it with the key registered
// on the ledger, and the service answers with a short-lived token of its
// own (no password is stored anywhere). The token is this service's only:
// its issuer is trusted here and nowhere else.

// Sign-in's names and bounds.
const (
	// SignInIssuer is the iss of the tokens sign-in gives.
	SignInIssuer = "urn:healthexchange:consent:sign-in"
	// OpSignIn is the op of what the key signs: no ledger operation has it,
	// so a sign-in signature is never a change on the ledger, nor one the
	// other way round.
	OpSignIn = "session.sign-in"
	// SessionTTL is how long a sign-in's token lives.
	SessionTTL = 15 * time.Minute
	// challengeTTL is how long a challenge may be answered, once.
	challengeTTL = 2 * time.Minute
	// maxChallenges bounds the challenges waiting for an answer.
	maxChallenges = 10000
	// maxSignInBody bounds a sign-in request's body.
	maxSignInBody = 4 << 10
)

// signInRate bounds the sign-in calls from one address.
var signInRate = serving.Rate{PerSecond: 1, Burst: 30}

// vocabularyHandler answers the web app's lists: the channel's
// organisations, the record categories and the purposes (public: no
// patient's data).
func vocabularyHandler() http.Handler {
	body, err := json.Marshal(struct {
		Organisations []ledgerapi.Organisation `json:"organisations"`
		Categories    []string                 `json:"categories"`
		Purposes      []string                 `json:"purposes"`
	}{ledgerapi.Organisations, ledgerapi.Categories, ledgerapi.Purposes})
	if err != nil {
		panic(err) // fixed lists
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	})
}

// signInPayload is what the patient's key signs (after
// ledgerapi.SigningContext), as the challenge's answer gives it.
type signInPayload struct {
	Op        string `json:"op"`
	PatientID string `json:"patientId"`
	Challenge string `json:"challenge"`
	Audience  string `json:"audience"`
}

// patientKeys reads a patient's key on the ledger.
type patientKeys interface {
	Patient(ctx context.Context, patientID string) (ledgerapi.Patient, error)
}

// signIn gives challenges and sessions.
type signIn struct {
	key      ed25519.PrivateKey // signs the sessions' tokens; in memory only
	audience string
	ledger   patientKeys
	limit    *serving.Limiter // per client address; nil: none (unit tests)
	now      func() time.Time
	log      *slog.Logger

	mu         sync.Mutex
	challenges map[string]waiting // by challenge
}

// waiting is a challenge given to a patient id, until it expires.
type waiting struct {
	patientID string
	expires   time.Time
}

// newSignIn makes sign-in's key (in memory: a restart ends the sessions)
// and has verifier trust the tokens it signs, for role patient only.
func newSignIn(verifier *auth.Verifier, audience string, l patientKeys, limit *serving.Limiter, log *slog.Logger) (*signIn, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := verifier.TrustIssuer(SignInIssuer, auth.Issuer{Roles: []auth.Role{auth.RolePatient}}, pub); err != nil {
		return nil, err
	}
	return &signIn{key: key, audience: audience, ledger: l, limit: limit, now: time.Now, log: log, challenges: map[string]waiting{}}, nil
}

// challengeResponse is the answer to a challenge request: the exact bytes
// to sign (after the signing context), and until when.
type challengeResponse struct {
	Payload   string `json:"payload"`
	ExpiresAt string `json:"expiresAt"`
}

// sessionRequest is a signed challenge.
type sessionRequest struct {
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// sessionResponse is a sign-in's token (for the page's memory only).
type sessionResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
}

// challengeHandler: POST {"patientId"} gives a challenge for that id. Any
// id gets one (whether it is registered is not told); only its key's
// signature turns it into a session.
func (s *signIn) challengeHandler() http.Handler {
	return s.handle(func(r *http.Request) (any, error) {
		var req struct {
			PatientID string `json:"patientId"`
		}
		if err := decodeStrict(r.Body, &req); err != nil {
			return nil, err
		}
		if err := ledgerapi.ValidateID("patientId", req.PatientID); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		challenge := base64.RawURLEncoding.EncodeToString(raw)
		now := s.now()
		if err := s.remember(challenge, waiting{patientID: req.PatientID, expires: now.Add(challengeTTL)}, now); err != nil {
			return nil, err
		}
		payload, err := json.Marshal(signInPayload{Op: OpSignIn, PatientID: req.PatientID, Challenge: challenge, Audience: s.audience})
		if err != nil {
			return nil, err
		}
		return challengeResponse{Payload: string(payload), ExpiresAt: ledgerapi.FormatTime(now.Add(challengeTTL))}, nil
	})
}

// remember keeps a challenge, dropping expired ones when there are too many.
func (s *signIn) remember(challenge string, w waiting, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.challenges) >= maxChallenges {
		for c, old := range s.challenges {
			if now.After(old.expires) {
				delete(s.challenges, c)
			}
		}
		if len(s.challenges) >= maxChallenges {
			return fmt.Errorf("%w: too many sign-ins waiting; try again in a minute", ErrUnavailable)
		}
	}
	s.challenges[challenge] = w
	return nil
}

// take removes a challenge and says whether it was given to patientID and
// is still open: a challenge is answered once, right or wrong.
func (s *signIn) take(challenge, patientID string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.challenges[challenge]
	delete(s.challenges, challenge)
	return ok && w.patientID == patientID && !now.After(w.expires)
}

// sessionHandler: POST {"payload","signature"} with a challenge's payload
// signed by the patient's key on the ledger gives a session token.
func (s *signIn) sessionHandler() http.Handler {
	return s.handle(func(r *http.Request) (any, error) {
		var req sessionRequest
		if err := decodeStrict(r.Body, &req); err != nil {
			return nil, err
		}
		var p signInPayload
		if err := decodeStrict(bytes.NewReader([]byte(req.Payload)), &p); err != nil {
			return nil, err
		}
		if p.Op != OpSignIn || p.Audience != s.audience {
			return nil, fmt.Errorf("%w: not a sign-in to this service", ErrInvalid)
		}
		if err := ledgerapi.ValidateID("patientId", p.PatientID); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		now := s.now()
		if !s.take(p.Challenge, p.PatientID, now) {
			return nil, fmt.Errorf("%w: the challenge is unknown, used or expired: ask for a new one", ErrUnauthenticated)
		}
		patient, err := s.ledger.Patient(r.Context(), p.PatientID)
		switch {
		case errors.Is(err, ledgerapi.ErrNotFound):
			return nil, fmt.Errorf("%w: the signature does not match a registered key", ErrUnauthenticated)
		case err != nil:
			return nil, err // the ledger cannot say: no session
		case !patient.HasKey():
			return nil, patient.NoKeyYet()
		}
		if err := ledgerapi.VerifySignature(patient.PublicKey, []byte(req.Payload), req.Signature); err != nil {
			return nil, fmt.Errorf("%w: the signature does not match a registered key", ErrUnauthenticated)
		}
		token, err := s.token(p.PatientID, now)
		if err != nil {
			return nil, err
		}
		s.log.InfoContext(r.Context(), "patient signed in with their key", "patient", p.PatientID)
		return sessionResponse{Token: token, ExpiresAt: ledgerapi.FormatTime(now.Add(SessionTTL))}, nil
	})
}

// token is a session's token for the patient: EdDSA, this service's
// audience only, role patient, SessionTTL from now.
func (s *signIn) token(patientID string, now time.Time) (string, error) {
	now = now.Truncate(time.Second)
	claims := jwt.MapClaims{
		"iss": SignInIssuer, "sub": patientID, "aud": []string{s.audience}, "role": string(auth.RolePatient),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(SessionTTL).Unix(),
	}
	return jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(s.key)
}

// handle runs f for a JSON POST: the caller's address bounded, the body
// bounded, the answer JSON, an error a status and a sentence (never a
// token or a key).
func (s *signIn) handle(f func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if s.limit != nil {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				host = r.RemoteAddr
			}
			if ok, wait := s.limit.Allow("addr:" + host); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
				writeJSONError(w, http.StatusTooManyRequests, "too many sign-ins from this address: try again later")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxSignInBody)
		out, err := f(r)
		if err != nil {
			code, msg := http.StatusInternalServerError, "sign-in failed"
			switch {
			case errors.Is(err, ErrInvalid):
				code, msg = http.StatusBadRequest, err.Error()
			case errors.Is(err, ErrUnauthenticated):
				code, msg = http.StatusUnauthorized, err.Error()
			case errors.Is(err, ledgerapi.ErrForbidden):
				code, msg = http.StatusForbidden, err.Error()
			case errors.Is(err, ErrUnavailable):
				code, msg = http.StatusServiceUnavailable, err.Error()
			default:
				s.log.WarnContext(r.Context(), "sign-in failed", "err", err)
				code, msg = http.StatusServiceUnavailable, "sign-in is unavailable (the ledger cannot be read): try again later"
			}
			writeJSONError(w, code, msg)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// decodeStrict decodes one JSON object with no unknown field and nothing
// after it.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: the request is larger than %d bytes", ErrInvalid, maxSignInBody)
		}
		return fmt.Errorf("%w: not the JSON expected: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: something follows the JSON object", ErrInvalid)
	}
	return nil
}
