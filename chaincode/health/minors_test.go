package health

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

func (f *fixture) registerMinor(t *testing.T, caller fakeIdentity, signer *testPatient, m ledgerapi.MinorRegistration) (*ledgerapi.MinorRegistered, error) {
	t.Helper()
	payload, sig := sign(t, signer.key, m)
	return run(f, caller, func(ctx ctxT) (*ledgerapi.MinorRegistered, error) {
		return new(Patients).RegisterMinor(ctx, payload, sig)
	})
}

func (f *fixture) claimKey(t *testing.T, caller fakeIdentity, signer *testPatient, c ledgerapi.KeyClaim) (*ledgerapi.Patient, error) {
	t.Helper()
	payload, sig := sign(t, signer.key, c)
	return run(f, caller, func(ctx ctxT) (*ledgerapi.Patient, error) { return new(Patients).ClaimKey(ctx, payload, sig) })
}

// TestMinors: a hospital registers a newborn with the guardian's
// signature; the child's entry has no key, so nothing signed as the child
// counts, and the guardian acts under the delegation created with it until
// majority; then the registering hospital attests the child's claim of
// their own key, and the guardian's delegation no longer counts.
func TestMinors(t *testing.T) {
	f := newFixture()
	baby, dad, stranger := newPatient("baby"), newPatient("dad"), newPatient("stranger")
	majority := f.clock.Add(18 * 365 * 24 * time.Hour)
	registration := func() ledgerapi.MinorRegistration {
		return ledgerapi.MinorRegistration{Header: ledgerapi.Header{Op: ledgerapi.OpMinorRegister, PatientID: "baby"},
			MajorityAt: ledgerapi.FormatTime(majority), DelegationID: "d-baby-dad", GuardianID: "dad", GuardianKey: dad.publicKey(),
			Relationship: "parent", Powers: []string{"grant", "revoke", "read", "approve"}}
	}
	with := func(change func(*ledgerapi.MinorRegistration)) ledgerapi.MinorRegistration {
		m := registration()
		change(&m)
		return m
	}

	t.Run("refused registrations", func(t *testing.T) {
		for name, tc := range map[string]struct {
			caller fakeIdentity
			signer *testPatient
			m      ledgerapi.MinorRegistration
			want   error
		}{
			"by a pharmacy":                       {pharmacy, dad, registration(), ledgerapi.ErrForbidden},
			"by an insurer":                       {insurer, dad, registration(), ledgerapi.ErrForbidden},
			"by the research institute":           {research, dad, registration(), ledgerapi.ErrForbidden},
			"signed by another than the guardian": {stmarys, stranger, registration(), ledgerapi.ErrSignature},
			"signed by the child's would-be key":  {stmarys, baby, registration(), ledgerapi.ErrSignature},
			"a nonce":                             {stmarys, dad, with(func(m *ledgerapi.MinorRegistration) { m.Nonce = 1 }), ledgerapi.ErrInvalid},
			"of age already":                      {stmarys, dad, with(func(m *ledgerapi.MinorRegistration) { m.MajorityAt = ledgerapi.FormatTime(f.clock.Add(-time.Hour)) }), ledgerapi.ErrInvalid},
			"majority in 19 years": {stmarys, dad, with(func(m *ledgerapi.MinorRegistration) {
				m.MajorityAt = ledgerapi.FormatTime(f.clock.Add(19 * 366 * 24 * time.Hour))
			}), ledgerapi.ErrInvalid},
			"a carer":                     {stmarys, dad, with(func(m *ledgerapi.MinorRegistration) { m.Relationship = "carer" }), ledgerapi.ErrInvalid},
			"approve without grant":       {stmarys, dad, with(func(m *ledgerapi.MinorRegistration) { m.Powers = []string{"read", "approve"} }), ledgerapi.ErrInvalid},
			"no power":                    {stmarys, dad, with(func(m *ledgerapi.MinorRegistration) { m.Powers = nil }), ledgerapi.ErrInvalid},
			"the guardian is the child":   {stmarys, dad, with(func(m *ledgerapi.MinorRegistration) { m.GuardianID = "baby" }), ledgerapi.ErrInvalid},
			"another operation's payload": {stmarys, dad, with(func(m *ledgerapi.MinorRegistration) { m.Op = ledgerapi.OpPatientRegister }), ledgerapi.ErrInvalid},
		} {
			t.Run(name, func(t *testing.T) {
				signer := *tc.signer
				if signer.id != "dad" {
					tc.m.GuardianKey = dad.publicKey() // the payload names dad; another key signed it
				}
				_, err := f.registerMinor(t, tc.caller, &signer, tc.m)
				wantErr(t, err, tc.want)
			})
		}
		if _, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Patient, error) { return new(Patients).Get(ctx, "baby") }); err == nil {
			t.Fatal("a refused registration left an entry")
		}
	})

	got, err := f.registerMinor(t, stmarys, dad, registration())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the entry has no key; the delegation ends at majority and names the registrar", func(t *testing.T) {
		p, d := got.Patient, got.Delegation
		if p.HasKey() || p.RegisteredBy != "StMarysMSP" || p.MajorityAt != ledgerapi.FormatTime(majority) || p.KeyVersion != 0 {
			t.Fatalf("patient %+v", p)
		}
		if d.DelegateID != "dad" || d.PatientID != "baby" || d.ExpiresAt != p.MajorityAt || d.RegisteredBy != "StMarysMSP" || d.Status != "active" {
			t.Fatalf("delegation %+v", d)
		}
		e := f.stub.events[len(f.stub.events)-1]
		var ev ledgerapi.MinorRegistered
		if err := json.Unmarshal(e.Payload, &ev); err != nil || e.EventName != EventMinorRegistered || ev.Delegation.DelegationID != "d-baby-dad" || ev.Patient.PatientID != "baby" {
			t.Fatalf("event %s %s (%v)", e.EventName, e.Payload, err)
		}
		list, err := run(f, providers, func(ctx ctxT) ([]ledgerapi.Delegation, error) { return new(Delegations).ListByDelegate(ctx, "dad") })
		if err != nil || len(list) != 1 || list[0].DelegationID != "d-baby-dad" {
			t.Fatalf("dad's delegations %v (%v)", list, err)
		}
	})
	t.Run("registered once", func(t *testing.T) {
		_, err := f.registerMinor(t, providers, dad, registration())
		wantErr(t, err, ledgerapi.ErrExists)
		_, err = f.registerMinor(t, providers, dad, with(func(m *ledgerapi.MinorRegistration) { m.PatientID = "baby-2" }))
		wantErr(t, err, ledgerapi.ErrExists) // the delegation id is taken
		payload, sig := sign(t, baby.key, baby.registration())
		_, err = run(f, providers, func(ctx ctxT) (*ledgerapi.Patient, error) { return new(Patients).Register(ctx, payload, sig) })
		wantErr(t, err, ledgerapi.ErrExists) // nobody registers a key over the child's entry
	})

	t.Run("nothing signed as the child counts while there is no key", func(t *testing.T) {
		_, err := f.grant(t, baby, grantTo("c-by-baby", "user", "ProvidersMSP/dr-who", []string{"labs"}, treatment))
		wantErr(t, err, ledgerapi.ErrForbidden)
		if !strings.Contains(err.Error(), "no key of their own") {
			t.Fatalf("error %v does not say why", err)
		}
		_, err = f.delegate(t, baby, ledgerapi.DelegationGrant{DelegationID: "d-baby-x", DelegateID: "stranger", DelegateKey: stranger.publicKey(),
			Relationship: "carer", Powers: []string{"read"}, ExpiresAt: ledgerapi.FormatTime(f.clock.Add(time.Hour))})
		wantErr(t, err, ledgerapi.ErrForbidden)
		_, err = f.rotate(t, baby, baby, stranger)
		wantErr(t, err, ledgerapi.ErrForbidden)
		_, err = f.undelegate(t, baby, "d-baby-dad")
		wantErr(t, err, ledgerapi.ErrForbidden)
	})

	var consentID string
	t.Run("the guardian acts for the child, signed with their own key", func(t *testing.T) {
		c, err := f.grantAs(t, dad, "baby", "d-baby-dad", grantTo("c-by-dad", "user", "ProvidersMSP/dr-who", []string{"labs"}, treatment))
		if err != nil {
			t.Fatal(err)
		}
		if c.GrantedBy != "d-baby-dad" || c.PatientID != "baby" {
			t.Fatalf("consent %+v", c)
		}
		consentID = c.ConsentID
		_, err = f.grantAs(t, stranger, "baby", "d-baby-dad", grantTo("c-by-stranger", "user", "ProvidersMSP/dr-who", []string{"labs"}, treatment))
		wantErr(t, err, ledgerapi.ErrSignature)
	})

	adult := newPatient("baby-grown")
	claim := func(p *testPatient) ledgerapi.KeyClaim {
		return ledgerapi.KeyClaim{Header: ledgerapi.Header{Op: ledgerapi.OpKeyClaim, PatientID: "baby"}, OwnKeys: ledgerapi.OwnKeys{PublicKey: p.publicKey()}}
	}
	t.Run("no claim before majority", func(t *testing.T) {
		_, err := f.claimKey(t, stmarys, adult, claim(adult))
		wantErr(t, err, ledgerapi.ErrForbidden)
	})

	f.clock = majority.Add(time.Minute)
	f.register(t, stranger)
	t.Run("refused claims at majority", func(t *testing.T) {
		for name, tc := range map[string]struct {
			caller fakeIdentity
			signer *testPatient
			c      ledgerapi.KeyClaim
			want   error
		}{
			"attested by another hospital":    {providers, adult, claim(adult), ledgerapi.ErrForbidden},
			"by a pharmacy":                   {pharmacy, adult, claim(adult), ledgerapi.ErrForbidden},
			"signed by another key":           {stmarys, stranger, claim(adult), ledgerapi.ErrSignature},
			"the guardian's key":              {stmarys, dad, claim(dad), ledgerapi.ErrInvalid},
			"a nonce":                         {stmarys, adult, func() ledgerapi.KeyClaim { c := claim(adult); c.Nonce = 1; return c }(), ledgerapi.ErrInvalid},
			"the guardian's key for recovery": {stmarys, adult, func() ledgerapi.KeyClaim { c := claim(adult); c.RecoveryKey = dad.publicKey(); return c }(), ledgerapi.ErrInvalid},
			"a patient not registered":        {stmarys, adult, func() ledgerapi.KeyClaim { c := claim(adult); c.PatientID = "nobody"; return c }(), ledgerapi.ErrNotFound},
			"a patient who has their own key": {stmarys, adult, func() ledgerapi.KeyClaim { c := claim(adult); c.PatientID = "stranger"; return c }(), ledgerapi.ErrConflict},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := f.claimKey(t, tc.caller, tc.signer, tc.c)
				wantErr(t, err, tc.want)
			})
		}
	})
	t.Run("the guardian no longer acts at majority", func(t *testing.T) {
		_, err := f.revokeAs(t, dad, "baby", "d-baby-dad", consentID)
		wantErr(t, err, ledgerapi.ErrForbidden)
	})
	t.Run("the registering hospital attests the claim", func(t *testing.T) {
		p, err := f.claimKey(t, stmarys, adult, claim(adult))
		if err != nil {
			t.Fatal(err)
		}
		if p.PublicKey != adult.publicKey() || p.KeyVersion != 1 || p.Nonce != 0 {
			t.Fatalf("patient %+v", p)
		}
		if e := f.stub.events[len(f.stub.events)-1]; e.EventName != EventPatientKeyChanged {
			t.Fatalf("event %s", e.EventName)
		}
		_, err = f.claimKey(t, stmarys, stranger, ledgerapi.KeyClaim{Header: ledgerapi.Header{Op: ledgerapi.OpKeyClaim, PatientID: "baby"}, OwnKeys: ledgerapi.OwnKeys{PublicKey: stranger.publicKey()}})
		wantErr(t, err, ledgerapi.ErrConflict)
	})
	t.Run("the patient acts with their own key", func(t *testing.T) {
		adult.id = "baby"
		c, err := f.revoke(t, adult, consentID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != "revoked" || c.RevokedBy != "" {
			t.Fatalf("consent %+v", c)
		}
	})
}
