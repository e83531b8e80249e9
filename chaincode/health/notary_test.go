package health

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

// hashOf is the hex SHA-256 of s.
func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// notarize submits a version of a record of a patient's labs, as Providers.
func (f *fixture) notarize(recordID, patientID, sha string, version int, previous string) (*ledgerapi.Notarization, error) {
	return f.notarizeAs(providers, recordID, patientID, "labs", sha, version, previous)
}

// notarizeAs submits a version of a record as the caller.
func (f *fixture) notarizeAs(caller fakeIdentity, recordID, patientID, category, sha string, version int, previous string) (*ledgerapi.Notarization, error) {
	return run(f, caller, func(ctx ctxT) (*ledgerapi.Notarization, error) {
		return new(Notary).Notarize(ctx, recordID, patientID, sha, category, version, previous)
	})
}

// letFile has each patient let an organisation file their records: a
// consent to org:<MSP> for every category, for treatment.
func (f *fixture) letFile(t *testing.T, org fakeIdentity, patients ...*testPatient) {
	t.Helper()
	for _, p := range patients {
		f.mustGrant(t, p, grantTo(fmt.Sprintf("file-%s-%s-%d", p.id, org.mspID, p.nonce+1), "org", org.mspID, ledgerapi.Categories, treatment))
	}
}

func TestNotaryNotarize(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	f.letFile(t, providers, alice, bob)
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
			want := ledgerapi.Notarization{RecordID: tc.record, PatientID: tc.patient, SHA256: tc.sha, Category: "labs",
				Org: "ProvidersMSP", Author: "User1@providers.hx.local",
				Version: tc.version, PreviousSHA256: tc.previous, TxID: f.lastTx(), Timestamp: ledgerapi.FormatTime(f.stub.now)}
			if *got != want {
				t.Fatalf("notarization = %+v, want %+v", *got, want)
			}
		})
	}

	t.Run("bad category", func(t *testing.T) {
		_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Notarization, error) {
			return new(Notary).Notarize(ctx, "r3", "alice", v1, "genome", 1, "")
		})
		wantErr(t, err, ledgerapi.ErrInvalid)
	})
}

func TestNotaryVerifyAndHistory(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	f.letFile(t, providers, alice)
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

func TestNotaryListByPatient(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	f.letFile(t, providers, alice, bob)
	latest := map[string]ledgerapi.Notarization{} // recordId -> latest version
	previous := map[string]string{}               // recordId -> latest hash
	for _, v := range []struct {
		record, patient string
		version         int
	}{ // interleaved, so that recordId order is not the order of notarization
		{"r3", "alice", 1}, {"r1", "alice", 1}, {"b1", "bob", 1}, {"r3", "alice", 2},
		{"r1", "alice", 2}, {"r2", "alice", 1}, {"b1", "bob", 2}, {"r1", "alice", 3},
	} {
		n, err := f.notarize(v.record, v.patient, hashOf(fmt.Sprint(v.record, v.version)), v.version, previous[v.record])
		if err != nil {
			t.Fatal(err)
		}
		latest[v.record], previous[v.record] = *n, n.SHA256
	}
	list := func(id fakeIdentity, patientID string, pageSize int, bookmark string) (*ledgerapi.NotarizationPage, error) {
		return run(f, id, func(ctx ctxT) (*ledgerapi.NotarizationPage, error) {
			return new(Notary).ListByPatient(ctx, patientID, pageSize, bookmark)
		})
	}

	for _, tc := range []struct {
		name, patient string
		want          []ledgerapi.Notarization
	}{
		{"latest versions in recordId order", "alice", []ledgerapi.Notarization{latest["r1"], latest["r2"], latest["r3"]}},
		{"another patient", "bob", []ledgerapi.Notarization{latest["b1"]}},
		{"unknown patient", "carol", []ledgerapi.Notarization{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := list(providers, tc.patient, maxPageSize, "")
			if err != nil {
				t.Fatal(err)
			}
			want := &ledgerapi.NotarizationPage{Items: tc.want, Count: len(tc.want)}
			if !reflect.DeepEqual(got, want) { // Items [] and nil differ: [] encodes as []
				t.Fatalf("page = %+v, want %+v", got, want)
			}
		})
	}

	t.Run("pages of one walk every record", func(t *testing.T) {
		var walked []ledgerapi.Notarization
		bookmark := ""
		for pages := 0; ; pages++ {
			if pages == 5 {
				t.Fatalf("no last page after %d pages: %+v", pages, walked)
			}
			got, err := list(research, "alice", 1, bookmark)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Items) > 1 || got.Count != len(got.Items) {
				t.Fatalf("page %d = %+v, want at most one item, counted", pages, got)
			}
			walked = append(walked, got.Items...)
			if bookmark = got.Bookmark; bookmark == "" {
				break
			}
		}
		if want := []ledgerapi.Notarization{latest["r1"], latest["r2"], latest["r3"]}; !reflect.DeepEqual(walked, want) {
			t.Fatalf("walked %+v, want %+v", walked, want)
		}
	})

	t.Run("a new version replaces the latest", func(t *testing.T) {
		n, err := f.notarize("r2", "alice", hashOf("r2 v2"), 2, previous["r2"])
		if err != nil {
			t.Fatal(err)
		}
		got, err := list(research, "alice", maxPageSize, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := []ledgerapi.Notarization{latest["r1"], *n, latest["r3"]}; !reflect.DeepEqual(got.Items, want) {
			t.Fatalf("items = %+v, want %+v", got.Items, want)
		}
	})

	first, err := list(providers, "alice", 1, "")
	if err != nil || first.Bookmark == "" {
		t.Fatalf("alice's first page = %+v, %v", first, err)
	}
	for _, tc := range []struct {
		name, patient string
		size          int
		bookmark      string
	}{
		{"page size 0", "alice", 0, ""},
		{"page size 101", "alice", maxPageSize + 1, ""},
		{"another patient's bookmark", "bob", 10, first.Bookmark},
		{"bad patient id", "ali ce", 10, ""},
		{"empty patient id", "", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := list(research, tc.patient, tc.size, tc.bookmark)
			wantErr(t, err, ledgerapi.ErrInvalid)
		})
	}
	t.Run("outsider", func(t *testing.T) {
		_, err := list(outsider, "alice", 10, "")
		wantErr(t, err, ledgerapi.ErrForbidden)
	})
}

func TestNotaryFindByHash(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	f.letFile(t, providers, alice, bob)
	same, other := hashOf("same content"), hashOf("other content")
	var want []ledgerapi.Notarization
	for _, v := range []struct {
		record, patient, sha string
		version              int
		previous             string
	}{ // the same content as version 1 of r2, version 2 of r1 and version 1 of b1
		{"r2", "alice", same, 1, ""}, {"r1", "alice", other, 1, ""},
		{"r1", "alice", same, 2, other}, {"b1", "bob", same, 1, ""},
	} {
		n, err := f.notarize(v.record, v.patient, v.sha, v.version, v.previous)
		if err != nil {
			t.Fatal(err)
		}
		if v.sha == same {
			want = append(want, *n)
		}
	}
	// recordId then version order: b1, r1 v2, r2.
	want = []ledgerapi.Notarization{want[2], want[1], want[0]}
	find := func(id fakeIdentity, sha string) ([]ledgerapi.Notarization, error) {
		return run(f, id, func(ctx ctxT) ([]ledgerapi.Notarization, error) {
			return new(Notary).FindByHash(ctx, sha)
		})
	}
	for _, tc := range []struct {
		name string
		id   fakeIdentity
		sha  string
		want []ledgerapi.Notarization
	}{
		{"every record with the hash", providers, same, want},
		{"research may ask", research, same, want},
		{"one match", providers, other, want[1:2]},
		{"never notarized", providers, hashOf("nothing"), []ledgerapi.Notarization{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := find(tc.id, tc.sha)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "one match" {
				if len(got) != 1 || got[0].SHA256 != other || got[0].RecordID != "r1" || got[0].Version != 1 {
					t.Fatalf("got %+v, want version 1 of r1", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "abc", strings.ToUpper(same)} {
		if _, err := find(providers, bad); !errors.Is(err, ledgerapi.ErrInvalid) {
			t.Errorf("FindByHash(%q) = %v, want invalid input", bad, err)
		}
	}
}

// TestNotaryOwnership: a record belongs to the organisation that filed it.
// Filing needs the patient's consent to the organisation (to org, for the
// category, for treatment, in force); only the filing organisation, or one
// the patient also lets file, adds versions; the author is the submitting
// identity.
func TestNotaryOwnership(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	f.mustGrant(t, alice, grantTo("c-prov", "org", "ProvidersMSP", labs, treatment))
	f.mustGrant(t, alice, grantTo("c-user", "user", "StMarysMSP/User1@stmarys.hx.local", labs, treatment))
	f.mustGrant(t, alice, grantTo("c-study", "study", "s1", labs, []string{"research"}))
	f.mustGrant(t, alice, grantTo("c-pharm-read", "org", "PharmacyMSP", labs, []string{"payment"}))
	v1, v2, v3 := hashOf("v1"), hashOf("v2"), hashOf("v3")
	for _, tc := range []struct { // in order, on one ledger
		name                 string
		caller               fakeIdentity
		record, patient, cat string
		sha                  string
		version              int
		previous             string
		want                 error
		msg                  string
	}{
		{"no consent to the organisation", stmarys, "r1", "alice", "labs", v1, 1, "", ledgerapi.ErrForbidden, "no consent of patient alice is given to organisation StMarysMSP"},
		{"a consent to one of its users is not enough", stmarys, "r1", "alice", "labs", v1, 1, "", ledgerapi.ErrForbidden, "StMarysMSP"},
		{"a consent for another purpose", pharmacy, "r1", "alice", "labs", v1, 1, "", ledgerapi.ErrForbidden, "purpose treatment is not granted"},
		{"a category the consent does not cover", providers, "r1", "alice", "imaging", v1, 1, "", ledgerapi.ErrForbidden, "category imaging is not granted"},
		{"another patient's consent does not count", providers, "b1", "bob", "labs", v1, 1, "", ledgerapi.ErrForbidden, "patient bob"},
		{"Providers files under its consent", providers, "r1", "alice", "labs", v1, 1, "", nil, ""},
		{"another hospital adds a version", stmarys, "r1", "alice", "labs", v2, 2, v1, ledgerapi.ErrForbidden, "may not file"},
		{"the filing organisation adds a version", providers, "r1", "alice", "labs", v2, 2, v1, nil, ""},
		{"a version cannot change the category", providers, "r1", "alice", "vitals", v3, 3, v2, ledgerapi.ErrConflict, "category"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := f.notarizeAs(tc.caller, tc.record, tc.patient, tc.cat, tc.sha, tc.version, tc.previous)
			wantErr(t, err, tc.want)
			if err != nil {
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q does not mention %q", err, tc.msg)
				}
				return
			}
			if n.Org != tc.caller.mspID || n.Author != tc.caller.name {
				t.Fatalf("filed by %s/%s, want %s/%s", n.Org, n.Author, tc.caller.mspID, tc.caller.name)
			}
		})
	}

	t.Run("the patient lets St Mary's file: it may add versions too", func(t *testing.T) {
		f.mustGrant(t, alice, grantTo("c-stmarys", "org", "StMarysMSP", labs, treatment))
		if _, err := f.notarizeAs(stmarys, "r1", "alice", "labs", v3, 3, v2); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("after the revoke, St Mary's may not", func(t *testing.T) {
		if _, err := f.revoke(t, alice, "c-stmarys"); err != nil {
			t.Fatal(err)
		}
		_, err := f.notarizeAs(stmarys, "r1", "alice", "labs", hashOf("v4"), 4, v3)
		wantErr(t, err, ledgerapi.ErrForbidden)
		if !strings.Contains(err.Error(), "consent c-stmarys is revoked") {
			t.Fatalf("error %q does not say the consent is revoked", err)
		}
	})
	t.Run("an expired consent", func(t *testing.T) {
		g := grantTo("c-short", "org", "InsurerMSP", labs, treatment)
		g.ExpiresAt = ledgerapi.FormatTime(f.clock.Add(2 * time.Second))
		f.mustGrant(t, alice, g)
		f.clock = f.clock.Add(time.Hour)
		_, err := f.notarizeAs(insurer, "r9", "alice", "labs", v1, 1, "")
		wantErr(t, err, ledgerapi.ErrForbidden)
		if !strings.Contains(err.Error(), "expired") {
			t.Fatalf("error %q does not say the consent expired", err)
		}
	})
	t.Run("an erased patient's records are closed", func(t *testing.T) {
		if _, _, _, err := f.requestErasure(t, providers, alice, "er-1"); err != nil {
			t.Fatal(err)
		}
		_, err := f.notarizeAs(providers, "r1", "alice", "labs", hashOf("v5"), 4, v3)
		wantErr(t, err, ledgerapi.ErrForbidden)
	})
}
