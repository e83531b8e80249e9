package shc

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// specCard is a card signed by the SMART Health Cards specification's
// example issuer (a synthetic COVID-19 immunization card of
// https://spec.smarthealth.cards/examples/issuer, as quoted in public test
// suites). It was produced by another implementation: its header members
// come in another order and its nbf has milliseconds.
const specCard = "eyJ6aXAiOiJERUYiLCJhbGciOiJFUzI1NiIsImtpZCI6IjNLZmRnLVh3UC03Z1h5eXd0VWZVQUR3QnVtRE9QS01ReC1pRUxMMTFXOXMifQ." +
	"3ZJJb9swEIX_SjC9ytoSR5VutQt0Q4sWTXMpfKCpscWCi8BFsBvov3dIO2haJDn1VN1GM_PxvUfegXAOOhi8H11XFG5EnjvFrB-QST_knNneFXhgapToCpoOaCEDvd1BV11ftldtednU-XL5MoOJ" +
	"Q3cH_jgidN9_M__GvTgVi1gQ6uk5oVTQ4ifzwuhnB7mZRF-1sMmAW-xRe8Hk17D9gdxHSbtB2Fu0LnI6uMrLvCJe_LsKupcYZyw6EyzHmyQfzo3sbAe4kZJoJyV0gD2SRyIHKb9ZSQP3-11JA_fF" +
	"I-DPZIf2Y4ZM4QnClJDEg1eaZqxLZ-zFhDrm-N4MsV7lsJnJ4FaQ-dfMR1bVLqtFWS3qEuY5e1RN9byad39G7DzzwSW78cI9xguaGOdC49r0icBNL_Q-CXdH51Gd3w_dzCCb3Nh9EZMtnOgLPh0Iw" +
	"NMm1GUD82bOYDxHkOTs0KKO2h4mSEOG82BTK5q9EeqEqJPhMtqiqHbGKnqPUQvj3tiI7IUbJUtxrtYXb1CjZfLirXGj8ExSUBSiNP5TUNu4CmX6qicTrP_LBOv2XyfYxAaFCFb09PPjh-P6MDTjdfhCjV8." +
	"F248favB7uvtKSo9GbwIC-QtmpWeAsB-AtiFq2iACiDZQE0s38603dJp50vc1HEvZAB80RXecKQ1LYdkZbq8Rw"

const specJWKS = `{"keys":[{"kty":"EC","kid":"` + specKid + `","use":"sig","alg":"ES256","crv":"P-256","x":"` + specX + `","y":"` + specY + `"}]}`

func TestSpecExample(t *testing.T) {
	keys, err := ParseJWKS([]byte(specJWKS))
	if err != nil {
		t.Fatal(err)
	}
	card, err := Decode(specCard)
	if err != nil {
		t.Fatal(err)
	}
	if err := card.Verify(keys); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if card.Header != (Header{Alg: "ES256", Zip: "DEF", Kid: specKid}) {
		t.Errorf("header %+v", card.Header)
	}
	p := card.Payload
	if p.Issuer != "https://spec.smarthealth.cards/examples/issuer" {
		t.Errorf("iss %q", p.Issuer)
	}
	if want := time.UnixMilli(1639490372558).UTC(); !p.NotBeforeTime().Equal(want) {
		t.Errorf("nbf %v, want %v", p.NotBeforeTime(), want)
	}
	if strings.Join(p.VC.Type, " ") != HealthCardType+" https://smarthealth.cards#immunization https://smarthealth.cards#covid19" {
		t.Errorf("types %v", p.VC.Type)
	}
	if p.VC.CredentialSubject.FHIRVersion != "4.0.1" || !strings.HasPrefix(string(p.VC.CredentialSubject.FHIRBundle), `{"resourceType":"Bundle"`) {
		t.Errorf("credential subject %s", p.VC.CredentialSubject.FHIRBundle)
	}

	t.Run("numeric form", func(t *testing.T) {
		numeric, err := Numeric(specCard)
		if err != nil {
			t.Fatal(err)
		}
		// Every SHC QR code starts so: the numeric form of `eyJ6aXAi`.
		if !strings.HasPrefix(numeric, "shc:/5676290952432060346029243740") {
			t.Fatalf("numeric form starts %s", numeric[:40])
		}
		back, err := FromNumeric(numeric)
		if err != nil || back != specCard {
			t.Fatalf("FromNumeric: %v", err)
		}
	})
	t.Run("one signature bit flipped", func(t *testing.T) {
		flipped := []byte(specCard)
		i := strings.LastIndexByte(specCard, '.') + 10
		flipped[i] ^= 'A' ^ 'B'
		card, err := Decode(string(flipped))
		if err != nil {
			t.Fatal(err)
		}
		if err := card.Verify(keys); !errors.Is(err, ErrSignature) {
			t.Fatalf("Verify: %v, want ErrSignature", err)
		}
	})
	t.Run("with a fresh issuer's keys", func(t *testing.T) {
		if err := card.Verify(keySet(t, fixedKey(t, 1))); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Verify: %v, want ErrUnknownKey", err)
		}
	})
}
