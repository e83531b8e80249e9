package health

import (
	"testing"

	"healthexchange/chaincode/ledgerapi"
)

func TestAnchors(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	for _, d := range []struct {
		owner *testPatient
		id    string
	}{{alice, "watch-1"}, {alice, "watch-old"}, {bob, "ring-1"}} {
		if _, err := f.registerDevice(t, d.owner, d.id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.revokeDevice(t, alice, "watch-old"); err != nil {
		t.Fatal(err)
	}
	root := hashOf("root")
	type args struct {
		batch, patient, device, root string
		count                        int
		from, to                     string
	}
	for _, tc := range []struct { // in order, on one ledger
		name string
		args args
		want error
	}{
		{"anchors", args{"b1", "alice", "watch-1", root, 120, "2030-01-01T00:00:00+01:00", "2029-12-31T23:30:00.25Z"}, nil},
		{"from equals to", args{"b2", "alice", "watch-1", root, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, nil},
		{"revoked device, readings from before", args{"b3", "alice", "watch-old", root, 5, "2029-12-01T00:00:00Z", "2029-12-02T00:00:00Z"}, nil},
		{"batch id taken", args{"b1", "alice", "watch-1", root, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrExists},
		{"device of another patient", args{"b4", "alice", "ring-1", root, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrForbidden},
		{"unknown device", args{"b4", "alice", "ring-9", root, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrNotFound},
		{"no readings", args{"b4", "alice", "watch-1", root, 0, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid},
		{"from after to", args{"b4", "alice", "watch-1", root, 1, "2030-01-01T00:00:01Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid},
		{"bad time", args{"b4", "alice", "watch-1", root, 1, "2030-01-01 00:00:00", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid},
		{"bad root", args{"b4", "alice", "watch-1", "root", 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid},
		{"bad batch id", args{"", "alice", "watch-1", root, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.args
			got, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Anchor, error) {
				return new(Anchors).Anchor(ctx, a.batch, a.patient, a.device, a.root, a.count, a.from, a.to)
			})
			wantErr(t, err, tc.want)
			if err != nil {
				return
			}
			from, _ := ledgerapi.CanonicalTime("from", a.from)
			to, _ := ledgerapi.CanonicalTime("to", a.to)
			want := ledgerapi.Anchor{BatchID: a.batch, PatientID: a.patient, DeviceID: a.device, Root: a.root, Count: a.count,
				From: from, To: to, TxID: f.lastTx(), Timestamp: ledgerapi.FormatTime(f.stub.now)}
			if *got != want {
				t.Fatalf("anchor = %+v, want %+v", *got, want)
			}
			stored, err := run(f, research, func(ctx ctxT) (*ledgerapi.Anchor, error) { return new(Anchors).Get(ctx, a.batch) })
			if err != nil || *stored != want {
				t.Fatalf("stored = %+v, %v", stored, err)
			}
		})
	}
	if got, _ := run(f, research, func(ctx ctxT) (*ledgerapi.Anchor, error) { return new(Anchors).Get(ctx, "b1") }); got.From != "2029-12-31T23:00:00Z" {
		t.Fatalf("from = %q, want it in UTC", got.From)
	}
	for _, tc := range []struct {
		name, id string
		want     error
	}{{"unknown", "b9", ledgerapi.ErrNotFound}, {"invalid id", "b 1", ledgerapi.ErrInvalid}} {
		t.Run("get/"+tc.name, func(t *testing.T) {
			_, err := run(f, research, func(ctx ctxT) (*ledgerapi.Anchor, error) { return new(Anchors).Get(ctx, tc.id) })
			wantErr(t, err, tc.want)
		})
	}
}
