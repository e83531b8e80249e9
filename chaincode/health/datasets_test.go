package health

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"healthexchange/chaincode/ledgerapi"
)

func TestDatasetsRecord(t *testing.T) {
	f := newFixture()
	alice, bob, carol := newPatient("alice"), newPatient("bob"), newPatient("carol")
	f.register(t, alice, bob, carol)
	forResearch := []string{"research"}
	expiring := grantTo("r-expiring", "org", "ResearchMSP", labs, forResearch)
	expiring.ExpiresAt = "2030-01-03T00:00:00Z"
	future := grantTo("r-future", "org", "ResearchMSP", labs, forResearch)
	future.NotBefore = "2031-01-01T00:00:00Z"
	f.mustGrant(t, alice, grantTo("r-alice", "org", "ResearchMSP", labs, forResearch))
	f.mustGrant(t, alice, grantTo("r-alice-2", "study", "study-1", []string{"vitals"}, forResearch))
	f.mustGrant(t, alice, grantTo("r-alice-user", "user", "ProvidersMSP/researcher-1", []string{"vitals"}, []string{"treatment", "research"}))
	f.mustGrant(t, bob, grantTo("r-bob", "org", "ResearchMSP", labs, forResearch))
	f.mustGrant(t, bob, grantTo("t-bob", "user", "ProvidersMSP/dr-who", labs, treatment))
	f.mustGrant(t, bob, grantTo("r-bob-providers", "org", "ProvidersMSP", labs, forResearch))
	f.mustGrant(t, carol, grantTo("r-carol", "org", "ResearchMSP", labs, forResearch))
	f.mustGrant(t, carol, expiring)
	f.mustGrant(t, carol, future)
	if _, err := f.revoke(t, carol, "r-carol"); err != nil {
		t.Fatal(err)
	}

	release := func(edit func(r *ledgerapi.DatasetReleaseRequest)) ledgerapi.DatasetReleaseRequest {
		r := ledgerapi.DatasetReleaseRequest{DatasetID: "ds1", SHA256: hashOf("dataset"), StudyID: "study-1",
			Researcher: "researcher-1", CohortSize: 2, K: 5, ConsentIDs: []string{"r-bob", "r-alice-2", "r-alice"}}
		if edit != nil {
			edit(&r)
		}
		return r
	}
	for _, tc := range []struct { // in order, on one ledger
		name    string
		release ledgerapi.DatasetReleaseRequest
		clock   string
		want    error
		msg     string // in the error; the consent set hash on success
	}{
		{"revoked consent", release(func(r *ledgerapi.DatasetReleaseRequest) {
			r.ConsentIDs, r.CohortSize = []string{"r-alice", "r-carol"}, 2
		}), "", ledgerapi.ErrForbidden, "revoked"},
		{"consent not yet valid", release(func(r *ledgerapi.DatasetReleaseRequest) {
			r.ConsentIDs, r.CohortSize = []string{"r-alice", "r-future"}, 2
		}), "", ledgerapi.ErrForbidden, "not yet valid"},
		{"consent without research", release(func(r *ledgerapi.DatasetReleaseRequest) { r.ConsentIDs = []string{"r-alice", "t-bob"} }), "", ledgerapi.ErrForbidden, "research"},
		{"unknown consent", release(func(r *ledgerapi.DatasetReleaseRequest) { r.ConsentIDs = []string{"r-alice", "r-dave"} }), "", ledgerapi.ErrNotFound, "r-dave"},
		{"cohort counts patients, not consents", release(func(r *ledgerapi.DatasetReleaseRequest) { r.CohortSize = 3 }), "", ledgerapi.ErrInvalid, "cohortSize"},
		{"k below 2", release(func(r *ledgerapi.DatasetReleaseRequest) { r.K = 1 }), "", ledgerapi.ErrInvalid, "k must be"},
		{"repeated consent", release(func(r *ledgerapi.DatasetReleaseRequest) { r.ConsentIDs = []string{"r-alice", "r-alice"} }), "", ledgerapi.ErrInvalid, "consentIds[1]"},
		{"bad hash", release(func(r *ledgerapi.DatasetReleaseRequest) { r.SHA256 = "00" }), "", ledgerapi.ErrInvalid, "sha256"},
		{"study consent for another study", release(func(r *ledgerapi.DatasetReleaseRequest) { r.StudyID = "study-2" }), "", ledgerapi.ErrForbidden,
			"consent r-alice-2 is not given to ResearchMSP or to study study-2"},
		{"research consent to a user", release(func(r *ledgerapi.DatasetReleaseRequest) { r.ConsentIDs = []string{"r-bob", "r-alice-user"} }), "",
			ledgerapi.ErrForbidden, "consent r-alice-user is not given to ResearchMSP or to study study-1"},
		{"research consent to another org", release(func(r *ledgerapi.DatasetReleaseRequest) { r.ConsentIDs = []string{"r-alice", "r-bob-providers"} }), "",
			ledgerapi.ErrForbidden, "consent r-bob-providers is not given to ResearchMSP or to study study-1"},
		{"records, with a consent to ResearchMSP and one to the study", release(nil), "", nil, "fdf1ed89d3c1fb63bee67a8ad623a8727974beb024de54045bca1e2a2da07d18"},
		{"dataset id taken", release(nil), "", ledgerapi.ErrExists, "ds1"},
		{"consent to the study only", release(func(r *ledgerapi.DatasetReleaseRequest) {
			r.DatasetID, r.ConsentIDs, r.CohortSize = "ds4", []string{"r-alice-2"}, 1
		}), "", nil, "8f30c9d5de7c3a4d6d3d0f23653e5f3c45be9eac117931d8a6d428dadfb0b114"},
		{"consents to ResearchMSP only", release(func(r *ledgerapi.DatasetReleaseRequest) {
			r.DatasetID, r.ConsentIDs = "ds5", []string{"r-alice", "r-bob"}
		}), "", nil, "e1fec9923cfd5d865aad4e7681fb8edb74c8b30b8d7e4b485b205268b0cde7fd"},
		{"consent in force until its expiry", release(func(r *ledgerapi.DatasetReleaseRequest) {
			r.DatasetID, r.ConsentIDs, r.CohortSize = "ds2", []string{"r-expiring", "r-alice"}, 2
		}), "2030-01-02T23:59:59Z", nil, "0a89cf6c146f1a36b1cbc1ea18e3ffaa1e4e55e72082e4f5283b9aaffaef0594"},
		{"expired consent", release(func(r *ledgerapi.DatasetReleaseRequest) {
			r.DatasetID, r.ConsentIDs, r.CohortSize = "ds3", []string{"r-alice", "r-expiring"}, 2
		}), "2030-01-03T00:00:00Z", ledgerapi.ErrForbidden, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.clock != "" {
				at, err := ledgerapi.ParseTime("clock", tc.clock)
				if err != nil {
					t.Fatal(err)
				}
				f.clock = at
			}
			data, err := json.Marshal(tc.release)
			if err != nil {
				t.Fatal(err)
			}
			got, err := run(f, research, func(ctx ctxT) (*ledgerapi.DatasetRelease, error) { return new(Datasets).Record(ctx, string(data)) })
			wantErr(t, err, tc.want)
			if err != nil {
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q does not mention %q", err, tc.msg)
				}
				return
			}
			want := ledgerapi.DatasetRelease{DatasetReleaseRequest: tc.release, ConsentSetSHA256: tc.msg,
				Timestamp: ledgerapi.FormatTime(f.stub.now), TxID: f.lastTx()}
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("release = %+v, want %+v", *got, want)
			}
			stored, err := run(f, providers, func(ctx ctxT) (*ledgerapi.DatasetRelease, error) { return new(Datasets).Get(ctx, tc.release.DatasetID) })
			if err != nil || !reflect.DeepEqual(*stored, want) {
				t.Fatalf("stored = %+v, %v", stored, err)
			}
		})
	}
	for _, tc := range []struct {
		name, id string
		want     error
	}{{"unknown", "ds9", ledgerapi.ErrNotFound}, {"invalid id", "", ledgerapi.ErrInvalid}} {
		t.Run("get/"+tc.name, func(t *testing.T) {
			_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.DatasetRelease, error) { return new(Datasets).Get(ctx, tc.id) })
			wantErr(t, err, tc.want)
		})
	}
}
