package health

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

var (
	labs      = []string{"labs"}
	treatment = []string{"treatment"}
)

func TestConsentsGrant(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(g *ledgerapi.ConsentGrant)
		signer string // patient whose key signs; "alice" by default
		want   error
		msg    string
		check  func(t *testing.T, c *ledgerapi.Consent)
	}{
		{name: "grants for every record with no window", check: func(t *testing.T, c *ledgerapi.Consent) {
			if c.RecordIDs == nil || len(c.RecordIDs) != 0 || c.NotBefore != "" || c.ExpiresAt != "" {
				t.Fatalf("limits = %q %q %q, want none", c.RecordIDs, c.NotBefore, c.ExpiresAt)
			}
		}},
		{name: "limits to records and a window, times in UTC", edit: func(g *ledgerapi.ConsentGrant) {
			g.RecordIDs = []string{"r1", "r2"}
			g.NotBefore = "2030-02-01T01:00:00+01:00"
			g.ExpiresAt = "2030-03-01T00:00:00.500Z"
		}, check: func(t *testing.T, c *ledgerapi.Consent) {
			if !slices.Equal(c.RecordIDs, []string{"r1", "r2"}) || c.NotBefore != "2030-02-01T00:00:00Z" || c.ExpiresAt != "2030-03-01T00:00:00.5Z" {
				t.Fatalf("limits = %q %q %q", c.RecordIDs, c.NotBefore, c.ExpiresAt)
			}
		}},
		{name: "signed by another key", signer: "mallory", want: ledgerapi.ErrSignature},
		{name: "unregistered patient", edit: func(g *ledgerapi.ConsentGrant) { g.PatientID = "carol" }, want: ledgerapi.ErrNotFound},
		{name: "wrong op", edit: func(g *ledgerapi.ConsentGrant) { g.Op = ledgerapi.OpConsentRevoke }, want: ledgerapi.ErrInvalid, msg: "op"},
		{name: "unknown category", edit: func(g *ledgerapi.ConsentGrant) { g.Categories = []string{"genome"} }, want: ledgerapi.ErrInvalid, msg: "categories[0]"},
		{name: "no category", edit: func(g *ledgerapi.ConsentGrant) { g.Categories = nil }, want: ledgerapi.ErrInvalid, msg: "categories"},
		{name: "repeated purpose", edit: func(g *ledgerapi.ConsentGrant) { g.Purposes = []string{"treatment", "treatment"} }, want: ledgerapi.ErrInvalid, msg: "purposes[1]"},
		{name: "unknown grantee kind", edit: func(g *ledgerapi.ConsentGrant) { g.Grantee.Kind = "group" }, want: ledgerapi.ErrInvalid, msg: "grantee.kind"},
		{name: "bad record id", edit: func(g *ledgerapi.ConsentGrant) { g.RecordIDs = []string{"r 1"} }, want: ledgerapi.ErrInvalid, msg: "recordIds[0]"},
		{name: "bad notBefore", edit: func(g *ledgerapi.ConsentGrant) { g.NotBefore = "2030-02-01" }, want: ledgerapi.ErrInvalid, msg: "notBefore"},
		{name: "expiry before notBefore", edit: func(g *ledgerapi.ConsentGrant) {
			g.NotBefore, g.ExpiresAt = "2030-02-01T00:00:00Z", "2030-01-31T00:00:00Z"
		}, want: ledgerapi.ErrInvalid, msg: "expiresAt"},
		{name: "expiry before the grant", edit: func(g *ledgerapi.ConsentGrant) { g.ExpiresAt = "2030-01-02T03:04:05Z" }, want: ledgerapi.ErrInvalid, msg: "grant time"},
		{name: "expiry at the zero time", edit: func(g *ledgerapi.ConsentGrant) { g.ExpiresAt = "0001-01-01T00:00:00Z" }, want: ledgerapi.ErrInvalid, msg: "grant time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			alice := newPatient("alice")
			f.register(t, alice)
			registered := len(f.stub.events)
			g := grantTo("c1", ledgerapi.GranteeUser, "ProvidersMSP/dr-who", labs, treatment)
			g.Header = alice.next(ledgerapi.OpConsentGrant)
			if tc.edit != nil {
				tc.edit(&g)
			}
			signer := alice
			if tc.signer != "" {
				signer = newPatient(tc.signer)
			}
			payload, sig := sign(t, signer.key, g)
			got, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Consent, error) {
				return new(Consents).Grant(ctx, payload, sig)
			})
			wantErr(t, err, tc.want)
			if err != nil {
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q does not mention %q", err, tc.msg)
				}
				if len(f.stub.events) != registered {
					t.Fatal("a refused grant emitted an event")
				}
				return
			}
			if got.ConsentID != "c1" || got.PatientID != "alice" || got.Grantee != g.Grantee ||
				!slices.Equal(got.Categories, labs) || !slices.Equal(got.Purposes, treatment) ||
				got.Status != "active" || got.GrantedAt != "2030-01-02T03:04:06Z" || got.GrantTxID != f.lastTx() ||
				got.RevokedAt != "" || got.RevokeTxID != "" {
				t.Fatalf("consent = %+v", got)
			}
			tc.check(t, got)
			if name, event := f.lastEvent(t); name != "ConsentGranted" || !reflect.DeepEqual(event, *got) {
				t.Fatalf("event %s %+v, want ConsentGranted %+v", name, event, *got)
			}
			stored, err := run(f, research, func(ctx ctxT) (*ledgerapi.Consent, error) { return new(Consents).Get(ctx, "c1") })
			if err != nil || !reflect.DeepEqual(stored, got) {
				t.Fatalf("stored = %+v, %v; want %+v", stored, err, got)
			}
			patient, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Patient, error) { return new(Patients).Get(ctx, "alice") })
			if err != nil || patient.Nonce != 1 {
				t.Fatalf("patient nonce = %+v, %v; want 1", patient, err)
			}
		})
	}
}

func TestConsentsGrantDuplicateID(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	f.mustGrant(t, alice, grantTo("c1", ledgerapi.GranteeUser, "ProvidersMSP/dr-who", labs, treatment))
	_, err := f.grant(t, bob, grantTo("c1", ledgerapi.GranteeUser, "ProvidersMSP/dr-who", labs, treatment))
	wantErr(t, err, ledgerapi.ErrExists)
}

// TestNonces: every patient-signed change needs a nonce above the last one
// accepted from the patient, whatever the operation.
func TestNonces(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	grant := func(nonce uint64, consentID string) error {
		g := grantTo(consentID, ledgerapi.GranteeUser, "ProvidersMSP/dr-who", labs, treatment)
		alice.nonce = nonce - 1
		_, err := f.grant(t, alice, g)
		return err
	}

	g := grantTo("c1", ledgerapi.GranteeUser, "ProvidersMSP/dr-who", labs, treatment)
	g.Header = alice.next(ledgerapi.OpConsentGrant)
	payload, sig := sign(t, alice.key, g)
	submit := func() error {
		_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Consent, error) { return new(Consents).Grant(ctx, payload, sig) })
		return err
	}
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"first change", submit, nil},
		{"replayed", submit, ledgerapi.ErrNonce},
		{"gap allowed", func() error { return grant(5, "c2") }, nil},
		{"stale", func() error { return grant(4, "c3") }, ledgerapi.ErrNonce},
		{"equal", func() error { return grant(5, "c3") }, ledgerapi.ErrNonce},
		{"refused change leaves its nonce unused", func() error { return grant(6, "c1") }, ledgerapi.ErrExists},
		{"unused nonce still good", func() error { return grant(6, "c3") }, nil},
		{"shared by every operation", func() error {
			alice.nonce = 5
			payload, sig := sign(t, alice.key, ledgerapi.DeviceRegistration{Header: alice.next(ledgerapi.OpDeviceRegister), DeviceID: "d1", PublicKey: alice.publicKey()})
			_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Device, error) { return new(Devices).Register(ctx, payload, sig) })
			return err
		}, ledgerapi.ErrNonce},
	}
	for _, step := range steps {
		err := step.do()
		wantErr(t, err, step.want)
		if step.want == ledgerapi.ErrNonce && !strings.Contains(err.Error(), "nonce") {
			t.Fatalf("%s: error %q does not mention the nonce", step.name, err)
		}
	}
}

func TestConsentsRevoke(t *testing.T) {
	for _, tc := range []struct {
		name string
		// revoke returns the revocation payload and signature to submit.
		revoke func(t *testing.T, f *fixture, alice, bob *testPatient) (string, string)
		want   error
	}{
		{"revokes", func(t *testing.T, f *fixture, alice, bob *testPatient) (string, string) {
			return sign(t, alice.key, ledgerapi.ConsentRevocation{Header: alice.next(ledgerapi.OpConsentRevoke), ConsentID: "c1"})
		}, nil},
		{"someone else's consent", func(t *testing.T, f *fixture, alice, bob *testPatient) (string, string) {
			return sign(t, bob.key, ledgerapi.ConsentRevocation{Header: bob.next(ledgerapi.OpConsentRevoke), ConsentID: "c1"})
		}, ledgerapi.ErrForbidden},
		{"signed by another key", func(t *testing.T, f *fixture, alice, bob *testPatient) (string, string) {
			return sign(t, bob.key, ledgerapi.ConsentRevocation{Header: alice.next(ledgerapi.OpConsentRevoke), ConsentID: "c1"})
		}, ledgerapi.ErrSignature},
		{"unknown consent", func(t *testing.T, f *fixture, alice, bob *testPatient) (string, string) {
			return sign(t, alice.key, ledgerapi.ConsentRevocation{Header: alice.next(ledgerapi.OpConsentRevoke), ConsentID: "c9"})
		}, ledgerapi.ErrNotFound},
		{"wrong op", func(t *testing.T, f *fixture, alice, bob *testPatient) (string, string) {
			return sign(t, alice.key, ledgerapi.ConsentRevocation{Header: alice.next(ledgerapi.OpDeviceRevoke), ConsentID: "c1"})
		}, ledgerapi.ErrInvalid},
		{"already revoked", func(t *testing.T, f *fixture, alice, bob *testPatient) (string, string) {
			if _, err := f.revoke(t, alice, "c1"); err != nil {
				t.Fatal(err)
			}
			return sign(t, alice.key, ledgerapi.ConsentRevocation{Header: alice.next(ledgerapi.OpConsentRevoke), ConsentID: "c1"})
		}, ledgerapi.ErrConflict},
		{"replayed", func(t *testing.T, f *fixture, alice, bob *testPatient) (string, string) {
			payload, sig := sign(t, alice.key, ledgerapi.ConsentRevocation{Header: alice.next(ledgerapi.OpConsentRevoke), ConsentID: "c1"})
			if _, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Consent, error) { return new(Consents).Revoke(ctx, payload, sig) }); err != nil {
				t.Fatal(err)
			}
			return payload, sig
		}, ledgerapi.ErrNonce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			alice, bob := newPatient("alice"), newPatient("bob")
			f.register(t, alice, bob)
			granted := f.mustGrant(t, alice, grantTo("c1", ledgerapi.GranteeUser, "ProvidersMSP/dr-who", labs, treatment))
			payload, sig := tc.revoke(t, f, alice, bob)
			events := len(f.stub.events)
			got, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Consent, error) { return new(Consents).Revoke(ctx, payload, sig) })
			wantErr(t, err, tc.want)
			if err != nil {
				if len(f.stub.events) != events {
					t.Fatal("a refused revocation emitted an event")
				}
				return
			}
			want := *granted
			want.Status, want.RevokedAt, want.RevokeTxID = "revoked", ledgerapi.FormatTime(f.clock.Add(-time.Second)), f.lastTx()
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("revoked = %+v, want %+v", *got, want)
			}
			if name, event := f.lastEvent(t); name != "ConsentRevoked" || !reflect.DeepEqual(event, want) {
				t.Fatalf("event %s %+v, want ConsentRevoked %+v", name, event, want)
			}
		})
	}
}

func TestConsentsGet(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	f.mustGrant(t, alice, grantTo("c1", ledgerapi.GranteeUser, "ProvidersMSP/dr-who", labs, treatment))
	for _, tc := range []struct {
		name, id string
		want     error
	}{
		{"granted", "c1", nil},
		{"unknown", "c2", ledgerapi.ErrNotFound},
		{"invalid id", "", ledgerapi.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(f, research, func(ctx ctxT) (*ledgerapi.Consent, error) { return new(Consents).Get(ctx, tc.id) })
			wantErr(t, err, tc.want)
			if err == nil && (got.ConsentID != "c1" || got.PatientID != "alice") {
				t.Fatalf("consent = %+v", got)
			}
		})
	}
}

func TestConsentsLists(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	for _, id := range []string{"c3", "c1", "c5", "c2", "c4"} {
		kind, grantee := ledgerapi.GranteeUser, "ProvidersMSP/dr-who"
		if id == "c2" || id == "c4" {
			kind, grantee = ledgerapi.GranteeOrg, "ProvidersMSP"
		}
		f.mustGrant(t, alice, grantTo(id, kind, grantee, labs, treatment))
	}
	f.mustGrant(t, bob, grantTo("c0", ledgerapi.GranteeUser, "ProvidersMSP/dr-who", labs, treatment))
	f.mustGrant(t, bob, grantTo("c6", ledgerapi.GranteeStudy, "study-1", labs, []string{"research"}))
	f.mustGrant(t, bob, grantTo("c7", ledgerapi.GranteeStudy, "study-2", labs, []string{"research"}))

	byPatient := func(patientID string) func(ctx ctxT, size int, bookmark string) (*ledgerapi.ConsentPage, error) {
		return func(ctx ctxT, size int, bookmark string) (*ledgerapi.ConsentPage, error) {
			return new(Consents).ListByPatient(ctx, patientID, size, bookmark)
		}
	}
	byGrantee := func(kind, id string) func(ctx ctxT, size int, bookmark string) (*ledgerapi.ConsentPage, error) {
		return func(ctx ctxT, size int, bookmark string) (*ledgerapi.ConsentPage, error) {
			return new(Consents).ListByGrantee(ctx, kind, id, size, bookmark)
		}
	}
	for _, tc := range []struct {
		name  string
		list  func(ctx ctxT, size int, bookmark string) (*ledgerapi.ConsentPage, error)
		size  int
		pages [][]string
	}{
		{"patient, pages of 2", byPatient("alice"), 2, [][]string{{"c1", "c2"}, {"c3", "c4"}, {"c5"}}},
		{"patient, one exact page", byPatient("alice"), 5, [][]string{{"c1", "c2", "c3", "c4", "c5"}}},
		{"patient without consents", byPatient("carol"), 10, [][]string{{}}},
		{"user grantee across patients", byGrantee("user", "ProvidersMSP/dr-who"), 3, [][]string{{"c0", "c1", "c3"}, {"c5"}}},
		{"the same user name at another organisation", byGrantee("user", "StMarysMSP/dr-who"), 100, [][]string{{}}},
		{"org grantee", byGrantee("org", "ProvidersMSP"), 100, [][]string{{"c2", "c4"}}},
		{"study grantee", byGrantee("study", "study-1"), 100, [][]string{{"c6"}}},
		{"study grantee is not an org", byGrantee("org", "study-1"), 100, [][]string{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [][]string
			bookmark := ""
			for {
				page, err := run(f, research, func(ctx ctxT) (*ledgerapi.ConsentPage, error) { return tc.list(ctx, tc.size, bookmark) })
				if err != nil {
					t.Fatal(err)
				}
				ids := []string{}
				for _, c := range page.Items {
					ids = append(ids, c.ConsentID)
				}
				if page.Count != len(page.Items) {
					t.Fatalf("count %d for %d items", page.Count, len(page.Items))
				}
				got = append(got, ids)
				if bookmark = page.Bookmark; bookmark == "" || len(got) > len(tc.pages) {
					break
				}
			}
			if !reflect.DeepEqual(got, tc.pages) {
				t.Fatalf("pages = %q, want %q", got, tc.pages)
			}
		})
	}

	first, err := run(f, research, func(ctx ctxT) (*ledgerapi.ConsentPage, error) {
		return byGrantee("user", "ProvidersMSP/dr-who")(ctx, 1, "")
	})
	if err != nil || first.Bookmark == "" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	for _, tc := range []struct {
		name     string
		list     func(ctx ctxT, size int, bookmark string) (*ledgerapi.ConsentPage, error)
		size     int
		bookmark string
	}{
		{"page size 0", byPatient("alice"), 0, ""},
		{"page size 101", byPatient("alice"), 101, ""},
		{"bookmark of another list", byPatient("alice"), 2, first.Bookmark},
		{"bookmark of another grantee", byGrantee("user", "dr-no"), 2, first.Bookmark},
		{"bad patient id", byPatient("al/ice"), 2, ""},
		{"bad grantee kind", byGrantee("team", "dr-who"), 2, ""},
		{"bad grantee id", byGrantee("user", ""), 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.ConsentPage, error) { return tc.list(ctx, tc.size, tc.bookmark) })
			wantErr(t, err, ledgerapi.ErrInvalid)
		})
	}
}

func TestConsentsHistory(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	granted := f.mustGrant(t, alice, grantTo("c1", ledgerapi.GranteeUser, "ProvidersMSP/dr-who", labs, treatment))
	revoked, err := f.revoke(t, alice, "c1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id string
		want     []ledgerapi.ConsentVersion
		err      error
	}{
		{"oldest first", "c1", []ledgerapi.ConsentVersion{
			{TxID: granted.GrantTxID, Timestamp: granted.GrantedAt, Consent: granted},
			{TxID: revoked.RevokeTxID, Timestamp: revoked.RevokedAt, Consent: revoked},
		}, nil},
		{"unknown consent", "c2", nil, ledgerapi.ErrNotFound},
		{"invalid id", "c 1", nil, ledgerapi.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(f, research, func(ctx ctxT) ([]ledgerapi.ConsentVersion, error) { return new(Consents).History(ctx, tc.id) })
			wantErr(t, err, tc.err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("history = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestGrantHasOneMeaning: a signed grant whose bytes could be read two ways
// (a key in another case, a key given twice) is refused, and nothing is
// stored: what the patient was shown is what the ledger acts on.
func TestGrantHasOneMeaning(t *testing.T) {
	f := newFixture()
	alice := newPatient("alice")
	f.register(t, alice)
	base := `{"op":"consent.grant","nonce":%d,"patientId":"alice","consentId":"c1","grantee":{"kind":"user","id":"ProvidersMSP/dr-who"},` +
		`"categories":["labs"],"purposes":["treatment"],"recordIds":[],"notBefore":"","expiresAt":""%s}`
	for i, tc := range []struct {
		name, extra, replaceFrom, replaceTo string
	}{
		{name: "grantee given twice", extra: `,"grantee":{"kind":"org","id":"EvilClinicMSP"}`},
		{name: "a category key in capitals", replaceFrom: `"categories"`, replaceTo: `"Categories"`},
		{name: "a nested key in another case", replaceFrom: `"kind":"user"`, replaceTo: `"Kind":"user"`},
		{name: "a case-changed twin after the key", extra: `,"Purposes":["research"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := fmt.Sprintf(base, i+1, tc.extra)
			if tc.replaceFrom != "" {
				payload = strings.Replace(payload, tc.replaceFrom, tc.replaceTo, 1)
			}
			_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Consent, error) {
				return new(Consents).Grant(ctx, payload, signRaw(alice, payload))
			})
			wantErr(t, err, ledgerapi.ErrInvalid)
			if _, err := run(f, research, func(ctx ctxT) (*ledgerapi.Consent, error) { return new(Consents).Get(ctx, "c1") }); !errors.Is(err, ledgerapi.ErrNotFound) {
				t.Fatalf("a refused grant left a consent: %v", err)
			}
		})
	}
}
