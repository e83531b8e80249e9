package consent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/serving"
)

// keysLedger answers a patient's entry, or fails as a ledger that cannot be
// reached.
type keysLedger struct {
	mu       sync.Mutex
	patients map[string]ledgerapi.Patient
	down     bool
}

func (l *keysLedger) Patient(_ context.Context, id string) (ledgerapi.Patient, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return ledgerapi.Patient{}, errors.New("ledger unavailable")
	}
	p, ok := l.patients[id]
	if !ok {
		return ledgerapi.Patient{}, ledgerapi.ErrNotFound
	}
	return p, nil
}

type signInFixture struct {
	si       *signIn
	verifier *auth.Verifier
	ledger   *keysLedger
	mux      *http.ServeMux
}

func newSignInFixture(t *testing.T, limit *serving.Limiter) *signInFixture {
	t.Helper()
	cfg := auth.NewConfig()
	cfg.Audience = "consent"
	pub := filepath.Join(t.TempDir(), "idp.pub")
	writeTestKey(t, pub)
	cfg.Issuers = map[string]auth.Issuer{"https://patients.example": {Keys: []string{pub}, Roles: []auth.Role{auth.RolePatient}}}
	verifier, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := &keysLedger{patients: map[string]ledgerapi.Patient{}}
	si, err := newSignIn(verifier, "consent", l, limit, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /app/api/challenge", si.challengeHandler())
	mux.Handle("POST /app/api/session", si.sessionHandler())
	return &signInFixture{si: si, verifier: verifier, ledger: l, mux: mux}
}

func (f *signInFixture) post(t *testing.T, path, body string) (int, map[string]string) {
	t.Helper()
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.7:5555"
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	var out map[string]string
	json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

// challenge asks for a challenge for patientID and returns its payload.
func (f *signInFixture) challenge(t *testing.T, patientID string) string {
	t.Helper()
	code, out := f.post(t, "/app/api/challenge", `{"patientId":"`+patientID+`"}`)
	if code != http.StatusOK || out["payload"] == "" {
		t.Fatalf("challenge: %d %v", code, out)
	}
	return out["payload"]
}

func (f *signInFixture) answer(t *testing.T, payload, signature string) (int, map[string]string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"payload": payload, "signature": signature})
	return f.post(t, "/app/api/session", string(body))
}

// Sign-in: the key on the ledger signs a one-time challenge and gets a
// short-lived token for role patient, which this service's verifier
// accepts; every other answer is refused, and the ledger's silence is no
// session.
func TestSignIn(t *testing.T) {
	f := newSignInFixture(t, nil)
	alice, mallory := newKey(t, "pat-alice"), newKey(t, "pat-mallory")
	f.ledger.patients["pat-alice"] = ledgerapi.Patient{PatientID: "pat-alice", PublicKey: alice.PublicKey(), KeyVersion: 1}
	f.ledger.patients["baby-1"] = ledgerapi.Patient{PatientID: "baby-1", RegisteredBy: "StMarysMSP", MajorityAt: "2040-01-01T00:00:00Z"}

	t.Run("the registered key signs in", func(t *testing.T) {
		payload := f.challenge(t, "pat-alice")
		code, out := f.answer(t, payload, alice.SignRaw(payload))
		if code != http.StatusOK {
			t.Fatalf("%d %v", code, out)
		}
		p, err := f.verifier.Verify(out["token"])
		if err != nil || p.Subject != "pat-alice" || p.Role != auth.RolePatient || p.Org != "" || p.Issuer != SignInIssuer {
			t.Fatalf("%+v %v", p, err)
		}
		if life := time.Until(p.ExpiresAt); life > SessionTTL || life < SessionTTL-time.Minute {
			t.Fatalf("the session lives %v", life)
		}
		code, _ = f.answer(t, payload, alice.SignRaw(payload))
		if code != http.StatusUnauthorized {
			t.Fatalf("a challenge answered twice: %d", code)
		}
	})
	refused := map[string]struct {
		patient string
		sign    func(payload string) (string, string)
		code    int
	}{
		"another key":              {"pat-alice", func(p string) (string, string) { return p, mallory.SignRaw(p) }, http.StatusUnauthorized},
		"a patient without a key":  {"baby-1", func(p string) (string, string) { return p, mallory.SignRaw(p) }, http.StatusForbidden},
		"a patient not registered": {"pat-mallory", func(p string) (string, string) { return p, mallory.SignRaw(p) }, http.StatusUnauthorized},
		"the challenge of another": {"pat-mallory", func(p string) (string, string) {
			q := strings.Replace(p, "pat-mallory", "pat-alice", 1)
			return q, alice.SignRaw(q)
		}, http.StatusUnauthorized},
		"another audience": {"pat-alice", func(p string) (string, string) {
			q := strings.Replace(p, `"consent"`, `"records"`, 1)
			return q, alice.SignRaw(q)
		}, http.StatusBadRequest},
		"a ledger operation instead": {"pat-alice", func(string) (string, string) { s, _ := alice.Grant(labsGrant("c-1")); return s.Payload, s.Signature }, http.StatusBadRequest},
		"a made-up challenge": {"pat-alice", func(p string) (string, string) {
			var sp signInPayload
			json.Unmarshal([]byte(p), &sp)
			sp.Challenge = "AAAA"
			b, _ := json.Marshal(sp)
			return string(b), alice.SignRaw(string(b))
		}, http.StatusUnauthorized},
		"no signature": {"pat-alice", func(p string) (string, string) { return p, "" }, http.StatusUnauthorized},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			payload, sig := tc.sign(f.challenge(t, tc.patient))
			code, out := f.answer(t, payload, sig)
			if code != tc.code || out["token"] != "" {
				t.Fatalf("%d %v, want %d", code, out, tc.code)
			}
		})
	}
	t.Run("the ledger cannot be read: no session", func(t *testing.T) {
		payload := f.challenge(t, "pat-alice")
		f.ledger.down = true
		defer func() { f.ledger.down = false }()
		if code, out := f.answer(t, payload, alice.SignRaw(payload)); code != http.StatusServiceUnavailable || out["token"] != "" {
			t.Fatalf("%d %v", code, out)
		}
	})
	t.Run("an expired challenge", func(t *testing.T) {
		payload := f.challenge(t, "pat-alice")
		f.si.now = func() time.Time { return time.Now().Add(challengeTTL + time.Second) }
		defer func() { f.si.now = time.Now }()
		if code, _ := f.answer(t, payload, alice.SignRaw(payload)); code != http.StatusUnauthorized {
			t.Fatalf("%d", code)
		}
	})
	for name, body := range map[string]string{
		"not JSON":         `patientId=pat-alice`,
		"an unknown field": `{"patientId":"pat-alice","role":"clinician"}`,
		"a bad id":         `{"patientId":"../etc"}`,
		"two objects":      `{"patientId":"pat-alice"}{}`,
		"a megabyte":       `{"patientId":"` + strings.Repeat("a", 1<<20) + `"}`,
	} {
		t.Run("challenge: "+name, func(t *testing.T) {
			if code, _ := f.post(t, "/app/api/challenge", body); code != http.StatusBadRequest {
				t.Fatalf("%d", code)
			}
		})
	}
	t.Run("a token of this sign-in is nobody else's: another service's verifier refuses it", func(t *testing.T) {
		payload := f.challenge(t, "pat-alice")
		_, out := f.answer(t, payload, alice.SignRaw(payload))
		other := newSignInFixture(t, nil)
		if _, err := other.verifier.Verify(out["token"]); !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrWrongIssuer) {
			t.Fatalf("another instance's verifier: %v", err)
		}
	})
	t.Run("the issuer cannot be trusted twice", func(t *testing.T) {
		if _, err := newSignIn(f.verifier, "consent", f.ledger, nil, discardLog()); err == nil {
			t.Fatal("a second sign-in issuer replaced the first")
		}
	})
}

// A million sign-ins from one address: bounded, and the waiting challenges
// are bounded too.
func TestSignInIsBounded(t *testing.T) {
	limit, err := serving.NewLimiter(serving.Rate{PerSecond: 0.001, Burst: 3})
	if err != nil {
		t.Fatal(err)
	}
	f := newSignInFixture(t, limit)
	for i := range 4 {
		code, _ := f.post(t, "/app/api/challenge", `{"patientId":"pat-x"}`)
		if i < 3 && code != http.StatusOK || i == 3 && code != http.StatusTooManyRequests {
			t.Fatalf("call %d: %d", i, code)
		}
	}
	g := newSignInFixture(t, nil)
	now := time.Now()
	for i := range maxChallenges {
		g.si.challenges[string(rune(i))+"x"] = waiting{patientID: "p", expires: now.Add(time.Minute)}
	}
	if code, _ := g.post(t, "/app/api/challenge", `{"patientId":"pat-x"}`); code != http.StatusServiceUnavailable {
		t.Fatalf("past the bound: %d", code)
	}
	g.si.now = func() time.Time { return now.Add(2 * time.Minute) } // all expired: swept
	if code, _ := g.post(t, "/app/api/challenge", `{"patientId":"pat-x"}`); code != http.StatusOK {
		t.Fatalf("after the sweep: %d", code)
	}
}
