package health

import (
	"testing"

	"healthexchange/chaincode/ledgerapi"
)

// registerDevice has p sign the registration of a device with its next nonce
// and submits it.
func (f *fixture) registerDevice(t *testing.T, p *testPatient, deviceID string) (*ledgerapi.Device, error) {
	t.Helper()
	payload, sig := sign(t, p.key, ledgerapi.DeviceRegistration{Header: p.next(ledgerapi.OpDeviceRegister), DeviceID: deviceID, PublicKey: newPatient(deviceID).publicKey()})
	return run(f, providers, func(ctx ctxT) (*ledgerapi.Device, error) { return new(Devices).Register(ctx, payload, sig) })
}

// revokeDevice has p sign the revocation of a device with its next nonce and
// submits it.
func (f *fixture) revokeDevice(t *testing.T, p *testPatient, deviceID string) (*ledgerapi.Device, error) {
	t.Helper()
	payload, sig := sign(t, p.key, ledgerapi.DeviceRevocation{Header: p.next(ledgerapi.OpDeviceRevoke), DeviceID: deviceID})
	return run(f, providers, func(ctx ctxT) (*ledgerapi.Device, error) { return new(Devices).Revoke(ctx, payload, sig) })
}

func TestDevicesRegister(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	watchKey := newPatient("watch-1").publicKey()
	for _, tc := range []struct { // in order, on one ledger
		name   string
		signer *testPatient
		edit   func(r *ledgerapi.DeviceRegistration)
		want   error
	}{
		{"registers", alice, nil, nil},
		{"device id taken", bob, nil, ledgerapi.ErrExists},
		{"signed by another key", bob, func(r *ledgerapi.DeviceRegistration) { r.PatientID, r.DeviceID = "alice", "watch-2" }, ledgerapi.ErrSignature},
		{"wrong op", alice, func(r *ledgerapi.DeviceRegistration) { r.Op, r.DeviceID = ledgerapi.OpDeviceRevoke, "watch-2" }, ledgerapi.ErrInvalid},
		{"bad public key", alice, func(r *ledgerapi.DeviceRegistration) { r.PublicKey, r.DeviceID = "not base64", "watch-2" }, ledgerapi.ErrInvalid},
		{"bad device id", alice, func(r *ledgerapi.DeviceRegistration) { r.DeviceID = "watch 2" }, ledgerapi.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := ledgerapi.DeviceRegistration{Header: tc.signer.next(ledgerapi.OpDeviceRegister), DeviceID: "watch-1", PublicKey: watchKey}
			if tc.edit != nil {
				tc.edit(&reg)
			}
			payload, sig := sign(t, tc.signer.key, reg)
			got, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Device, error) { return new(Devices).Register(ctx, payload, sig) })
			wantErr(t, err, tc.want)
			if err != nil {
				return
			}
			want := ledgerapi.Device{DeviceID: "watch-1", PatientID: "alice", PublicKey: watchKey, Status: "active", RegisteredAt: "2030-01-02T03:04:07Z"}
			if *got != want {
				t.Fatalf("device = %+v, want %+v", *got, want)
			}
		})
	}
}

func TestDevicesRevoke(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, f *fixture, alice, bob *testPatient)
		signer  string
		device  string
		want    error
	}{
		{"revokes", nil, "alice", "watch-1", nil},
		{"device of another patient", nil, "bob", "watch-1", ledgerapi.ErrForbidden},
		{"unknown device", nil, "alice", "watch-9", ledgerapi.ErrNotFound},
		{"already revoked", func(t *testing.T, f *fixture, alice, bob *testPatient) {
			if _, err := f.revokeDevice(t, alice, "watch-1"); err != nil {
				t.Fatal(err)
			}
		}, "alice", "watch-1", ledgerapi.ErrConflict},
		{"stale nonce", func(t *testing.T, f *fixture, alice, bob *testPatient) { alice.nonce = 0 }, "alice", "watch-1", ledgerapi.ErrNonce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			alice, bob := newPatient("alice"), newPatient("bob")
			f.register(t, alice, bob)
			if _, err := f.registerDevice(t, alice, "watch-1"); err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(t, f, alice, bob)
			}
			signer := map[string]*testPatient{"alice": alice, "bob": bob}[tc.signer]
			got, err := f.revokeDevice(t, signer, tc.device)
			wantErr(t, err, tc.want)
			if err != nil {
				return
			}
			if got.Status != "revoked" || got.RevokedAt != ledgerapi.FormatTime(f.stub.now) || got.PatientID != "alice" {
				t.Fatalf("device = %+v", got)
			}
		})
	}
}

func TestDevicesGet(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	if _, err := f.registerDevice(t, alice, "watch-1"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id string
		want     error
	}{
		{"registered", "watch-1", nil},
		{"unknown", "watch-2", ledgerapi.ErrNotFound},
		{"invalid id", "", ledgerapi.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(f, research, func(ctx ctxT) (*ledgerapi.Device, error) { return new(Devices).Get(ctx, tc.id) })
			wantErr(t, err, tc.want)
			if err == nil && (got.DeviceID != "watch-1" || got.PatientID != "alice" || got.Status != "active") {
				t.Fatalf("device = %+v", got)
			}
		})
	}
}

// A patient's devices, active and revoked, and nobody else's.
func TestDevicesListByPatient(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	for _, d := range []string{"watch-2", "watch-1"} {
		if _, err := f.registerDevice(t, alice, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.registerDevice(t, bob, "bobs-ring"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.revokeDevice(t, alice, "watch-2"); err != nil {
		t.Fatal(err)
	}
	list, err := run(f, stmarys, func(ctx ctxT) ([]ledgerapi.Device, error) { return new(Devices).ListByPatient(ctx, "alice") })
	if err != nil || len(list) != 2 || list[0].DeviceID != "watch-1" || list[1].DeviceID != "watch-2" ||
		list[0].Status != ledgerapi.StatusActive || list[1].Status != ledgerapi.StatusRevoked {
		t.Fatalf("%+v %v", list, err)
	}
	if list, err := run(f, stmarys, func(ctx ctxT) ([]ledgerapi.Device, error) { return new(Devices).ListByPatient(ctx, "carol") }); err != nil || len(list) != 0 {
		t.Fatalf("a patient without devices: %+v %v", list, err)
	}
	_, err = run(f, stmarys, func(ctx ctxT) ([]ledgerapi.Device, error) { return new(Devices).ListByPatient(ctx, "../x") })
	wantErr(t, err, ledgerapi.ErrInvalid)
}
