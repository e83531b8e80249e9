package consent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
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
	"healthexchange/services/platform/durable"
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
	SignInIssuer = auth.SignInIssuer
	// OpSignIn is the op of what the key signs: no ledger operation has it,
	// so a sign-in signature is never a change on the ledger, nor one the
	// other way round.
	OpSignIn = "session.sign-in"
	// SessionTTL is how long a sign-in's token lives.
	SessionTTL = 15 * time.Minute
	// challengeTTL is how long a challenge may be answered, once.
	challengeTTL = 2 * time.Minute
	// maxChallenges bounds the answered challenges kept until they expire
	// (so that each is answered once).
	maxChallenges = 10000
	// maxSignInKeyFile bounds the sign-in key's file (PEM: about 120 bytes).
	maxSignInKeyFile = 4096
	// maxSignInBody bounds a sign-in request's body.
	maxSignInBody = 4 << 10
)

// signInRate bounds the sign-in calls from one address.
var signInRate = serving.Rate{PerSecond: 1, Burst: 30}

// vocabularyHandler answers the web app's lists: the channel's
// organisations, the record categories and the purposes (public: no
// patient's data), and whether the records page is offered.
func vocabularyHandler(records bool) http.Handler {
	body, err := json.Marshal(struct {
		Organisations []ledgerapi.Organisation `json:"organisations"`
		Categories    []string                 `json:"categories"`
		Purposes      []string                 `json:"purposes"`
		Records       bool                     `json:"records"`
	}{ledgerapi.Organisations, ledgerapi.Categories, ledgerapi.Purposes, records})
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

// patientKeys reads a patient's key on the ledger, and puts a recovered
// key in force once its waiting period is over.
type patientKeys interface {
	Patient(ctx context.Context, patientID string) (ledgerapi.Patient, error)
	CompleteRecovery(ctx context.Context, patientID string) (ledgerapi.Patient, error)
}

// signIn gives challenges and sessions. A challenge carries its own proof
// (a MAC with a key derived from the sign-in key): nothing is kept when one
// is given, and any instance with the same sign-in key checks it, so the
// challenge and its answer may reach different instances behind one
// address. Each instance keeps the challenges answered to it until they
// expire, so that it takes each once.
type signIn struct {
	key      ed25519.PrivateKey // signs the sessions' tokens
	macKey   []byte             // proves the challenges; derived from key
	audience string
	also     []string // the other audiences of its tokens
	ledger   patientKeys
	limit    *serving.Limiter // per client address; nil: none (unit tests)
	now      func() time.Time
	log      *slog.Logger

	mu   sync.Mutex
	used map[string]time.Time // answered challenges, until they expire
}

// A challenge is a random nonce, its expiry (Unix seconds, big-endian) and
// the MAC of both with the patient id, in base64url.
const (
	challengeNonce = 16
	challengeMAC   = 16
	challengeLen   = challengeNonce + 8 + challengeMAC
)

// newSignIn sets up sign-in with key (nil: one made here, in memory, so
// a restart ends the sessions) and has verifier trust the tokens it signs,
// for role patient only. A key the service is given may be trusted by its
// configuration already (the -issuer for SignInIssuer, as every service
// the app reaches has it): then a token it signs must pass that
// configuration, or the service does not start. Its tokens are for
// audience and also for also (the other services the app reaches).
func newSignIn(verifier *auth.Verifier, key ed25519.PrivateKey, audience string, also []string, l patientKeys, limit *serving.Limiter, log *slog.Logger) (*signIn, error) {
	s := &signIn{audience: audience, also: also, ledger: l, limit: limit, now: time.Now, log: log, used: map[string]time.Time{}}
	if key == nil {
		var err error
		if _, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, err
		}
	}
	s.key = key
	mac := sha256.Sum256(append([]byte("healthexchange/consent/sign-in-challenge/v1\x00"), key.Seed()...))
	s.macKey = mac[:]
	if verifier.Trusts(SignInIssuer) {
		probe, err := s.token("sign-in-probe", s.now())
		if err != nil {
			return nil, err
		}
		if _, err := verifier.Verify(probe); err != nil {
			return nil, fmt.Errorf("consent config: the sign-in key (-signin-key) is not the one the trusted issuer %s names (-issuer): %w", SignInIssuer, err)
		}
		return s, nil
	}
	if err := verifier.TrustIssuer(SignInIssuer, auth.Issuer{Roles: []auth.Role{auth.RolePatient}}, key.Public().(ed25519.PublicKey)); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadSignInKey reads the sign-in key: an Ed25519 private key, PKCS #8
// PEM, in a file nobody else may read.
func LoadSignInKey(path string) (ed25519.PrivateKey, error) {
	raw, err := durable.ReadSecret(path, maxSignInKeyFile)
	if err != nil {
		return nil, fmt.Errorf("consent config: sign-in key: %w", err)
	}
	defer clear(raw)
	key, err := auth.ParseEd25519PrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("consent config: sign-in key %s: %w", path, err)
	}
	return key, nil
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
		now := s.now()
		challenge, err := s.newChallenge(req.PatientID, now.Add(challengeTTL))
		if err != nil {
			return nil, err
		}
		payload, err := json.Marshal(signInPayload{Op: OpSignIn, PatientID: req.PatientID, Challenge: challenge, Audience: s.audience})
		if err != nil {
			return nil, err
		}
		return challengeResponse{Payload: string(payload), ExpiresAt: ledgerapi.FormatTime(now.Add(challengeTTL))}, nil
	})
}

// newChallenge is a challenge for patientID that expires at expires.
func (s *signIn) newChallenge(patientID string, expires time.Time) (string, error) {
	raw := make([]byte, challengeNonce+8, challengeLen)
	if _, err := rand.Read(raw[:challengeNonce]); err != nil {
		return "", err
	}
	binary.BigEndian.PutUint64(raw[challengeNonce:], uint64(expires.Unix()))
	return base64.RawURLEncoding.EncodeToString(append(raw, s.challengeMAC(patientID, raw)...)), nil
}

// challengeMAC proves a challenge's nonce and expiry were given for
// patientID by an instance with this sign-in key.
func (s *signIn) challengeMAC(patientID string, nonceAndExpiry []byte) []byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte(patientID))
	m.Write([]byte{0})
	m.Write(nonceAndExpiry)
	return m.Sum(nil)[:challengeMAC]
}

// take says whether challenge was given for patientID and is still open,
// and marks it answered: a challenge is answered once, right or wrong. Too
// many answered challenges that are still open is ErrUnavailable.
func (s *signIn) take(challenge, patientID string, now time.Time) (bool, error) {
	raw, err := base64.RawURLEncoding.DecodeString(challenge)
	if err != nil || len(raw) != challengeLen {
		return false, nil
	}
	if !hmac.Equal(raw[challengeNonce+8:], s.challengeMAC(patientID, raw[:challengeNonce+8])) {
		return false, nil
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(raw[challengeNonce:])), 0)
	if now.After(expires) {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, answered := s.used[challenge]; answered {
		return false, nil
	}
	if len(s.used) >= maxChallenges {
		for c, until := range s.used {
			if now.After(until) {
				delete(s.used, c)
			}
		}
		if len(s.used) >= maxChallenges {
			return false, fmt.Errorf("%w: too many sign-ins at once; try again in a minute", ErrUnavailable)
		}
	}
	s.used[challenge] = expires
	return true, nil
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
		if ok, err := s.take(p.Challenge, p.PatientID, now); err != nil {
			return nil, err
		} else if !ok {
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
			if err := s.completeRecovery(r.Context(), patient, req, now); err != nil {
				return nil, err
			}
		}
		token, err := s.token(p.PatientID, now)
		if err != nil {
			return nil, err
		}
		s.log.InfoContext(r.Context(), "patient signed in with their key", "patient", p.PatientID)
		return sessionResponse{Token: token, ExpiresAt: ledgerapi.FormatTime(now.Add(SessionTTL))}, nil
	})
}

// completeRecovery signs in with the new key of a pending recovery: once
// its waiting period is over, the sign-in puts it in force (the new key's
// signature of the challenge proves its holder is the one who asked); before
// then it is refused, saying when. Any other signature is no sign-in.
func (s *signIn) completeRecovery(ctx context.Context, patient ledgerapi.Patient, req sessionRequest, now time.Time) error {
	refused := fmt.Errorf("%w: the signature does not match a registered key", ErrUnauthenticated)
	pending := patient.Recovery
	if pending == nil || ledgerapi.VerifySignature(pending.NewPublicKey, []byte(req.Payload), req.Signature) != nil {
		return refused
	}
	effective, err := ledgerapi.ParseTime("effectiveAt", pending.EffectiveAt)
	if err != nil {
		return err
	}
	if now.Before(effective) {
		return fmt.Errorf("%w: your recovered key takes effect at %s: sign in with it then (until then your current key can stop the recovery)", ledgerapi.ErrForbidden, pending.EffectiveAt)
	}
	done, err := s.ledger.CompleteRecovery(ctx, patient.PatientID)
	if errors.Is(err, ledgerapi.ErrConflict) {
		return refused // stopped meanwhile: no pending recovery
	} else if err != nil {
		return err
	}
	if done.PublicKey != pending.NewPublicKey {
		return refused // another change came first
	}
	s.log.InfoContext(ctx, "patient's recovered key put in force at sign-in", "patient", patient.PatientID, "key_version", done.KeyVersion)
	return nil
}

// token is a session's token for the patient: EdDSA, this service's
// audience and the others it is configured for, role patient, SessionTTL from now.
func (s *signIn) token(patientID string, now time.Time) (string, error) {
	now = now.Truncate(time.Second)
	claims := jwt.MapClaims{
		"iss": SignInIssuer, "sub": patientID, "aud": append([]string{s.audience}, s.also...), "role": string(auth.RolePatient),
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
