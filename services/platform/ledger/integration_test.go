//go:build integration

package ledger_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/ledger"
)

// These tests run against the network that `test-network/network.sh up`
// started (make test-integration does that); devenv finds its description.

func dial(t testing.TB, org string) *ledger.Client {
	t.Helper()
	return itest.Ledger(t, devenv.DefaultPath(), org)
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
		Grantee:    ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, clinician),
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

	t.Run("any member may relay the patient's signed change: the signature decides", func(t *testing.T) {
		pharmacy := dial(t, "pharmacy")
		g := grant
		g.ConsentID = unique("via-pharmacy")
		g.Grantee = ledgerapi.Grantee{Kind: "org", ID: ledgerapi.PharmacyMSP}
		g.Categories = []string{"prescriptions"}
		if _, err := pharmacy.GrantConsent(ctx, must(p.Grant(g))); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("lists", func(t *testing.T) {
		byPatient, err := providers.ConsentsByPatient(ctx, p.PatientID(), 10, "")
		if err != nil {
			t.Fatal(err)
		}
		byGrantee, err := providers.ConsentsByGrantee(ctx, "user", ledgerapi.ProvidersMSP+"/"+clinician, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(byGrantee.Items) != 1 || byGrantee.Items[0].ConsentID != grant.ConsentID {
			t.Errorf("by grantee: %+v, want exactly %s", byGrantee.Items, grant.ConsentID)
		}
		if len(byPatient.Items) != 2 {
			t.Errorf("by patient: %+v, want the grant and the one relayed by the pharmacy", byPatient.Items)
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
	letFile(t, providers, p, ledgerapi.ProvidersMSP)
	recordID, patientID := unique("rec"), p.PatientID()
	v1, v2 := []byte(`{"resourceType":"Observation","v":1}`), []byte(`{"resourceType":"Observation","v":2}`)

	n1, err := providers.Notarize(ctx, ledgerapi.Notarization{
		RecordID: recordID, PatientID: patientID, SHA256: digest(v1), Category: "labs", Version: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n1.TxID == "" || n1.Timestamp == "" || n1.Org != ledgerapi.ProvidersMSP || n1.Author == "" {
		t.Fatalf("notarization has no transaction id, time, filing organisation or author: %+v", n1)
	}
	if _, err := providers.Notarize(ctx, ledgerapi.Notarization{
		RecordID: recordID, PatientID: patientID, SHA256: digest(v2), Category: "labs",
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
			Version: 3, PreviousSHA256: digest(v1),
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
			{EventID: unique("ev1"), Actor: "dr-a", ActorRole: "clinician", ActorOrg: "ProvidersMSP", PatientID: p.PatientID(), Action: "read",
				Resource: "record/r1", Purpose: "treatment", Decision: "allow", ReasonCodes: []string{"consent"}, Time: "2026-11-21T10:00:00Z"},
			{EventID: unique("ev2"), Actor: "dr-b", ActorRole: "clinician", ActorOrg: "ProvidersMSP", PatientID: p.PatientID(), Action: "read",
				Resource: "record/r1", Purpose: "emergency", Decision: "allow", BreakGlass: true, BreakGlassRef: digest([]byte("keyed")),
				ReasonCodes: []string{"break-glass"}, Time: "2026-11-21T10:01:00Z"},
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
	providers, research, stMarys := dial(t, "providers"), dial(t, "research"), dial(t, "stmarys")
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
		Grantee:    ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, clinician),
		Categories: []string{"labs"},
		Purposes:   []string{"treatment"},
	}
	if _, err := providers.GrantConsent(ctx, must(p.Grant(grant))); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) ledgerapi.Decision {
		t.Helper()
		d, err := research.Check(ctx, ledger.CheckQuery{
			PatientID: p.PatientID(), SubjectID: clinician, SubjectOrg: ledgerapi.ProvidersMSP, Category: "labs", Purpose: "treatment",
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := check(t); !d.Allowed || d.ConsentID != grant.ConsentID {
		t.Fatalf("before the erasure: %+v, want allowed by %s", d, grant.ConsentID)
	}
	notErased := func(t *testing.T) {
		t.Helper()
		if _, err := providers.Erasure(ctx, p.PatientID()); !errors.Is(err, ledgerapi.ErrNotFound) {
			t.Fatalf("erasure after a refused request: %v, want not found", err)
		}
		if d := check(t); !d.Allowed {
			t.Fatalf("after a refused request the consent no longer allows: %+v", d)
		}
	}

	t.Run("without the patient's signature: another key's", func(t *testing.T) {
		thief, err := patientkey.Generate(p.PatientID())
		if err != nil {
			t.Fatal(err)
		}
		thief.SetNonce(p.Nonce() + 100)
		_, err = providers.RequestErasure(ctx, must(thief.Erase(unique("erasure"))))
		wantRejected(t, err, "signature")
		notErased(t)
	})
	t.Run("with another patient's signature", func(t *testing.T) {
		other := newPatient(t)
		if _, err := providers.RegisterPatient(ctx, must(other.Register())); err != nil {
			t.Fatal(err)
		}
		req := must(other.Erase(unique("erasure")))
		forged := strings.Replace(req.Payload, other.PatientID(), p.PatientID(), 1)
		_, err := providers.RequestErasure(ctx, ledger.Signed{Payload: forged, Signature: req.Signature})
		wantRejected(t, err, "signature")
		notErased(t)
	})
	t.Run("with a replayed signature: a grant's nonce spent", func(t *testing.T) {
		stale, err := patientkey.Generate(p.PatientID())
		if err != nil {
			t.Fatal(err)
		}
		_ = stale
		// The patient's own request signed with a nonce already used.
		replay := patientkeyWithNonce(t, p, 0)
		_, err = providers.RequestErasure(ctx, must(replay.Erase(unique("erasure"))))
		wantRejected(t, err, "nonce")
		notErased(t)
	})

	erasureID := unique("erasure")
	request := must(p.Erase(erasureID))
	requested, err := stMarys.RequestErasure(ctx, request)
	if err != nil {
		t.Fatal(err)
	}
	if requested.Status != ledgerapi.ErasureRequested || requested.RequestedBy != ledgerapi.StMarysMSP || requested.RequestTxID == "" {
		t.Fatalf("requested %+v", requested)
	}

	t.Run("relaying the same signed request again returns it", func(t *testing.T) {
		again, err := providers.RequestErasure(ctx, request)
		if err != nil || again.RequestTxID != requested.RequestTxID {
			t.Fatalf("repeat = %+v, %v; want the erasure first requested", again, err)
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
					if got.ErasureID != erasureID || e.TransactionID != requested.RequestTxID {
						t.Fatalf("event %+v in tx %s, want the request %+v", got, e.TransactionID, requested)
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
	})

	counts := ledgerapi.ErasureCounts{RecordObjects: 3, WearableObjects: 7, KeyID: unique("key")}
	t.Run("only the relaying organisation completes it", func(t *testing.T) {
		_, err := providers.CompleteErasure(ctx, p.PatientID(), erasureID, counts)
		wantRejected(t, err, "stmarysmsp")
	})
	done, err := stMarys.CompleteErasure(ctx, p.PatientID(), erasureID, counts)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != ledgerapi.ErasureCompleted || *done.Counts != counts || done.CompleteTxID == "" {
		t.Fatalf("completed %+v", done)
	}
	t.Run("completing again with other counts conflicts", func(t *testing.T) {
		other := counts
		other.RecordObjects = 4
		_, err := stMarys.CompleteErasure(ctx, p.PatientID(), erasureID, other)
		wantRejected(t, err, "conflicts")
	})
	t.Run("every member reads it", func(t *testing.T) {
		for name, c := range map[string]*ledger.Client{"providers": providers, "research": research, "stmarys": stMarys} {
			got, err := c.Erasure(ctx, p.PatientID())
			if err != nil || got.Status != ledgerapi.ErasureCompleted || *got.Counts != counts {
				t.Fatalf("%s read %+v, %v", name, got, err)
			}
		}
	})
}

// patientkeyWithNonce is a copy of p's key whose next change carries nonce
// n+1 (a device that did not read the ledger's nonce).
func patientkeyWithNonce(t *testing.T, p *patientkey.Key, n uint64) *patientkey.Key {
	t.Helper()
	path := t.TempDir() + "/key.json"
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	f["lastNonce"] = n
	raw, _ = json.Marshal(f)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := patientkey.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// letFile has the patient let an organisation file their records of every
// category (a consent to the organisation, for treatment).
func letFile(t *testing.T, relay *ledger.Client, p *patientkey.Key, org string) {
	t.Helper()
	if _, err := relay.GrantConsent(testContext(t), must(p.Grant(ledgerapi.ConsentGrant{
		ConsentID: unique("filing"), Grantee: ledgerapi.Grantee{Kind: "org", ID: org},
		Categories: ledgerapi.Categories, Purposes: []string{"treatment"},
	}))); err != nil {
		t.Fatal(err)
	}
}

// The hashes a follower ties its snapshot to: each block's header hash, as
// computed here, is what the next block names as its previous hash, and
// what the peer answers for that block number.
func TestBlockHashes(t *testing.T) {
	ctx := testContext(t)
	c := dial(t, "providers")
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	blocks, err := c.Blocks(streamCtx, ledger.Checkpoint{})
	if err != nil {
		t.Fatal(err)
	}
	var got []ledger.Block
	for b := range blocks {
		got = append(got, b)
		if len(got) == 3 {
			break
		}
	}
	if len(got) != 3 {
		t.Fatalf("read %d blocks", len(got))
	}
	for i, b := range got {
		if b.Number != uint64(i) {
			t.Fatalf("block %d numbered %d", i, b.Number)
		}
		if i > 0 && !bytes.Equal(b.PreviousHash, got[i-1].Hash) {
			t.Fatalf("block %d's previous hash %x, block %d's hash %x", i, b.PreviousHash, i-1, got[i-1].Hash)
		}
		h, err := c.BlockHash(ctx, b.Number)
		if err != nil || !bytes.Equal(h, b.Hash) {
			t.Fatalf("BlockHash(%d) = %x, %v; want %x", b.Number, h, err, b.Hash)
		}
	}
	if _, err := c.BlockHash(ctx, 1<<40); err == nil {
		t.Fatal("a block past the chain's end has a hash")
	}
}
