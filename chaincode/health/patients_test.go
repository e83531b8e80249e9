package health

import (
	"strings"
	"testing"

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
			want := ledgerapi.Patient{PatientID: "alice", PublicKey: alice.publicKey(), Nonce: 0, RegisteredAt: "2030-01-02T03:04:05Z"}
			if *got != want {
				t.Fatalf("patient = %+v, want %+v", *got, want)
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
