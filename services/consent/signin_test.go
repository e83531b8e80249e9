package consent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/patientkey"
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

func (l *keysLedger) CompleteRecovery(_ context.Context, id string) (ledgerapi.Patient, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.patients[id]
	switch {
	case l.down:
		return ledgerapi.Patient{}, errors.New("ledger unavailable")
	case !ok:
		return ledgerapi.Patient{}, ledgerapi.ErrNotFound
	case p.Recovery == nil:
		return ledgerapi.Patient{}, ledgerapi.ErrConflict
	}
	if effective, _ := ledgerapi.ParseTime("effectiveAt", p.Recovery.EffectiveAt); time.Now().Before(effective) {
		return ledgerapi.Patient{}, ledgerapi.ErrForbidden
	}
	p.PublicKey, p.KeyVersion, p.Recovery = p.Recovery.NewPublicKey, p.KeyVersion+1, nil
	l.patients[id] = p
	return p, nil
}

type signInFixture struct {
	si       *signIn
	verifier *auth.Verifier
	ledger   *keysLedger
	mux      *http.ServeMux
}

func newSignInFixture(t testing.TB, limit *serving.Limiter) *signInFixture {
	t.Helper()
	verifier := verifierFor(t)
	l := &keysLedger{patients: map[string]ledgerapi.Patient{}}
	si, err := newSignIn(verifier, nil, "consent", nil, l, limit, discardLog())
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
		if _, err := newSignIn(f.verifier, nil, "consent", nil, f.ledger, nil, discardLog()); err == nil {
			t.Fatal("a second sign-in issuer replaced the first")
		}
	})
}

// A million sign-ins from one address: bounded; giving challenges keeps
// nothing, and the answered ones kept are bounded.
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
	// Giving a challenge keeps nothing; the answered ones are kept until
	// they expire, and bounded.
	g := newSignInFixture(t, nil)
	alice := newKey(t, "pat-alice")
	g.ledger.patients["pat-alice"] = ledgerapi.Patient{PatientID: "pat-alice", PublicKey: alice.PublicKey(), KeyVersion: 1}
	for range 1000 {
		g.challenge(t, "pat-x")
	}
	if len(g.si.used) != 0 {
		t.Fatalf("%d challenges kept for giving them", len(g.si.used))
	}
	now := time.Now()
	for i := range maxChallenges {
		g.si.used[strconv.Itoa(i)] = now.Add(time.Minute)
	}
	payload := g.challenge(t, "pat-alice")
	if code, _ := g.answer(t, payload, alice.SignRaw(payload)); code != http.StatusServiceUnavailable {
		t.Fatalf("past the bound: %d", code)
	}
	g.si.now = func() time.Time { return now.Add(90 * time.Second) } // all expired: swept
	payload = g.challenge(t, "pat-alice")
	if code, _ := g.answer(t, payload, alice.SignRaw(payload)); code != http.StatusOK {
		t.Fatalf("after the sweep: %d", code)
	}
}

// A challenge proves itself: any instance with the sign-in key takes it
// (once), none without it, and a changed one (another patient, a later
// expiry, another byte) is no challenge.
func TestChallengeProvesItself(t *testing.T) {
	keyFile, _ := writeSignInKey(t, 0o600)
	key, err := LoadSignInKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	instance := func(key ed25519.PrivateKey) *signIn {
		si, err := newSignIn(verifierFor(t), key, "consent", nil, &keysLedger{}, nil, discardLog())
		if err != nil {
			t.Fatal(err)
		}
		return si
	}
	a, b, stranger := instance(key), instance(key), instance(nil)
	now := time.Now()
	c, err := a.newChallenge("pat-alice", now.Add(challengeTTL))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := stranger.take(c, "pat-alice", now); ok {
		t.Fatal("an instance with another key took it")
	}
	if ok, _ := b.take(c, "pat-bob", now); ok {
		t.Fatal("taken for another patient")
	}
	if ok, _ := b.take(c, "pat-alice", now.Add(challengeTTL+time.Second)); ok {
		t.Fatal("taken after it expired")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(c)
	for i := range raw {
		changed := bytes.Clone(raw)
		changed[i] ^= 1
		if ok, _ := b.take(base64.RawURLEncoding.EncodeToString(changed), "pat-alice", now); ok {
			t.Fatalf("taken with byte %d changed", i)
		}
	}
	if ok, err := b.take(c, "pat-alice", now); !ok || err != nil {
		t.Fatalf("the other instance with the key: %v %v", ok, err)
	}
	if ok, _ := b.take(c, "pat-alice", now); ok {
		t.Fatal("taken twice")
	}
	for _, junk := range []string{"", "x", strings.Repeat("A", 54), "!!!!"} {
		if ok, _ := a.take(junk, "pat-alice", now); ok {
			t.Fatalf("%q taken", junk)
		}
	}
}

// verifierFor is a verifier that trusts no sign-in yet.
func verifierFor(t testing.TB) *auth.Verifier {
	t.Helper()
	cfg := auth.NewConfig()
	cfg.Audience = "consent"
	pub := filepath.Join(t.TempDir(), "idp.pub")
	writeTestKey(t, pub)
	cfg.Issuers = map[string]auth.Issuer{"https://patients.example": {Keys: []string{pub}, Roles: []auth.Role{auth.RolePatient}}}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// writeSignInKey writes a new Ed25519 sign-in key (PKCS #8 PEM, mode) and
// its public key (PKIX PEM), and returns their paths.
func writeSignInKey(t *testing.T, mode os.FileMode) (keyFile, pubFile string) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile, pubFile = filepath.Join(dir, "signin.key"), filepath.Join(dir, "signin.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return keyFile, pubFile
}

// verifierTrusting is a service's verifier (audience) that trusts the
// sign-in's public key as configured (-issuer), as the records service and
// every instance of this one do.
func verifierTrusting(t *testing.T, audience, pubFile string) *auth.Verifier {
	t.Helper()
	cfg := auth.NewConfig()
	cfg.Audience = audience
	cfg.Issuers = map[string]auth.Issuer{SignInIssuer: {Keys: []string{pubFile}, Roles: []auth.Role{auth.RolePatient}}}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A sign-in key given to every instance: a session from one instance works
// on the other and at the records service (its audience named), and
// nowhere its audience is not; a key that is not the configured one, or a
// key file that others may read or that is no Ed25519 key, stops the
// start.
func TestSharedSignInKey(t *testing.T) {
	keyFile, pubFile := writeSignInKey(t, 0o600)
	key, err := LoadSignInKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	alice := newKey(t, "pat-alice")
	l := &keysLedger{patients: map[string]ledgerapi.Patient{"pat-alice": {PatientID: "pat-alice", PublicKey: alice.PublicKey(), KeyVersion: 1}}}
	instance := func() (*signInFixture, *auth.Verifier) {
		v := verifierTrusting(t, "consent", pubFile)
		si, err := newSignIn(v, key, "consent", []string{"records"}, l, nil, discardLog())
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("POST /app/api/challenge", si.challengeHandler())
		mux.Handle("POST /app/api/session", si.sessionHandler())
		return &signInFixture{si: si, verifier: v, ledger: l, mux: mux}, v
	}
	a, _ := instance()
	_, bVerifier := instance()
	payload := a.challenge(t, "pat-alice")
	code, out := a.answer(t, payload, alice.SignRaw(payload))
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, out)
	}
	for name, v := range map[string]*auth.Verifier{"instance a": a.verifier, "instance b": bVerifier, "the records service": verifierTrusting(t, "records", pubFile)} {
		if p, err := v.Verify(out["token"]); err != nil || p.Subject != "pat-alice" || p.Role != auth.RolePatient || p.Org != "" {
			t.Errorf("%s refused the session: %+v %v", name, p, err)
		}
	}
	if _, err := verifierTrusting(t, "research", pubFile).Verify(out["token"]); err == nil {
		t.Error("a service the session is not for accepted it")
	}

	t.Run("a key that is not the configured one", func(t *testing.T) {
		_, otherPub := writeSignInKey(t, 0o600)
		if _, err := newSignIn(verifierTrusting(t, "consent", otherPub), key, "consent", nil, l, nil, discardLog()); err == nil || !strings.Contains(err.Error(), "-signin-key") {
			t.Fatalf("started with a sign-in key its configuration does not trust: %v", err)
		}
	})
	t.Run("key files refused", func(t *testing.T) {
		readable, _ := writeSignInKey(t, 0o644)
		dir := t.TempDir()
		notPEM, pubAsKey, p256 := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
		os.WriteFile(notPEM, []byte("not a key"), 0o600)
		raw, _ := os.ReadFile(pubFile)
		os.WriteFile(pubAsKey, raw, 0o600)
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKCS8PrivateKey(ec)
		os.WriteFile(p256, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
		for name, f := range map[string]string{"readable by others": readable, "not PEM": notPEM, "a public key": pubAsKey, "a P-256 key": p256, "missing": filepath.Join(dir, "none")} {
			if _, err := LoadSignInKey(f); err == nil {
				t.Errorf("%s: loaded", name)
			}
		}
	})
}

// Signing in with the new key of a pending recovery: refused, saying when,
// until its waiting period is over; then the sign-in puts it in force, and
// the old key signs in no more. Any other key is refused throughout, and a
// ledger that cannot complete it gives no session.
func TestSignInCompletesRecovery(t *testing.T) {
	f := newSignInFixture(t, nil)
	old, recovered, mallory := newKey(t, "pat-alice"), newKey(t, "pat-alice"), newKey(t, "pat-alice")
	later := ledgerapi.FormatTime(time.Now().Add(time.Hour))
	f.ledger.patients["pat-alice"] = ledgerapi.Patient{PatientID: "pat-alice", PublicKey: old.PublicKey(), KeyVersion: 1,
		Recovery: &ledgerapi.PendingRecovery{NewPublicKey: recovered.PublicKey(), EffectiveAt: later}}
	signIn := func(k *patientkey.Key) (int, map[string]string) {
		t.Helper()
		payload := f.challenge(t, "pat-alice")
		return f.answer(t, payload, k.SignRaw(payload))
	}
	if code, out := signIn(recovered); code != http.StatusForbidden || !strings.Contains(out["message"], "takes effect at "+later) {
		t.Fatalf("before the waiting period is over: %d %v", code, out)
	}
	if code, _ := signIn(old); code != http.StatusOK {
		t.Fatalf("the key in force meanwhile: %d", code)
	}
	if code, _ := signIn(mallory); code != http.StatusUnauthorized {
		t.Fatalf("another key: %d", code)
	}
	p := f.ledger.patients["pat-alice"]
	p.Recovery.EffectiveAt = ledgerapi.FormatTime(time.Now().Add(-time.Second))
	f.ledger.patients["pat-alice"] = p
	f.ledger.down = true
	if code, _ := signIn(recovered); code != http.StatusServiceUnavailable {
		t.Fatalf("the ledger cannot complete it: %d", code)
	}
	f.ledger.down = false
	code, out := signIn(recovered)
	if code != http.StatusOK {
		t.Fatalf("after the waiting period: %d %v", code, out)
	}
	if got, err := f.verifier.Verify(out["token"]); err != nil || got.Subject != "pat-alice" {
		t.Fatalf("%+v %v", got, err)
	}
	if p := f.ledger.patients["pat-alice"]; p.PublicKey != recovered.PublicKey() || p.Recovery != nil || p.KeyVersion != 2 {
		t.Fatalf("on the ledger: %+v", p)
	}
	if code, _ := signIn(old); code != http.StatusUnauthorized {
		t.Fatalf("the old key after the recovery: %d", code)
	}
}
