package records

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"healthexchange/services/domain/shc"
)

// r4Example is an R4 example of the FHIR package's test data, made the
// patient's.
func r4Example(t *testing.T, name, patientID string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../domain/fhir/testdata/r4/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(raw, []byte("p-example"), []byte(patientID))
}

func withCards(t *testing.T, f *fixture) {
	t.Helper()
	cards, err := loadCardIssuers(t.TempDir(), "https://records.test", map[string]CardRegistrar{"ProvidersMSP": f.ledger, "PharmacyMSP": f.ledger})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.cards = cards
}

func TestHealthCard(t *testing.T) {
	f := newFixture(t)
	withCards(t, f)
	if len(f.svc.cards) != 1 || f.svc.cards["ProvidersMSP"] == nil {
		t.Fatalf("issuers %v: only hospitals issue cards", f.svc.cards)
	}
	ctx := testContext(t)
	imm := r4Example(t, "Immunization.json", "alice")
	rec := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: imm}).Record
	f.put(t, drWho, PutRequest{PatientID: "alice", Resource: r4Example(t, "Patient.json", "alice")})

	card, err := f.svc.IssueCard(ctx, alice, "alice", rec.RecordID, []string{"birthDate"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the card is a SMART Health Card of the filing hospital", func(t *testing.T) {
		c, err := shc.Decode(card.JWS)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := f.svc.JWKS(ctx, "ProvidersMSP")
		if err := c.Verify(keys); err != nil {
			t.Fatal(err)
		}
		if c.Payload.Issuer != "https://records.test/shc/ProvidersMSP" || card.Org != "ProvidersMSP" || c.Header.Kid != card.Kid {
			t.Fatalf("card %+v", c.Payload)
		}
		back, err := shc.FromNumeric(card.Numeric)
		if err != nil || back != card.JWS {
			t.Fatalf("numeric form: %v", err)
		}
	})
	t.Run("it holds what the patient chose, and no more", func(t *testing.T) {
		b := string(card.Bundle)
		for _, want := range []string{`"birthDate"`, `"vaccineCode"`, `"FLU-26A-0917"`, `"occurrenceDateTime"`, notarySystem, "Providers General Hospital"} {
			if !strings.Contains(b, want) {
				t.Errorf("bundle lacks %s: %s", want, b)
			}
		}
		for _, never := range []string{`"name"`, `"telecom"`, `"address"`, `"note"`, `"encounter"`, `"location"`, "alice"} {
			if strings.Contains(b, never) {
				t.Errorf("bundle has %s: %s", never, b)
			}
		}
	})
	t.Run("the ledger says valid", func(t *testing.T) {
		c, err := f.svc.CheckCard(ctx, card.Numeric)
		if err != nil || !c.Valid || c.Org != "ProvidersMSP" || c.Version != 1 {
			t.Fatalf("check %+v, %v", c, err)
		}
	})
	t.Run("a forged card", func(t *testing.T) {
		parts := strings.Split(card.JWS, ".")
		other, err := shc.Issue(mustKey(t), "https://records.test/shc/ProvidersMSP", f.svc.now(), []string{shc.HealthCardType}, card.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		o := strings.Split(other, ".")
		for name, forged := range map[string]string{
			"another key's payload under the issuer's signature": parts[0] + "." + o[1] + "." + parts[2],
			"signed by an unregistered key":                      other,
		} {
			c, err := f.svc.CheckCard(ctx, forged)
			if err != nil || c.Valid || len(c.Problems) == 0 {
				t.Errorf("%s: %+v, %v", name, c, err)
			}
		}
	})
	t.Run("an unknown issuer", func(t *testing.T) {
		evil, err := shc.Issue(mustKey(t), "https://evil.test/shc/ProvidersMSP", f.svc.now(), []string{shc.HealthCardType}, card.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.svc.CheckCard(ctx, evil)
		if err != nil || c.Valid || !strings.Contains(strings.Join(c.Problems, ";"), "not an organisation of the exchange") {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("cards naming made-up issuers, many: the registry is read at most once per interval", func(t *testing.T) {
		now := f.svc.now()
		clock := now
		f.svc.now = func() time.Time { return clock }
		defer func() { f.svc.now = time.Now }()
		f.svc.cardKeys = cardRegistry{}
		f.ledger.mu.Lock()
		before := f.ledger.registryReads
		f.ledger.mu.Unlock()
		for i := range 50 {
			evil, err := shc.Issue(mustKey(t), fmt.Sprintf("https://evil-%d.test/shc/X", i), now, []string{shc.HealthCardType}, card.Bundle)
			if err != nil {
				t.Fatal(err)
			}
			if c, err := f.svc.CheckCard(ctx, evil); err != nil || c.Valid {
				t.Fatalf("%+v, %v", c, err)
			}
		}
		f.ledger.mu.Lock()
		reads := f.ledger.registryReads - before
		f.ledger.mu.Unlock()
		if reads != 1 {
			t.Fatalf("50 checks within %v read the registry %d times", cardRegistryMinAge, reads)
		}
		clock = now.Add(cardRegistryMinAge)
		if c, err := f.svc.CheckCard(ctx, card.JWS); err != nil || !c.Valid {
			t.Fatalf("a real card after the interval: %+v, %v", c, err)
		}
	})
	t.Run("superseded", func(t *testing.T) {
		f.put(t, drWho, PutRequest{PatientID: "alice", RecordID: rec.RecordID, Resource: bytes.Replace(imm, []byte("FLU-26A-0917"), []byte("FLU-26A-0918"), 1)})
		c, err := f.svc.CheckCard(ctx, card.JWS)
		if err != nil || c.Valid || c.LatestVersion != 2 || !strings.Contains(strings.Join(c.Problems, ";"), "superseded") {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("not a card", func(t *testing.T) {
		for _, junk := range []string{"", "shc:/99", "a.b.c", strings.Repeat("x", 5000)} {
			if c, err := f.svc.CheckCard(ctx, junk); err != nil || c.Valid {
				t.Errorf("%q: %+v, %v", junk[:min(len(junk), 10)], c, err)
			}
		}
		if _, err := f.svc.CheckCard(ctx, strings.Repeat("x", 1<<20)); !errors.Is(err, ErrInvalid) {
			t.Errorf("a megabyte: %v", err)
		}
	})
	t.Run("only the patient, only vaccinations", func(t *testing.T) {
		if _, err := f.svc.IssueCard(ctx, drWho, "alice", rec.RecordID, nil); !errors.Is(err, ErrDenied) {
			t.Errorf("a clinician: %v", err)
		}
		obs := f.put(t, drWho, PutRequest{PatientID: "alice", Resource: observation("alice", "x")}).Record
		if _, err := f.svc.IssueCard(ctx, alice, "alice", obs.RecordID, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("a lab: %v", err)
		}
		if _, err := f.svc.IssueCard(ctx, alice, "alice", rec.RecordID, []string{"address"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("an address: %v", err)
		}
	})
	t.Run("the key stays the same across restarts and instances", func(t *testing.T) {
		dir := t.TempDir()
		var wg sync.WaitGroup
		kids := make([]string, 4)
		for i := range kids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cs, err := loadCardIssuers(dir, "https://records.test", map[string]CardRegistrar{"ProvidersMSP": f.ledger})
				if err != nil {
					t.Error(err)
					return
				}
				kids[i] = cs["ProvidersMSP"].jwk.Kid
			}()
		}
		wg.Wait()
		for _, k := range kids {
			if k != kids[0] || k == "" {
				t.Fatalf("kids %v", kids)
			}
		}
		info, err := os.Stat(dir + "/ProvidersMSP.pem")
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v, %v", info, err)
		}
	})
	t.Run("the JWKS holds public keys only", func(t *testing.T) {
		keys, ok := f.svc.JWKS(ctx, "")
		data, _ := json.Marshal(keys)
		if !ok || len(keys.Keys) != 1 || strings.Contains(string(data), `"d"`) {
			t.Fatalf("%s", data)
		}
		if _, err := shc.ParseJWKS(data); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.svc.JWKS(ctx, "StMarysMSP"); ok {
			t.Fatal("an issuer this service does not hold")
		}
	})
	t.Run("every instance publishes the keys its organisation registered", func(t *testing.T) {
		other, err := loadCardIssuers(t.TempDir(), "https://records-b.test", map[string]CardRegistrar{"ProvidersMSP": f.ledger})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other["ProvidersMSP"].register(ctx); err != nil { // instance b's key, on the ledger
			t.Fatal(err)
		}
		f.svc.cardKeys = cardRegistry{} // as after cardRegistryTTL
		keys, _ := f.svc.JWKS(ctx, "ProvidersMSP")
		if _, ok := keys.Key(other["ProvidersMSP"].jwk.Kid); !ok || len(keys.Keys) != 2 {
			t.Fatalf("instance a does not publish instance b's key: %+v", keys)
		}
		f.ledger.down = true
		defer func() { f.ledger.down = false }()
		f.svc.cardKeys = cardRegistry{}
		if keys, _ := f.svc.JWKS(ctx, "ProvidersMSP"); len(keys.Keys) != 1 {
			t.Fatalf("with the ledger down: %+v", keys)
		}
	})
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := shc.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
