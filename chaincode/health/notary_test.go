package health

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"healthexchange/chaincode/ledgerapi"
)

// hashOf is the hex SHA-256 of s.
func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// notarize submits a version of a record of alice's labs by dr-who.
func (f *fixture) notarize(recordID, patientID, sha string, version int, previous string) (*ledgerapi.Notarization, error) {
	return run(f, providers, func(ctx ctxT) (*ledgerapi.Notarization, error) {
		return new(Notary).Notarize(ctx, recordID, patientID, sha, "labs", "dr-who", version, previous)
	})
}

func TestNotaryNotarize(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	v1, v2 := hashOf("v1"), hashOf("v2")
	for _, tc := range []struct { // in order, on one ledger
		name     string
		record   string
		patient  string
		sha      string
		version  int
		previous string
		want     error
		msg      string
	}{
		{"first version needs version 1", "r1", "alice", v1, 2, "", ledgerapi.ErrConflict, "version 1"},
		{"first version has no previous", "r1", "alice", v1, 1, v2, ledgerapi.ErrConflict, "previousSha256"},
		{"version 1", "r1", "alice", v1, 1, "", nil, ""},
		{"version 1 again", "r1", "alice", v2, 1, "", ledgerapi.ErrConflict, "version 2"},
		{"skipping a version", "r1", "alice", v2, 3, v1, ledgerapi.ErrConflict, "version 2"},
		{"previous is not the latest", "r1", "alice", v2, 2, v2, ledgerapi.ErrConflict, "previousSha256"},
		{"another patient's record", "r1", "bob", v2, 2, v1, ledgerapi.ErrConflict, "another patient"},
		{"version 2", "r1", "alice", v2, 2, v1, nil, ""},
		{"unregistered patient", "r2", "carol", v1, 1, "", ledgerapi.ErrNotFound, "carol"},
		{"version 0", "r2", "alice", v1, 0, "", ledgerapi.ErrInvalid, "version"},
		{"uppercase hash", "r2", "alice", strings.ToUpper(v1), 1, "", ledgerapi.ErrInvalid, "sha256"},
		{"bad previous hash", "r2", "alice", v2, 2, "abc", ledgerapi.ErrInvalid, "previousSha256"},
		{"bad record id", "r 2", "alice", v1, 1, "", ledgerapi.ErrInvalid, "recordId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.notarize(tc.record, tc.patient, tc.sha, tc.version, tc.previous)
			wantErr(t, err, tc.want)
			if err != nil {
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q does not mention %q", err, tc.msg)
				}
				return
			}
			want := ledgerapi.Notarization{RecordID: tc.record, PatientID: tc.patient, SHA256: tc.sha, Category: "labs", Author: "dr-who",
				Version: tc.version, PreviousSHA256: tc.previous, TxID: f.lastTx(), Timestamp: ledgerapi.FormatTime(f.stub.now)}
			if *got != want {
				t.Fatalf("notarization = %+v, want %+v", *got, want)
			}
		})
	}

	t.Run("bad category", func(t *testing.T) {
		_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Notarization, error) {
			return new(Notary).Notarize(ctx, "r3", "alice", v1, "genome", "dr-who", 1, "")
		})
		wantErr(t, err, ledgerapi.ErrInvalid)
	})
}

func TestNotaryVerifyAndHistory(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	var chain []ledgerapi.Notarization // 11 versions: keys must sort 10 after 9
	previous := ""
	for version := 1; version <= 11; version++ {
		n, err := f.notarize("r1", "alice", hashOf(fmt.Sprint("v", version)), version, previous)
		if err != nil {
			t.Fatal(err)
		}
		chain, previous = append(chain, *n), n.SHA256
	}

	for _, tc := range []struct {
		name, record, sha string
		match             bool
		version           int
		reason            string
		want              error
	}{
		{"matches the latest", "r1", hashOf("v11"), true, 11, "the latest", nil},
		{"matches an older version", "r1", hashOf("v2"), true, 2, "latest is version 11", nil},
		{"tampered", "r1", hashOf("v12"), false, 11, "matches no notarized version", nil},
		{"unknown record", "r9", hashOf("v1"), false, 0, "", ledgerapi.ErrNotFound},
		{"bad hash", "r1", "xyz", false, 0, "", ledgerapi.ErrInvalid},
	} {
		t.Run("verify/"+tc.name, func(t *testing.T) {
			got, err := run(f, research, func(ctx ctxT) (*ledgerapi.VerifyResult, error) { return new(Notary).Verify(ctx, tc.record, tc.sha) })
			wantErr(t, err, tc.want)
			if err != nil {
				if tc.want == ledgerapi.ErrNotFound && !strings.Contains(err.Error(), "record r9 is not notarized") {
					t.Fatalf("error %q", err)
				}
				return
			}
			if got.Match != tc.match || got.Notarization != chain[tc.version-1] || !strings.Contains(got.Reason, tc.reason) {
				t.Fatalf("result = %+v, want match=%v version %d reason containing %q", got, tc.match, tc.version, tc.reason)
			}
		})
	}

	for _, tc := range []struct {
		name, record string
		want         []ledgerapi.Notarization
		err          error
	}{
		{"oldest first", "r1", chain, nil},
		{"unknown record", "r9", nil, ledgerapi.ErrNotFound},
		{"bad record id", "", nil, ledgerapi.ErrInvalid},
	} {
		t.Run("history/"+tc.name, func(t *testing.T) {
			got, err := run(f, providers, func(ctx ctxT) ([]ledgerapi.Notarization, error) { return new(Notary).History(ctx, tc.record) })
			wantErr(t, err, tc.err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("history = %+v, want %+v", got, tc.want)
			}
		})
	}
}
