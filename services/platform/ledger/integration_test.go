//go:build integration

package ledger_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/ledger"
)

// These tests run against the network that `test-network/network.sh up`
// started (make test-integration does that); devenv finds its description.

func dial(t testing.TB, org string) *ledger.Client {
	t.Helper()
	cfg, err := ledger.ConfigFromNetworkFile(devenv.DefaultPath(), org)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ledger.Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// unique makes ids that do not collide with earlier runs on a long-lived network.
func unique(prefix string) string {
	return prefix + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

func newPatient(t testing.TB) *patientkey.Key {
	t.Helper()
	k, err := patientkey.Generate(unique("pat"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// must unwraps a signed payload; signing only fails on a programming error.
func must(s ledger.Signed, err error) ledger.Signed {
	if err != nil {
		panic(err)
	}
	return s
}

func wantRejected(t *testing.T, err error, contains string) {
	t.Helper()
	if !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("want ErrRejected, got %v", err)
	}
	if !strings.Contains(strings.ToLower(err.Error()), contains) {
		t.Fatalf("want an error that mentions %q, got %v", contains, err)
	}
}

func TestConsentLifecycle(t *testing.T) {
	ctx := testContext(t)
	providers := dial(t, "providers")
	p := newPatient(t)
	clinician := unique("dr")

	// A listener started before the grant sees the grant's event.
	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	events, err := providers.Events(evCtx, 0)
	if err != nil {
		t.Fatal(err)
	}

	reg, err := providers.RegisterPatient(ctx, must(p.Register()))
	if err != nil {
		t.Fatal(err)
	}
	if reg.PatientID != p.PatientID() || reg.PublicKey != p.PublicKey() {
		t.Fatalf("registered %+v, want id %s and the patient's key", reg, p.PatientID())
	}
	t.Run("registering twice is refused", func(t *testing.T) {
		_, err := providers.RegisterPatient(ctx, must(p.Register()))
		wantRejected(t, err, "already")
	})

	grant := ledgerapi.ConsentGrant{
		ConsentID:  unique("consent"),
		Grantee:    ledgerapi.Grantee{Kind: "user", ID: clinician},
		Categories: []string{"labs", "conditions"},
		Purposes:   []string{"treatment"},
	}
	signedGrant := must(p.Grant(grant))
	consent, err := providers.GrantConsent(ctx, signedGrant)
	if err != nil {
		t.Fatal(err)
	}
	if consent.Status != "active" || consent.ConsentID != grant.ConsentID {
		t.Fatalf("granted consent %+v, want active %s", consent, grant.ConsentID)
	}

	t.Run("the grant's event reaches a listener", func(t *testing.T) {
		for {
			select {
			case e := <-events:
				if e.Name != "ConsentGranted" {
					continue
				}
				var c ledgerapi.Consent
				if err := json.Unmarshal(e.Payload, &c); err != nil {
					t.Fatalf("event payload: %v", err)
				}
				if c.ConsentID == grant.ConsentID {
					return
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no ConsentGranted event for the grant within 30s")
			}
		}
	})

	check := func(category, purpose string) ledgerapi.Decision {
		t.Helper()
		d, err := providers.Check(ctx, ledger.CheckQuery{
			PatientID: p.PatientID(), SubjectID: clinician, SubjectOrg: "ProvidersMSP",
			Category: category, Purpose: purpose,
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Run("check", func(t *testing.T) {
		tests := map[string]struct {
			category, purpose string
			allowed           bool
		}{
			"granted category and purpose": {"labs", "treatment", true},
			"other granted category":       {"conditions", "treatment", true},
			"category not granted":         {"imaging", "treatment", false},
			"purpose not granted":          {"labs", "research", false},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				d := check(tc.category, tc.purpose)
				if d.Allowed != tc.allowed {
					t.Fatalf("decision %+v, want allowed=%v", d, tc.allowed)
				}
				if d.Allowed && d.ConsentID != grant.ConsentID {
					t.Fatalf("allowed by %q, want %q", d.ConsentID, grant.ConsentID)
				}
				if !d.Allowed && d.Reason == "" {
					t.Fatal("a denial carries no reason")
				}
			})
		}
	})

	t.Run("forged grant is refused", func(t *testing.T) {
		forger, err := patientkey.Generate(p.PatientID()) // same patient id, another key
		if err != nil {
			t.Fatal(err)
		}
		forger.SetNonce(1000)
		g := grant
		g.ConsentID = unique("forged")
		_, err = providers.GrantConsent(ctx, must(forger.Grant(g)))
		wantRejected(t, err, "signature")
	})

	t.Run("replayed grant is refused", func(t *testing.T) {
		_, err := providers.GrantConsent(ctx, signedGrant) // accepted once already
		wantRejected(t, err, "nonce")
	})

	t.Run("research organisation cannot relay consent changes", func(t *testing.T) {
		research := dial(t, "research")
		g := grant
		g.ConsentID = unique("from-research")
		_, err := research.GrantConsent(ctx, must(p.Grant(g)))
		wantRejected(t, err, "researchmsp")
	})

	t.Run("lists", func(t *testing.T) {
		byPatient, err := providers.ConsentsByPatient(ctx, p.PatientID(), 10, "")
		if err != nil {
			t.Fatal(err)
		}
		byGrantee, err := providers.ConsentsByGrantee(ctx, "user", clinician, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		for name, page := range map[string]ledgerapi.ConsentPage{"by patient": byPatient, "by grantee": byGrantee} {
			if len(page.Items) != 1 || page.Items[0].ConsentID != grant.ConsentID {
				t.Errorf("%s: %+v, want exactly %s", name, page.Items, grant.ConsentID)
			}
		}
	})

	revoked, err := providers.RevokeConsent(ctx, must(p.Revoke(grant.ConsentID)))
	if err != nil {
		t.Fatal(err)
	}
	if revoked.Status != "revoked" {
		t.Fatalf("after revoke: %+v", revoked)
	}
	t.Run("check after revoke is denied", func(t *testing.T) {
		d := check("labs", "treatment")
		if d.Allowed || !strings.Contains(d.Reason, "revoked") {
			t.Fatalf("decision after revoke %+v, want denied as revoked", d)
		}
	})
	t.Run("history has the grant and the revoke", func(t *testing.T) {
		h, err := providers.ConsentHistory(ctx, grant.ConsentID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[0].Consent.Status != "active" || h[1].Consent.Status != "revoked" {
			t.Fatalf("history %+v, want active then revoked", h)
		}
	})
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestNotary(t *testing.T) {
	ctx := testContext(t)
	providers := dial(t, "providers")
	p := newPatient(t)
	if _, err := providers.RegisterPatient(ctx, must(p.Register())); err != nil {
		t.Fatal(err)
	}
	recordID, patientID := unique("rec"), p.PatientID()
	v1, v2 := []byte(`{"resourceType":"Observation","v":1}`), []byte(`{"resourceType":"Observation","v":2}`)

	n1, err := providers.Notarize(ctx, ledgerapi.Notarization{
		RecordID: recordID, PatientID: patientID, SHA256: digest(v1), Category: "labs", Author: "dr-a", Version: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n1.TxID == "" || n1.Timestamp == "" {
		t.Fatalf("notarization has no transaction id or time: %+v", n1)
	}
	if _, err := providers.Notarize(ctx, ledgerapi.Notarization{
		RecordID: recordID, PatientID: patientID, SHA256: digest(v2), Category: "labs", Author: "dr-a",
		Version: 2, PreviousSHA256: digest(v1),
	}); err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		hash    string
		match   bool
		version int
	}{
		"first version matches":  {digest(v1), true, 1},
		"second version matches": {digest(v2), true, 2},
		"altered bytes mismatch": {digest([]byte(`{"resourceType":"Observation","v":3}`)), false, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := providers.Verify(ctx, recordID, tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			if r.Match != tc.match || r.Notarization.Version != tc.version {
				t.Fatalf("verify: %+v, want match=%v version=%d", r, tc.match, tc.version)
			}
		})
	}
	t.Run("a version that does not follow the latest is refused", func(t *testing.T) {
		_, err := providers.Notarize(ctx, ledgerapi.Notarization{
			RecordID: recordID, PatientID: patientID, SHA256: digest([]byte("x")), Category: "labs",
			Author: "dr-a", Version: 3, PreviousSHA256: digest(v1),
		})
		wantRejected(t, err, "previous")
	})
	t.Run("history", func(t *testing.T) {
		h, err := providers.RecordHistory(ctx, recordID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[1].PreviousSHA256 != h[0].SHA256 {
			t.Fatalf("history %+v, want two linked versions", h)
		}
	})
}

func TestDevicesAnchorsAccessLogAndDatasets(t *testing.T) {
	ctx := testContext(t)
	providers, research := dial(t, "providers"), dial(t, "research")
	p := newPatient(t)
	if _, err := providers.RegisterPatient(ctx, must(p.Register())); err != nil {
		t.Fatal(err)
	}

	devicePublic, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	deviceID := unique("watch")
	dev, err := providers.RegisterDevice(ctx,
		must(p.RegisterDevice(deviceID, base64.StdEncoding.EncodeToString(devicePublic))))
	if err != nil {
		t.Fatal(err)
	}
	if dev.Status != "active" || dev.PatientID != p.PatientID() {
		t.Fatalf("device %+v", dev)
	}

	t.Run("anchor", func(t *testing.T) {
		a := ledgerapi.Anchor{
			BatchID: unique("batch"), PatientID: p.PatientID(), DeviceID: deviceID, Root: digest([]byte("root")),
			Count: 60, From: "2026-11-21T10:00:00Z", To: "2026-11-21T10:00:59Z",
		}
		if _, err := providers.Anchor(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, err := research.AnchorOf(ctx, a.BatchID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Root != a.Root || got.Count != a.Count || got.TxID == "" {
			t.Fatalf("anchor read back %+v, want root %s count %d", got, a.Root, a.Count)
		}
	})

	t.Run("access events", func(t *testing.T) {
		events := []ledgerapi.AccessEvent{
			{EventID: unique("ev1"), Actor: "dr-a", ActorOrg: "ProvidersMSP", PatientID: p.PatientID(), Action: "read",
				Resource: "record/r1", Purpose: "treatment", Decision: "allow", Time: "2026-11-21T10:00:00Z"},
			{EventID: unique("ev2"), Actor: "dr-b", ActorOrg: "ProvidersMSP", PatientID: p.PatientID(), Action: "read",
				Resource: "record/r1", Purpose: "emergency", Decision: "allow", BreakGlass: true,
				Reason: "unconscious in ER", Time: "2026-11-21T10:01:00Z"},
		}
		r, err := providers.AppendAccessEvents(ctx, events)
		if err != nil {
			t.Fatal(err)
		}
		if r.Appended != 2 || r.Duplicates != 0 {
			t.Fatalf("append: %+v", r)
		}
		again, err := providers.AppendAccessEvents(ctx, events)
		if err != nil {
			t.Fatal(err)
		}
		if again.Appended != 0 || again.Duplicates != 2 {
			t.Fatalf("re-append: %+v, want 2 duplicates", again)
		}
		page, err := providers.AccessEvents(ctx, p.PatientID(), 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 2 || page.Items[0].EventID != events[0].EventID || !page.Items[1].BreakGlass {
			t.Fatalf("listed %+v, want the two events in time order", page.Items)
		}
	})

	t.Run("dataset release", func(t *testing.T) {
		consentID := unique("research")
		if _, err := providers.GrantConsent(ctx, must(p.Grant(ledgerapi.ConsentGrant{
			ConsentID: consentID, Grantee: ledgerapi.Grantee{Kind: "org", ID: "ResearchMSP"},
			Categories: []string{"vitals"}, Purposes: []string{"research"},
		}))); err != nil {
			t.Fatal(err)
		}
		release := ledgerapi.DatasetReleaseRequest{
			DatasetID: unique("ds"), SHA256: digest([]byte("dataset")), StudyID: "study-1",
			Researcher: "res-a", CohortSize: 1, K: 2, ConsentIDs: []string{consentID},
		}
		if _, err := providers.RecordDatasetRelease(ctx, release); !errors.Is(err, ledger.ErrRejected) {
			t.Fatalf("providers recording a release: %v, want ErrRejected", err)
		}
		got, err := research.RecordDatasetRelease(ctx, release)
		if err != nil {
			t.Fatal(err)
		}
		if got.ConsentSetSHA256 != digest([]byte(consentID)) || got.TxID == "" {
			t.Fatalf("release %+v, want the consent set hash of the one consent", got)
		}
	})
}

func TestErasure(t *testing.T) {
	ctx := testContext(t)
	providers, research := dial(t, "providers"), dial(t, "research")
	p := newPatient(t)
	clinician := unique("dr")

	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	events, err := providers.Events(evCtx, 0)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := providers.RegisterPatient(ctx, must(p.Register())); err != nil {
		t.Fatal(err)
	}
	grant := ledgerapi.ConsentGrant{
		ConsentID:  unique("consent"),
		Grantee:    ledgerapi.Grantee{Kind: "user", ID: clinician},
		Categories: []string{"labs"},
		Purposes:   []string{"treatment"},
	}
	if _, err := providers.GrantConsent(ctx, must(p.Grant(grant))); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) ledgerapi.Decision {
		t.Helper()
		d, err := research.Check(ctx, ledger.CheckQuery{
			PatientID: p.PatientID(), SubjectID: clinician, Category: "labs", Purpose: "treatment",
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := check(t); !d.Allowed || d.ConsentID != grant.ConsentID {
		t.Fatalf("before the erasure: %+v, want allowed by %s", d, grant.ConsentID)
	}

	erasure := ledgerapi.Erasure{PatientID: p.PatientID(), ErasureID: unique("erasure"), ObjectsDeleted: 3, KeyID: unique("key")}
	t.Run("research organisation cannot record an erasure", func(t *testing.T) {
		_, err := research.RecordErasure(ctx, erasure)
		wantRejected(t, err, "researchmsp")
		if !errors.Is(err, ledgerapi.ErrForbidden) {
			t.Fatalf("want ledgerapi.ErrForbidden, got %v", err)
		}
		if _, err := providers.Erasure(ctx, p.PatientID()); !errors.Is(err, ledgerapi.ErrNotFound) {
			t.Fatalf("erasure after a refused record: %v, want not found", err)
		}
	})

	recorded, err := providers.RecordErasure(ctx, erasure)
	if err != nil {
		t.Fatal(err)
	}
	want := erasure
	want.TxID, want.Timestamp = recorded.TxID, recorded.Timestamp
	if recorded != want || recorded.TxID == "" {
		t.Fatalf("recorded %+v, want %+v with a transaction id", recorded, erasure)
	}
	if _, err := time.Parse(time.RFC3339Nano, recorded.Timestamp); err != nil {
		t.Fatalf("timestamp %q: %v", recorded.Timestamp, err)
	}

	t.Run("get returns it", func(t *testing.T) {
		for name, c := range map[string]*ledger.Client{"providers": providers, "research": research} {
			got, err := c.Erasure(ctx, p.PatientID())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got != recorded {
				t.Fatalf("%s read %+v, want %+v", name, got, recorded)
			}
		}
	})

	t.Run("the erasure's event reaches a listener", func(t *testing.T) {
		for {
			select {
			case e := <-events:
				if e.Name != "PatientErased" {
					continue
				}
				var got ledgerapi.Erasure
				if err := json.Unmarshal(e.Payload, &got); err != nil {
					t.Fatalf("event payload: %v", err)
				}
				if got.PatientID == p.PatientID() {
					if got != recorded || e.TransactionID != recorded.TxID {
						t.Fatalf("event %+v in tx %s, want %+v", got, e.TransactionID, recorded)
					}
					return
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no PatientErased event for the erasure within 30s")
			}
		}
	})

	t.Run("check is denied as erased", func(t *testing.T) {
		d := check(t)
		if wantReason := "patient " + p.PatientID() + " has been erased"; d.Allowed || d.Reason != wantReason {
			t.Fatalf("decision %+v, want denied with reason %q", d, wantReason)
		}
	})

	t.Run("a new consent is refused", func(t *testing.T) {
		g := grant
		g.ConsentID = unique("after-erasure")
		_, err := providers.GrantConsent(ctx, must(p.Grant(g)))
		wantRejected(t, err, "has been erased")
		if !errors.Is(err, ledgerapi.ErrForbidden) {
			t.Fatalf("want ledgerapi.ErrForbidden, got %v", err)
		}
	})

	t.Run("recording the same erasure again is accepted", func(t *testing.T) {
		again, err := providers.RecordErasure(ctx, erasure)
		if err != nil {
			t.Fatal(err)
		}
		if again != recorded {
			t.Fatalf("repeat returned %+v, want the erasure first recorded %+v", again, recorded)
		}
	})

	t.Run("a different erasure is refused", func(t *testing.T) {
		tests := map[string]struct {
			edit   func(e *ledgerapi.Erasure)
			reason error
		}{
			"same erasure id, other content": {func(e *ledgerapi.Erasure) { e.ObjectsDeleted = 4 }, ledgerapi.ErrConflict},
			"another erasure id":             {func(e *ledgerapi.Erasure) { e.ErasureID = unique("erasure") }, ledgerapi.ErrExists},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				e := erasure
				tc.edit(&e)
				_, err := providers.RecordErasure(ctx, e)
				if !errors.Is(err, ledger.ErrRejected) || !errors.Is(err, tc.reason) {
					t.Fatalf("got %v, want ErrRejected for %v", err, tc.reason)
				}
			})
		}
		if got, err := providers.Erasure(ctx, p.PatientID()); err != nil || got != recorded {
			t.Fatalf("after refused records: %+v, %v; want %+v unchanged", got, err, recorded)
		}
	})
}
