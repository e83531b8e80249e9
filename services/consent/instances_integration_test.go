//go:build integration

package consent_test

import (
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/serving"
)

// TestDecisionsCarryOnWhenAnInstanceDies: an enforcement point given two
// consentd instances (the records service's certificate, -consent A,B)
// spreads its decisions over both; when one is killed, its decisions go on
// against the other, with no more failures than the calls that were on the
// dead instance at that moment.
func TestDecisionsCarryOnWhenAnInstanceDies(t *testing.T) {
	ctx := itest.Context(t)
	a, b := itest.NewConsentd(t, consentdBin), itest.NewConsentd(t, consentdBin)
	files := itest.Env(t).TLS("records")
	conn, err := serving.DialAsCaller(serving.TLSFiles{CertFile: files.CertFile, KeyFile: files.KeyFile, CAFile: files.CAFile},
		a.GRPCAddr+","+b.GRPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dc := consentv1.NewDecisionServiceClient(conn)
	idp, err := itest.Env(t).IdPFor(ledgerapi.ProvidersMSP)
	if err != nil {
		t.Fatal(err)
	}
	p := itest.NewPatient(t, a)
	clinician := itest.Unique("dr")
	req := &consentv1.AuthorizeRequest{Action: "read", Purpose: "treatment", Resource: &consentv1.Resource{PatientId: p.ID, Category: "labs"},
		OnBehalfOf: &consentv1.Subject{Id: clinician, Role: string(auth.RoleClinician), Org: ledgerapi.ProvidersMSP, Issuer: idp.Issuer}}
	decide := func() error {
		resp, err := dc.Authorize(ctx, req)
		if err == nil && resp.GetDecision().GetAllow() {
			t.Fatal("a decision without consent allowed")
		}
		return err
	}
	for i := range 40 {
		if err := decide(); err != nil {
			t.Fatalf("decision %d with both instances up: %v", i, err)
		}
	}
	for name, c := range map[string]*itest.Consentd{"a": a, "b": b} {
		if n := len(c.LogLines("access decision")); n == 0 {
			t.Errorf("instance %s made no decision of 40: the calls were not spread", name)
		}
	}
	a.Kill()
	failed := 0
	deadline := time.Now().Add(30 * time.Second)
	for ok := 0; ok < 40; {
		if time.Now().After(deadline) {
			t.Fatalf("decisions did not carry on against the other instance: %d failed", failed)
		}
		if err := decide(); err != nil {
			failed++
			continue
		}
		ok++
	}
	if failed > 1 {
		t.Errorf("%d decisions failed after one instance died, want at most the one in flight on it", failed)
	}
	t.Logf("one instance killed: %d decision(s) failed, then 40 answered by the other", failed)
}
