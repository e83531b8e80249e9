package health

import (
	"errors"
	"strings"
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

func TestRootAnchors(t *testing.T) {
	f := newFixture()
	// A batch anchor, to show the two kinds of anchor do not share ids.
	alice := newPatient("alice")
	f.register(t, alice)
	if _, err := f.registerDevice(t, alice, "watch-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Anchor, error) {
		return new(Anchors).Anchor(ctx, "b1", "alice", "watch-1", hashOf("batch"), 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
	}); err != nil {
		t.Fatal(err)
	}
	root, other := hashOf("root"), hashOf("other")
	type args struct {
		id, root       string
		size, readings int
		from, to       string
	}
	first := args{"period-1", root, 3, 250, "2030-01-01T01:00:00+01:00", "2030-01-01T00:59:59.5Z"}
	var recorded *ledgerapi.RootAnchor // the anchor of first, once recorded
	for _, tc := range []struct {      // in order, on one ledger
		name   string
		caller fakeIdentity
		args   args
		want   error
		msg    string // in the error
		stored bool   // the call records a new anchor
	}{
		{"research may not anchor", research, first, ledgerapi.ErrForbidden, "ResearchMSP", false},
		{"other organisations may not anchor", outsider, first, ledgerapi.ErrForbidden, "OtherMSP", false},
		{"anchors", providers, first, nil, "", true},
		{"the same anchor again returns the one recorded", providers, first, nil, "", false},
		{"the same times in another offset are the same anchor", providers, args{"period-1", root, 3, 250, "2030-01-01T00:00:00Z", "2030-01-01T01:59:59.5+01:00"}, nil, "", false},
		{"same anchor id, other root", providers, args{"period-1", other, 3, 250, first.from, first.to}, ledgerapi.ErrConflict, "different content", false},
		{"same anchor id, other size", providers, args{"period-1", root, 4, 250, first.from, first.to}, ledgerapi.ErrConflict, "different content", false},
		{"same anchor id, other readings", providers, args{"period-1", root, 3, 251, first.from, first.to}, ledgerapi.ErrConflict, "different content", false},
		{"same anchor id, other from", providers, args{"period-1", root, 3, 250, "2029-12-31T00:00:00Z", first.to}, ledgerapi.ErrConflict, "different content", false},
		{"same anchor id, other to", providers, args{"period-1", root, 3, 250, first.from, "2030-01-01T01:00:00Z"}, ledgerapi.ErrConflict, "different content", false},
		{"one batch of one reading", providers, args{"period-2", root, 1, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, nil, "", true},
		{"the same root under another id", providers, args{"period-3", root, 3, 250, first.from, first.to}, nil, "", true},
		{"no batches", providers, args{"period-4", root, 0, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid, "size", false},
		{"negative size", providers, args{"period-4", root, -1, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid, "size", false},
		{"fewer readings than batches", providers, args{"period-4", root, 3, 2, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid, "readings", false},
		{"from after to", providers, args{"period-4", root, 1, 1, "2030-01-01T00:00:01Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid, "from must not be after to", false},
		{"bad from", providers, args{"period-4", root, 1, 1, "2030-01-01 00:00:00", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid, "from", false},
		{"no to", providers, args{"period-4", root, 1, 1, "2030-01-01T00:00:00Z", ""}, ledgerapi.ErrInvalid, "to", false},
		{"upper-case root", providers, args{"period-4", strings.ToUpper(root), 1, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid, "root", false},
		{"short root", providers, args{"period-4", root[:62], 1, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid, "root", false},
		{"bad anchor id", providers, args{"period 4", root, 1, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid, "anchorId", false},
		{"no anchor id", providers, args{"", root, 1, 1, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"}, ledgerapi.ErrInvalid, "anchorId", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.args
			before, _ := run(f, research, func(ctx ctxT) (*ledgerapi.RootAnchor, error) { return new(Anchors).GetRoot(ctx, a.id) })
			got, err := run(f, tc.caller, func(ctx ctxT) (*ledgerapi.RootAnchor, error) {
				return new(Anchors).AnchorRoot(ctx, a.id, a.root, a.size, a.readings, a.from, a.to)
			})
			wantErr(t, err, tc.want)
			if err != nil && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not mention %q", err, tc.msg)
			}
			if wrote := len(f.stub.writes) > 0; wrote != tc.stored {
				t.Fatalf("wrote to the ledger: %v, want %v", wrote, tc.stored)
			}
			want := before // a refused or repeated call changes nothing
			if tc.stored {
				from, _ := ledgerapi.CanonicalTime("from", a.from)
				to, _ := ledgerapi.CanonicalTime("to", a.to)
				want = &ledgerapi.RootAnchor{AnchorID: a.id, Root: a.root, Size: a.size, Readings: a.readings,
					From: from, To: to, TxID: f.lastTx(), Timestamp: ledgerapi.FormatTime(f.stub.now)}
				if a.id == first.id {
					recorded = want
				}
			}
			if err == nil && *got != *want {
				t.Fatalf("anchor = %+v, want %+v", *got, *want)
			}
			stored, _ := run(f, research, func(ctx ctxT) (*ledgerapi.RootAnchor, error) { return new(Anchors).GetRoot(ctx, a.id) })
			if (stored == nil) != (want == nil) || stored != nil && *stored != *want {
				t.Fatalf("stored = %+v, want %+v", stored, want)
			}
		})
	}
	if recorded == nil || recorded.From != "2030-01-01T00:00:00Z" || recorded.To != "2030-01-01T00:59:59.5Z" {
		t.Fatalf("recorded = %+v, want from and to in UTC", recorded)
	}
	for _, tc := range []struct {
		name   string
		caller fakeIdentity
		id     string
		want   error
	}{
		{"asked by research", research, "period-1", nil},
		{"asked by providers", providers, "period-1", nil},
		{"unknown", research, "period-9", ledgerapi.ErrNotFound},
		{"a batch anchor id is not a root anchor", research, "b1", ledgerapi.ErrNotFound},
		{"invalid id", research, "period 1", ledgerapi.ErrInvalid},
		{"other organisations may not read", outsider, "period-1", ledgerapi.ErrForbidden},
	} {
		t.Run("get/"+tc.name, func(t *testing.T) {
			got, err := run(f, tc.caller, func(ctx ctxT) (*ledgerapi.RootAnchor, error) { return new(Anchors).GetRoot(ctx, tc.id) })
			wantErr(t, err, tc.want)
			if err == nil && *got != *recorded {
				t.Fatalf("anchor = %+v, want %+v", *got, *recorded)
			}
		})
	}
	if _, err := run(f, research, func(ctx ctxT) (*ledgerapi.Anchor, error) { return new(Anchors).Get(ctx, "period-1") }); !errors.Is(err, ledgerapi.ErrNotFound) {
		t.Fatalf("anchors:Get of a root anchor id: %v, want not found", err)
	}
}
