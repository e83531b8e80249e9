package health

import (
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

func (f *fixture) delegate(t *testing.T, p *testPatient, g ledgerapi.DelegationGrant) (*ledgerapi.Delegation, error) {
	t.Helper()
	g.Header = p.next(ledgerapi.OpDelegationGrant)
	payload, sig := sign(t, p.key, g)
	return run(f, providers, func(ctx ctxT) (*ledgerapi.Delegation, error) { return new(Delegations).Grant(ctx, payload, sig) })
}

func (f *fixture) undelegate(t *testing.T, p *testPatient, id string) (*ledgerapi.Delegation, error) {
	t.Helper()
	payload, sig := sign(t, p.key, ledgerapi.DelegationRevocation{Header: p.next(ledgerapi.OpDelegationEnd), DelegationID: id})
	return run(f, stmarys, func(ctx ctxT) (*ledgerapi.Delegation, error) { return new(Delegations).Revoke(ctx, payload, sig) })
}

// grantAs is a grant for patient signed by the delegate's key under a
// delegation, with the delegate's own nonce.
func (f *fixture) grantAs(t *testing.T, delegate *testPatient, patientID, delegationID string, g ledgerapi.ConsentGrant) (*ledgerapi.Consent, error) {
	t.Helper()
	delegate.nonce++
	g.Header = ledgerapi.Header{Op: ledgerapi.OpConsentGrant, Nonce: delegate.nonce, PatientID: patientID}
	g.DelegationID = delegationID
	payload, sig := sign(t, delegate.key, g)
	return run(f, providers, func(ctx ctxT) (*ledgerapi.Consent, error) { return new(Consents).Grant(ctx, payload, sig) })
}

func (f *fixture) revokeAs(t *testing.T, delegate *testPatient, patientID, delegationID, consentID string) (*ledgerapi.Consent, error) {
	t.Helper()
	delegate.nonce++
	r := ledgerapi.ConsentRevocation{Header: ledgerapi.Header{Op: ledgerapi.OpConsentRevoke, Nonce: delegate.nonce, PatientID: patientID},
		ConsentID: consentID, DelegationID: delegationID}
	payload, sig := sign(t, delegate.key, r)
	return run(f, providers, func(ctx ctxT) (*ledgerapi.Consent, error) { return new(Consents).Revoke(ctx, payload, sig) })
}

func TestDelegations(t *testing.T) {
	f := newFixture()
	child, other := newPatient("child"), newPatient("other")
	mum, stranger := newPatient("mum"), newPatient("stranger")
	f.register(t, child, other)
	until := func(d time.Duration) string { return ledgerapi.FormatTime(f.clock.Add(d)) }
	delegation := func(id string, powers ...string) ledgerapi.DelegationGrant {
		return ledgerapi.DelegationGrant{DelegationID: id, DelegateID: "mum", DelegateKey: mum.publicKey(), Relationship: "parent",
			Powers: powers, ExpiresAt: until(time.Hour)}
	}
	grant := func(id string) ledgerapi.ConsentGrant {
		return grantTo(id, "user", "ProvidersMSP/dr-who", []string{"labs"}, treatment)
	}

	t.Run("refused delegations", func(t *testing.T) {
		for name, tc := range map[string]struct {
			g    ledgerapi.DelegationGrant
			want error
		}{
			"to the patient's own key": {func() ledgerapi.DelegationGrant {
				g := delegation("d0", "grant")
				g.DelegateKey = child.publicKey()
				return g
			}(), ledgerapi.ErrInvalid},
			"ended already": {func() ledgerapi.DelegationGrant {
				g := delegation("d0", "grant")
				g.ExpiresAt = until(-time.Hour)
				return g
			}(), ledgerapi.ErrInvalid},
			"for 19 years": {func() ledgerapi.DelegationGrant {
				g := delegation("d0", "grant")
				g.ExpiresAt = until(19 * 366 * 24 * time.Hour)
				return g
			}(), ledgerapi.ErrInvalid},
			"a power that is not one":  {delegation("d0", "sign"), ledgerapi.ErrInvalid},
			"approve without grant":    {delegation("d0", "approve", "revoke"), ledgerapi.ErrInvalid},
			"no power":                 {delegation("d0"), ledgerapi.ErrInvalid},
			"a relationship not known": {func() ledgerapi.DelegationGrant { g := delegation("d0", "grant"); g.Relationship = "friend"; return g }(), ledgerapi.ErrInvalid},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := f.delegate(t, child, tc.g)
				wantErr(t, err, tc.want)
			})
		}
		// A delegation signed by someone else's key: the patient's is what counts.
		g := delegation("d0", "grant")
		g.Header = ledgerapi.Header{Op: ledgerapi.OpDelegationGrant, Nonce: 99, PatientID: "child"}
		payload, sig := sign(t, mum.key, g)
		_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Delegation, error) { return new(Delegations).Grant(ctx, payload, sig) })
		wantErr(t, err, ledgerapi.ErrSignature)
	})

	d, err := f.delegate(t, child, delegation("d1", "grant", "revoke"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "active" || d.DelegateID != "mum" || d.PatientID != "child" {
		t.Fatalf("delegation %+v", d)
	}
	if _, err := f.delegate(t, child, delegation("d-grant-only", "grant")); err != nil {
		t.Fatal(err)
	}

	var consentID string
	t.Run("the delegate grants, signed with their own key, marked as delegated", func(t *testing.T) {
		c, err := f.grantAs(t, mum, "child", "d1", grant("c-by-mum"))
		if err != nil {
			t.Fatal(err)
		}
		if c.PatientID != "child" || c.GrantedBy != "d1" || c.Status != "active" {
			t.Fatalf("consent %+v", c)
		}
		consentID = c.ConsentID
	})
	t.Run("the same signed grant again is a replay", func(t *testing.T) {
		mum.nonce--
		_, err := f.grantAs(t, mum, "child", "d1", grant("c-by-mum-2"))
		wantErr(t, err, ledgerapi.ErrNonce)
		mum.nonce++
	})
	t.Run("a stranger's key under mum's delegation", func(t *testing.T) {
		_, err := f.grantAs(t, stranger, "child", "d1", grant("c-by-stranger"))
		wantErr(t, err, ledgerapi.ErrSignature)
	})
	t.Run("for another patient", func(t *testing.T) {
		_, err := f.grantAs(t, mum, "other", "d1", grant("c-other"))
		wantErr(t, err, ledgerapi.ErrForbidden)
	})
	t.Run("beyond the powers", func(t *testing.T) {
		_, err := f.revokeAs(t, mum, "child", "d-grant-only", consentID)
		wantErr(t, err, ledgerapi.ErrForbidden)
		if !strings.Contains(err.Error(), "power to revoke") {
			t.Fatal(err)
		}
	})
	t.Run("the delegate revokes, marked as delegated", func(t *testing.T) {
		c, err := f.revokeAs(t, mum, "child", "d1", consentID)
		if err != nil || c.Status != "revoked" || c.RevokedBy != "d1" {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("the patient ends the delegation at any time", func(t *testing.T) {
		ended, err := f.undelegate(t, child, "d1")
		if err != nil || ended.Status != "revoked" {
			t.Fatalf("%+v, %v", ended, err)
		}
		_, err = f.grantAs(t, mum, "child", "d1", grant("c-after"))
		wantErr(t, err, ledgerapi.ErrForbidden)
		if !strings.Contains(err.Error(), "revoked") {
			t.Fatal(err)
		}
		_, err = f.undelegate(t, other, "d-grant-only")
		wantErr(t, err, ledgerapi.ErrForbidden)
	})
	t.Run("it ends by itself at its end", func(t *testing.T) {
		f.clock = f.clock.Add(2 * time.Hour)
		_, err := f.grantAs(t, mum, "child", "d-grant-only", grant("c-late"))
		wantErr(t, err, ledgerapi.ErrForbidden)
		if !strings.Contains(err.Error(), "ended") {
			t.Fatal(err)
		}
	})
	t.Run("the patient's own changes are unaffected", func(t *testing.T) {
		if _, err := f.grant(t, child, grant("c-own")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("listed by patient and by delegate", func(t *testing.T) {
		byPatient, err := run(f, insurer, func(ctx ctxT) ([]ledgerapi.Delegation, error) { return new(Delegations).ListByPatient(ctx, "child") })
		if err != nil || len(byPatient) != 2 {
			t.Fatalf("%+v, %v", byPatient, err)
		}
		byDelegate, err := run(f, insurer, func(ctx ctxT) ([]ledgerapi.Delegation, error) { return new(Delegations).ListByDelegate(ctx, "mum") })
		if err != nil || len(byDelegate) != 2 {
			t.Fatalf("%+v, %v", byDelegate, err)
		}
	})
}
