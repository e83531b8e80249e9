//go:build integration

package ledger_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/ledger"
)

// These tests are the ledger's trust model tried as an attacker would: each
// organisation's client is a member of the channel and can submit anything
// the chaincode exposes, so every rule that keeps one organisation from
// acting for another, or for a patient, must hold on the peers themselves.

// relay signs raw payload bytes with the patient's key, as a client that
// builds its own JSON would.
func relay(k *patientkey.Key, payload string) ledger.Signed {
	return ledger.Signed{Payload: payload, Signature: k.SignRaw(payload)}
}

func registered(t *testing.T, c *ledger.Client) *patientkey.Key {
	t.Helper()
	p := newPatient(t)
	if _, err := c.RegisterPatient(testContext(t), must(p.Register())); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOrganisationsWithoutPeersReachTheChaincode(t *testing.T) {
	ctx := testContext(t)
	for _, org := range []struct{ name, msp string }{
		{"stmarys", ledgerapi.StMarysMSP}, {"pharmacy", ledgerapi.PharmacyMSP}, {"insurer", ledgerapi.InsurerMSP},
	} {
		t.Run(org.name, func(t *testing.T) {
			c := dial(t, org.name)
			if c.MSPID() != org.msp {
				t.Fatalf("client MSP %s, want %s", c.MSPID(), org.msp)
			}
			p := registered(t, c)
			ev := ledgerapi.AccessEvent{EventID: unique("ev"), Actor: "staff-1", ActorRole: "clinician", ActorOrg: org.msp,
				PatientID: p.PatientID(), Action: "read", Resource: "category/labs", Purpose: "treatment", Decision: "deny",
				ReasonCodes: []string{"no-consent"}, Time: ledgerapi.FormatTime(time.Now())}
			if _, err := c.AppendAccessEvents(ctx, []ledgerapi.AccessEvent{ev}); err != nil {
				t.Fatal(err)
			}
			page, err := c.AccessEvents(ctx, p.PatientID(), 10, "")
			if err != nil || len(page.Items) != 1 || page.Items[0].RecordedBy != org.msp {
				t.Fatalf("events %+v, %v; want one recorded by %s", page.Items, err, org.msp)
			}
		})
	}
}

func TestAnotherHospitalCannotFileForTheOne(t *testing.T) {
	ctx := testContext(t)
	providers, stmarys := dial(t, "providers"), dial(t, "stmarys")
	p := registered(t, providers)
	letFile(t, providers, p, ledgerapi.ProvidersMSP)
	recordID := unique("rec")
	v1 := ledgerapi.Notarization{RecordID: recordID, PatientID: p.PatientID(), SHA256: digest([]byte("v1")), Category: "labs", Version: 1}
	if _, err := providers.Notarize(ctx, v1); err != nil {
		t.Fatal(err)
	}
	v2 := ledgerapi.Notarization{RecordID: recordID, PatientID: p.PatientID(), SHA256: digest([]byte("forged")), Category: "labs",
		Version: 2, PreviousSHA256: v1.SHA256}

	t.Run("a version of another hospital's record", func(t *testing.T) {
		_, err := stmarys.Notarize(ctx, v2)
		wantRejected(t, err, "may not file")
	})
	t.Run("a first version without the patient's consent", func(t *testing.T) {
		_, err := stmarys.Notarize(ctx, ledgerapi.Notarization{RecordID: unique("rec"), PatientID: p.PatientID(),
			SHA256: digest([]byte("x")), Category: "labs", Version: 1})
		wantRejected(t, err, "may not file")
	})
	t.Run("a consent to one doctor lets nobody file", func(t *testing.T) {
		if _, err := stmarys.GrantConsent(ctx, must(p.Grant(ledgerapi.ConsentGrant{ConsentID: unique("c"),
			Grantee: ledgerapi.UserGrantee(ledgerapi.StMarysMSP, "dr-at-stmarys"), Categories: []string{"labs"}, Purposes: []string{"treatment"}}))); err != nil {
			t.Fatal(err)
		}
		_, err := stmarys.Notarize(ctx, ledgerapi.Notarization{RecordID: unique("rec"), PatientID: p.PatientID(),
			SHA256: digest([]byte("y")), Category: "labs", Version: 1})
		wantRejected(t, err, "may not file")
	})
	t.Run("a category the consent does not cover", func(t *testing.T) {
		if _, err := stmarys.GrantConsent(ctx, must(p.Grant(ledgerapi.ConsentGrant{ConsentID: unique("c"),
			Grantee: ledgerapi.Grantee{Kind: "org", ID: ledgerapi.StMarysMSP}, Categories: []string{"imaging"}, Purposes: []string{"treatment"}}))); err != nil {
			t.Fatal(err)
		}
		_, err := stmarys.Notarize(ctx, ledgerapi.Notarization{RecordID: unique("rec"), PatientID: p.PatientID(),
			SHA256: digest([]byte("z")), Category: "labs", Version: 1})
		wantRejected(t, err, "may not file")
		n, err := stmarys.Notarize(ctx, ledgerapi.Notarization{RecordID: unique("rec"), PatientID: p.PatientID(),
			SHA256: digest([]byte("scan")), Category: "imaging", Version: 1})
		if err != nil || n.Org != ledgerapi.StMarysMSP {
			t.Fatalf("St Mary's filing a consented category: %+v, %v", n, err)
		}
	})
	t.Run("the filing hospital's own next version", func(t *testing.T) {
		n, err := providers.Notarize(ctx, v2)
		if err != nil || n.Org != ledgerapi.ProvidersMSP || n.Version != 2 {
			t.Fatalf("providers' version 2: %+v, %v", n, err)
		}
	})
}

func TestAccessEventsOnlyForOnesOwnPeople(t *testing.T) {
	ctx := testContext(t)
	providers, stmarys := dial(t, "providers"), dial(t, "stmarys")
	p := registered(t, providers)
	event := func(org string) ledgerapi.AccessEvent {
		return ledgerapi.AccessEvent{EventID: unique("ev"), Actor: "dr-x", ActorRole: "clinician", ActorOrg: org, PatientID: p.PatientID(),
			Action: "read", Resource: "category/labs", Purpose: "treatment", Decision: "allow", ReasonCodes: []string{"consent"},
			Time: ledgerapi.FormatTime(time.Now())}
	}
	t.Run("claiming another organisation's clinician", func(t *testing.T) {
		_, err := stmarys.AppendAccessEvents(ctx, []ledgerapi.AccessEvent{event(ledgerapi.ProvidersMSP)})
		wantRejected(t, err, "may record only its own")
	})
	t.Run("one forged event spoils the batch", func(t *testing.T) {
		own, forged := event(ledgerapi.StMarysMSP), event(ledgerapi.ProvidersMSP)
		_, err := stmarys.AppendAccessEvents(ctx, []ledgerapi.AccessEvent{own, forged})
		wantRejected(t, err, "may record only its own")
		page, err := providers.AccessEvents(ctx, p.PatientID(), 10, "")
		if err != nil || len(page.Items) != 0 {
			t.Fatalf("after a refused batch: %+v, %v; want nothing recorded", page.Items, err)
		}
	})
	t.Run("rewriting a recorded event", func(t *testing.T) {
		e := event(ledgerapi.ProvidersMSP)
		if _, err := providers.AppendAccessEvents(ctx, []ledgerapi.AccessEvent{e}); err != nil {
			t.Fatal(err)
		}
		e.Decision = "deny"
		e.ReasonCodes = []string{"no-consent"}
		_, err := providers.AppendAccessEvents(ctx, []ledgerapi.AccessEvent{e})
		wantRejected(t, err, "different content")
	})
	t.Run("an event for a patient who does not exist", func(t *testing.T) {
		e := event(ledgerapi.ProvidersMSP)
		e.PatientID = unique("nobody")
		_, err := providers.AppendAccessEvents(ctx, []ledgerapi.AccessEvent{e})
		wantRejected(t, err, "not found")
	})
}

func TestAPayloadHasOneMeaning(t *testing.T) {
	ctx := testContext(t)
	providers := dial(t, "providers")
	p := registered(t, providers)
	nonce := uint64(time.Now().UnixMicro())
	grant := func(body string) string {
		nonce++
		return fmt.Sprintf(`{"op":"consent.grant","nonce":%d,"patientId":%q,%s}`, nonce, p.PatientID(), body)
	}
	for name, tc := range map[string]struct{ payload, want string }{
		"a key in another case": {grant(`"consentId":"c-case","grantee":{"kind":"user","id":"ProvidersMSP/dr-a"},"Categories":["labs"],"purposes":["treatment"]`),
			"unknown key"},
		"a key given twice": {grant(`"consentId":"c-twice","grantee":{"kind":"user","id":"ProvidersMSP/dr-a"},"categories":["labs"],"categories":["genomics"],"purposes":["treatment"]`),
			"given twice"},
		"an unknown key": {grant(`"consentId":"c-unknown","grantee":{"kind":"user","id":"ProvidersMSP/dr-a"},"categories":["labs"],"purposes":["treatment"],"admin":true`),
			"unknown key"},
		"invalid UTF-8": {grant(`"consentId":"c-utf","grantee":{"kind":"user","id":"ProvidersMSP/dr-` + "\xff" + `"},"categories":["labs"],"purposes":["treatment"]`),
			"utf-8"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := providers.GrantConsent(ctx, relay(p, tc.payload))
			wantRejected(t, err, tc.want)
		})
	}
	t.Run("the same grant, written plainly, is taken", func(t *testing.T) {
		c, err := providers.GrantConsent(ctx, relay(p, grant(`"consentId":"`+unique("c-plain")+`","grantee":{"kind":"user","id":"ProvidersMSP/dr-a"},"categories":["labs"],"purposes":["treatment"]`)))
		if err != nil || c.Status != "active" {
			t.Fatalf("plain grant: %+v, %v", c, err)
		}
	})
}

func TestTwoQuickPatientActions(t *testing.T) {
	ctx := testContext(t)
	providers, stmarys := dial(t, "providers"), dial(t, "stmarys")
	p := registered(t, providers)
	for i, relay := range []*ledger.Client{providers, stmarys, providers} {
		if _, err := relay.GrantConsent(ctx, must(p.Grant(ledgerapi.ConsentGrant{ConsentID: unique(fmt.Sprintf("quick%d", i)),
			Grantee: ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, "dr-a"), Categories: []string{"labs"}, Purposes: []string{"treatment"}}))); err != nil {
			t.Fatalf("action %d relayed by %s: %v", i, relay.MSPID(), err)
		}
	}
	page, err := providers.ConsentsByPatient(ctx, p.PatientID(), 10, "")
	if err != nil || len(page.Items) != 3 {
		t.Fatalf("consents %+v, %v; want 3", page.Items, err)
	}
}

func TestStolenKeyRotated(t *testing.T) {
	ctx := testContext(t)
	providers := dial(t, "providers")
	p := registered(t, providers)
	thief := patientkeyWithNonce(t, p, uint64(time.Now().UnixMicro())) // a copy of the key, as taken from a lost phone

	t.Run("a hospital cannot rotate the key on its own", func(t *testing.T) {
		own, err := patientkey.Generate(p.PatientID())
		if err != nil {
			t.Fatal(err)
		}
		own.SetNonce(uint64(time.Now().UnixMicro()) + 1e9)
		// Signed by the key it installs, not by the patient's.
		change, err := own.RotateTo(mustKey(t, p.PatientID()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = providers.RotateKey(ctx, change)
		wantRejected(t, err, "signature")
	})
	next := mustKey(t, p.PatientID())
	p.SetNonce(uint64(time.Now().UnixMicro()) + 2e9) // above the thief's copy
	change, err := p.RotateTo(next)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the new key must sign too", func(t *testing.T) {
		forged := change
		forged.NewKeySignature = p.SignRaw(change.Payload)
		_, err := providers.RotateKey(ctx, forged)
		wantRejected(t, err, "new key must sign")
	})
	rotated, err := providers.RotateKey(ctx, change)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.PublicKey != next.PublicKey() || rotated.KeyVersion != 2 || rotated.KeyChangedAt == "" {
		t.Fatalf("after rotation %+v", rotated)
	}
	t.Run("the thief's copy signs nothing", func(t *testing.T) {
		thief.SetNonce(uint64(time.Now().UnixMicro()) + 3e9)
		_, err := providers.GrantConsent(ctx, must(thief.Grant(ledgerapi.ConsentGrant{ConsentID: unique("thief"),
			Grantee: ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, "dr-thief"), Categories: ledgerapi.Categories, Purposes: []string{"treatment"}})))
		wantRejected(t, err, "signature")
		_, err = providers.RequestErasure(ctx, must(thief.Erase(unique("erase"))))
		wantRejected(t, err, "signature")
	})
	t.Run("the new key signs", func(t *testing.T) {
		if _, err := providers.GrantConsent(ctx, must(next.Grant(ledgerapi.ConsentGrant{ConsentID: unique("after"),
			Grantee: ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, "dr-a"), Categories: []string{"labs"}, Purposes: []string{"treatment"}}))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the history shows both keys", func(t *testing.T) {
		h, err := providers.PatientHistory(ctx, p.PatientID())
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, v := range h {
			if len(keys) == 0 || keys[len(keys)-1] != v.Patient.PublicKey {
				keys = append(keys, v.Patient.PublicKey)
			}
		}
		if len(keys) != 2 || keys[0] != p.PublicKey() || keys[1] != next.PublicKey() {
			t.Fatalf("keys in the history: %q", keys)
		}
	})
}

func mustKey(t *testing.T, patientID string) *patientkey.Key {
	t.Helper()
	k, err := patientkey.Generate(patientID)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLostKeyRecovered(t *testing.T) {
	ctx := testContext(t)
	providers, stmarys := dial(t, "providers"), dial(t, "stmarys")
	p := newPatient(t)
	recovery := mustKey(t, p.PatientID())
	const delay = 3 * time.Second
	if _, err := providers.RegisterPatient(ctx, must(p.RegisterWithRecovery(recovery.PublicKey(), delay))); err != nil {
		t.Fatal(err)
	}

	t.Run("a recovery the patient did not ask for is cancelled by their key", func(t *testing.T) {
		attacker := mustKey(t, p.PatientID())
		recovery.SetNonce(uint64(time.Now().UnixMicro()))
		change, err := recovery.RequestRecovery(attacker) // the recovery key was stolen
		if err != nil {
			t.Fatal(err)
		}
		pending, err := providers.RequestRecovery(ctx, change)
		if err != nil || pending.Recovery == nil || pending.Recovery.NewPublicKey != attacker.PublicKey() {
			t.Fatalf("pending %+v, %v", pending, err)
		}
		_, err = providers.CompleteRecovery(ctx, p.PatientID())
		wantRejected(t, err, "takes effect at")
		cancelled, err := stmarys.CancelRecovery(ctx, must(p.CancelRecovery()))
		if err != nil || cancelled.Recovery != nil {
			t.Fatalf("cancel %+v, %v", cancelled, err)
		}
		time.Sleep(delay + time.Second)
		_, err = providers.CompleteRecovery(ctx, p.PatientID())
		wantRejected(t, err, "no pending recovery")
	})
	t.Run("a hospital cannot request a recovery with a key of its own", func(t *testing.T) {
		own := mustKey(t, p.PatientID())
		own.SetNonce(uint64(time.Now().UnixMicro()))
		change, err := own.RequestRecovery(mustKey(t, p.PatientID()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = providers.RequestRecovery(ctx, change)
		wantRejected(t, err, "recovery key must sign")
	})

	next := mustKey(t, p.PatientID())
	recovery.SetNonce(uint64(time.Now().UnixMicro()))
	change, err := recovery.RequestRecovery(next)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := providers.RequestRecovery(ctx, change)
	if err != nil {
		t.Fatal(err)
	}
	effective, err := time.Parse(time.RFC3339Nano, pending.Recovery.EffectiveAt)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(effective) + time.Second)
	done, err := stmarys.CompleteRecovery(ctx, p.PatientID())
	if err != nil {
		t.Fatal(err)
	}
	if done.PublicKey != next.PublicKey() || done.Recovery != nil || done.KeyVersion != 2 {
		t.Fatalf("after recovery %+v", done)
	}
	t.Run("the lost key signs nothing", func(t *testing.T) {
		_, err := providers.GrantConsent(ctx, must(p.Grant(ledgerapi.ConsentGrant{ConsentID: unique("lost"),
			Grantee: ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, "dr-finder"), Categories: ledgerapi.Categories, Purposes: []string{"treatment"}})))
		wantRejected(t, err, "signature")
	})
	t.Run("the recovered key signs", func(t *testing.T) {
		next.SetNonce(done.Nonce)
		if _, err := providers.GrantConsent(ctx, must(next.Grant(ledgerapi.ConsentGrant{ConsentID: unique("recovered"),
			Grantee: ledgerapi.UserGrantee(ledgerapi.ProvidersMSP, "dr-a"), Categories: []string{"labs"}, Purposes: []string{"treatment"}}))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a replayed recovery request is refused", func(t *testing.T) {
		_, err := providers.RequestRecovery(ctx, change)
		wantRejected(t, err, "nonce")
	})
}

func TestNoOrganisationErasesAPatient(t *testing.T) {
	ctx := testContext(t)
	providers, insurer := dial(t, "providers"), dial(t, "insurer")
	p := registered(t, providers)
	t.Run("completing an erasure nobody requested", func(t *testing.T) {
		_, err := providers.CompleteErasure(ctx, p.PatientID(), unique("erase"), ledgerapi.ErasureCounts{})
		if !errors.Is(err, ledger.ErrRejected) {
			t.Fatalf("err = %v, want rejected", err)
		}
	})
	t.Run("a request signed by another key", func(t *testing.T) {
		forger := mustKey(t, p.PatientID())
		forger.SetNonce(uint64(time.Now().UnixMicro()))
		_, err := insurer.RequestErasure(ctx, must(forger.Erase(unique("erase"))))
		wantRejected(t, err, "signature")
	})
	e, err := insurer.RequestErasure(ctx, must(p.Erase(unique("erase"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("only the organisation that relayed the request completes it", func(t *testing.T) {
		_, err := providers.CompleteErasure(ctx, p.PatientID(), e.ErasureID, ledgerapi.ErasureCounts{})
		wantRejected(t, err, strings.ToLower(ledgerapi.InsurerMSP))
	})
	done, err := insurer.CompleteErasure(ctx, p.PatientID(), e.ErasureID, ledgerapi.ErasureCounts{RecordObjects: 0, WearableObjects: 0})
	if err != nil || done.Status != ledgerapi.ErasureCompleted {
		t.Fatalf("complete: %+v, %v", done, err)
	}
	raw, _ := json.Marshal(done)
	if !strings.Contains(string(raw), p.PatientID()) {
		t.Fatalf("erasure %s", raw)
	}
}
