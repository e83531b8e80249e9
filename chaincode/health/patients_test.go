package health

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

func TestPatientsRegister(t *testing.T) {
	alice, mallory := newPatient("alice"), newPatient("mallory")
	for _, tc := range []struct {
		name   string
		edit   func(reg *ledgerapi.PatientRegistration)
		signer *testPatient
		raw    string // sent instead of the signed payload when set
		want   error
		msg    string
	}{
		{name: "registers", signer: alice},
		{name: "signed by another key", signer: mallory, want: ledgerapi.ErrSignature},
		{name: "nonce not 0", edit: func(r *ledgerapi.PatientRegistration) { r.Nonce = 1 }, signer: alice, want: ledgerapi.ErrInvalid, msg: "nonce"},
		{name: "wrong op", edit: func(r *ledgerapi.PatientRegistration) { r.Op = ledgerapi.OpConsentGrant }, signer: alice, want: ledgerapi.ErrInvalid, msg: "op"},
		{name: "bad patient id", edit: func(r *ledgerapi.PatientRegistration) { r.PatientID = "-alice" }, signer: alice, want: ledgerapi.ErrInvalid, msg: "patientId"},
		{name: "bad public key", edit: func(r *ledgerapi.PatientRegistration) { r.PublicKey = "AAAA" }, signer: alice, want: ledgerapi.ErrInvalid, msg: "publicKey"},
		{name: "unknown field", raw: `{"op":"patient.register","nonce":0,"patientId":"alice","publicKey":"` + alice.publicKey() + `","admin":true}`, signer: alice, want: ledgerapi.ErrInvalid, msg: "admin"},
		{name: "trailing data", raw: `{"op":"patient.register","nonce":0,"patientId":"alice","publicKey":"` + alice.publicKey() + `"} {}`, signer: alice, want: ledgerapi.ErrInvalid},
		{name: "a key in another case", raw: `{"op":"patient.register","nonce":0,"patientId":"alice","PublicKey":"` + alice.publicKey() + `"}`, signer: alice, want: ledgerapi.ErrInvalid, msg: "PublicKey"},
		{name: "a key given twice", raw: `{"op":"patient.register","nonce":0,"patientId":"alice","patientId":"mallory","publicKey":"` + alice.publicKey() + `"}`, signer: alice, want: ledgerapi.ErrInvalid, msg: "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			reg := alice.registration()
			if tc.edit != nil {
				tc.edit(&reg)
			}
			payload, sig := sign(t, tc.signer.key, reg)
			if tc.raw != "" {
				payload, sig = tc.raw, signRaw(tc.signer, tc.raw)
			}
			got, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Patient, error) {
				return new(Patients).Register(ctx, payload, sig)
			})
			wantErr(t, err, tc.want)
			if err != nil {
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q does not mention %q", err, tc.msg)
				}
				return
			}
			want := ledgerapi.Patient{PatientID: "alice", PublicKey: alice.publicKey(), Nonce: 0, RegisteredAt: "2030-01-02T03:04:05Z", KeyVersion: 1}
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("patient = %+v, want %+v", *got, want)
			}
			if len(f.stub.events) == 0 || f.stub.events[len(f.stub.events)-1].EventName != EventPatientRegistered {
				t.Fatalf("no %s event", EventPatientRegistered)
			}
		})
	}
}

func TestPatientsRegisterTwice(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	payload, sig := sign(t, alice.key, alice.registration())
	_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Patient, error) {
		return new(Patients).Register(ctx, payload, sig)
	})
	wantErr(t, err, ledgerapi.ErrExists)
	if !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("error %q does not say already registered", err)
	}
}

func TestPatientsGet(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	for _, tc := range []struct {
		name, id string
		want     error
	}{
		{"registered", "alice", nil},
		{"unknown", "bob", ledgerapi.ErrNotFound},
		{"invalid id", "al ice", ledgerapi.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(f, research, func(ctx ctxT) (*ledgerapi.Patient, error) {
				return new(Patients).Get(ctx, tc.id)
			})
			wantErr(t, err, tc.want)
			if err == nil && (got.PatientID != "alice" || got.PublicKey != alice.publicKey()) {
				t.Fatalf("patient = %+v", got)
			}
		})
	}
}

// keyRing is a patient's keys for the key-change tests: the registered key,
// its recovery key, and keys to change to.
type keyRing struct {
	patient  *testPatient // the app holding the registered key
	recovery *testPatient // the recovery key's holder; nonce is its own
}

// registerWithRecovery registers a patient who names a recovery key and a
// waiting period.
func (f *fixture) registerWithRecovery(t *testing.T, id string, delay time.Duration) keyRing {
	t.Helper()
	k := keyRing{patient: newPatient(id), recovery: newPatient(id + "/recovery")}
	reg := k.patient.registration()
	reg.RecoveryKey, reg.RecoveryDelaySeconds = k.recovery.publicKey(), int64(delay/time.Second)
	payload, sig := sign(t, k.patient.key, reg)
	if _, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Patient, error) { return new(Patients).Register(ctx, payload, sig) }); err != nil {
		t.Fatal(err)
	}
	return k
}

// rotate has p rotate to newKey's key (signed by p's current key and by the
// new key).
func (f *fixture) rotate(t *testing.T, p, signer, newKey *testPatient) (*ledgerapi.Patient, error) {
	t.Helper()
	r := ledgerapi.KeyRotation{Header: p.next(ledgerapi.OpKeyRotate), NewPublicKey: newKey.publicKey()}
	payload, sig := sign(t, signer.key, r)
	_, newSig := sign(t, newKey.key, r)
	return run(f, stmarys, func(ctx ctxT) (*ledgerapi.Patient, error) { return new(Patients).RotateKey(ctx, payload, sig, newSig) })
}

// requestRecovery has the recovery key's holder ask to replace the key of
// patientID by newKey's.
func (f *fixture) requestRecovery(t *testing.T, patientID string, recovery, newKey *testPatient) (*ledgerapi.Patient, error) {
	t.Helper()
	recovery.nonce++
	r := ledgerapi.RecoveryRequest{Header: ledgerapi.Header{Op: ledgerapi.OpRecoveryRequest, Nonce: recovery.nonce, PatientID: patientID}, NewPublicKey: newKey.publicKey()}
	payload, sig := sign(t, recovery.key, r)
	_, newSig := sign(t, newKey.key, r)
	return run(f, providers, func(ctx ctxT) (*ledgerapi.Patient, error) {
		return new(Patients).RequestRecovery(ctx, payload, sig, newSig)
	})
}

func (f *fixture) completeRecovery(patientID string) (*ledgerapi.Patient, error) {
	return run(f, pharmacy, func(ctx ctxT) (*ledgerapi.Patient, error) { return new(Patients).CompleteRecovery(ctx, patientID) })
}

// withKey is the patient's app after a key change: the same id and nonce,
// another key.
func withKey(p, key *testPatient) *testPatient {
	return &testPatient{id: p.id, key: key.key, nonce: p.nonce}
}

// TestKeyRotation: a stolen key is replaced, and the thief's next grant is
// refused; the rotation needs both the current and the new key; the
// patient's history shows it.
func TestKeyRotation(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	thief := &testPatient{id: "alice", key: alice.key, nonce: alice.nonce} // a copy of alice's key
	newKey, other := newPatient("alice/new"), newPatient("alice/other")

	t.Run("the new key must sign too", func(t *testing.T) {
		r := ledgerapi.KeyRotation{Header: alice.next(ledgerapi.OpKeyRotate), NewPublicKey: newKey.publicKey()}
		payload, sig := sign(t, alice.key, r)
		_, otherSig := sign(t, other.key, r)
		_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Patient, error) {
			return new(Patients).RotateKey(ctx, payload, sig, otherSig)
		})
		wantErr(t, err, ledgerapi.ErrSignature)
	})
	t.Run("a key that is not the patient's cannot rotate", func(t *testing.T) {
		_, err := f.rotate(t, alice, other, newKey)
		wantErr(t, err, ledgerapi.ErrSignature)
	})
	t.Run("the same key again is no rotation", func(t *testing.T) {
		_, err := f.rotate(t, alice, alice, alice)
		wantErr(t, err, ledgerapi.ErrInvalid)
	})
	p, err := f.rotate(t, alice, alice, newKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.PublicKey != newKey.publicKey() || p.KeyVersion != 2 || p.KeyChangedAt == "" {
		t.Fatalf("after the rotation: %+v", p)
	}
	if ev := f.stub.events[len(f.stub.events)-1]; ev.EventName != EventPatientKeyChanged {
		t.Fatalf("event %s, want %s", ev.EventName, EventPatientKeyChanged)
	}
	t.Run("the thief's next grant is refused", func(t *testing.T) {
		thief.nonce = p.Nonce // the thief reads the nonce from the ledger
		_, err := f.grant(t, thief, grantTo("c-thief", "user", "ProvidersMSP/mallory", labs, treatment))
		wantErr(t, err, ledgerapi.ErrSignature)
	})
	t.Run("the new key grants", func(t *testing.T) {
		f.mustGrant(t, withKey(alice, newKey), grantTo("c-new", "user", "ProvidersMSP/dr-who", labs, treatment))
	})
	t.Run("the history shows both keys", func(t *testing.T) {
		h, err := run(f, research, func(ctx ctxT) ([]ledgerapi.PatientVersion, error) { return new(Patients).History(ctx, "alice") })
		if err != nil {
			t.Fatal(err)
		}
		if len(h) < 3 || h[0].Patient.PublicKey != alice.publicKey() || h[0].Patient.KeyVersion != 1 || h[len(h)-1].Patient.PublicKey != newKey.publicKey() {
			t.Fatalf("history = %+v", h)
		}
	})
}

// TestKeyRecovery: a lost key is replaced by the recovery key after the
// waiting period; the old key is refused afterwards; the current key can
// cancel during the period; a recovery key's request needs a fresh nonce of
// its own, and the patient must have named one.
func TestKeyRecovery(t *testing.T) {
	f := newFixture()
	k := f.registerWithRecovery(t, "alice", time.Hour)
	alice, recovery := k.patient, k.recovery
	newKey := newPatient("alice/new")

	t.Run("the current key cannot stand in for the recovery key", func(t *testing.T) {
		_, err := f.requestRecovery(t, "alice", withKey(recovery, alice), newKey)
		wantErr(t, err, ledgerapi.ErrSignature)
	})
	t.Run("a patient without a recovery key", func(t *testing.T) {
		f.register(t, newPatient("bob"))
		_, err := f.requestRecovery(t, "bob", recovery, newKey)
		wantErr(t, err, ledgerapi.ErrForbidden)
	})
	p, err := f.requestRecovery(t, "alice", recovery, newKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.Recovery == nil || p.PublicKey != alice.publicKey() {
		t.Fatalf("after the request: %+v", p)
	}
	t.Run("not before the waiting period ends", func(t *testing.T) {
		_, err := f.completeRecovery("alice")
		wantErr(t, err, ledgerapi.ErrForbidden)
	})
	t.Run("a replayed request", func(t *testing.T) {
		recovery.nonce--
		_, err := f.requestRecovery(t, "alice", recovery, newKey)
		wantErr(t, err, ledgerapi.ErrNonce)
		recovery.nonce++
	})
	t.Run("the current key cancels it", func(t *testing.T) {
		payload, sig := sign(t, alice.key, ledgerapi.RecoveryCancel{Header: alice.next(ledgerapi.OpRecoveryCancel)})
		p, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Patient, error) { return new(Patients).CancelRecovery(ctx, payload, sig) })
		if err != nil || p.Recovery != nil {
			t.Fatalf("cancel = %+v, %v", p, err)
		}
		f.clock = f.clock.Add(2 * time.Hour)
		_, err = f.completeRecovery("alice")
		wantErr(t, err, ledgerapi.ErrConflict)
	})

	// The key is lost for good: ask again and wait.
	if _, err := f.requestRecovery(t, "alice", recovery, newKey); err != nil {
		t.Fatal(err)
	}
	f.clock = f.clock.Add(time.Hour)
	p, err = f.completeRecovery("alice")
	if err != nil {
		t.Fatal(err)
	}
	if p.PublicKey != newKey.publicKey() || p.Recovery != nil || p.KeyVersion != 2 {
		t.Fatalf("after the recovery: %+v", p)
	}
	t.Run("the old key is refused afterwards", func(t *testing.T) {
		_, err := f.grant(t, alice, grantTo("c-old", "user", "ProvidersMSP/dr-who", labs, treatment))
		wantErr(t, err, ledgerapi.ErrSignature)
	})
	t.Run("the new key works", func(t *testing.T) {
		f.mustGrant(t, withKey(alice, newKey), grantTo("c-new", "user", "ProvidersMSP/dr-who", labs, treatment))
	})
}
