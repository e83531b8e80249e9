package consent

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/serving"
)

// fakeHospital is the ledger as one hospital: it records what it was sent
// and answers as the chaincode would for a well-formed payload.
type fakeHospital struct {
	mu     sync.Mutex
	mspID  string
	signed []ledger.Signed
}

func (h *fakeHospital) RegisterMinor(_ context.Context, s ledger.Signed) (ledgerapi.MinorRegistered, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.signed = append(h.signed, s)
	m, err := ledgerapi.Parse[ledgerapi.MinorRegistration]([]byte(s.Payload))
	if err != nil {
		return ledgerapi.MinorRegistered{}, err
	}
	return ledgerapi.MinorRegistered{
		Patient: ledgerapi.Patient{PatientID: m.PatientID, RegisteredBy: h.mspID, MajorityAt: m.MajorityAt},
		Delegation: ledgerapi.Delegation{DelegationID: m.DelegationID, PatientID: m.PatientID, DelegateID: m.GuardianID, DelegateKey: m.GuardianKey,
			Relationship: m.Relationship, Powers: m.Powers, ExpiresAt: m.MajorityAt, Status: ledgerapi.StatusActive, RegisteredBy: h.mspID},
	}, nil
}

func (h *fakeHospital) ClaimKey(_ context.Context, s ledger.Signed) (ledgerapi.Patient, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.signed = append(h.signed, s)
	c, err := ledgerapi.Parse[ledgerapi.KeyClaim]([]byte(s.Payload))
	if err != nil {
		return ledgerapi.Patient{}, err
	}
	return ledgerapi.Patient{PatientID: c.PatientID, PublicKey: c.PublicKey, KeyVersion: 1, RegisteredBy: h.mspID}, nil
}

func (h *fakeHospital) sent() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.signed)
}

// A hospital's clinician registers a child with the guardian's signature,
// as their own hospital; nobody else can, and nothing refused reaches the
// ledger. The child and the guardian's delegation count at once.
func TestRegisterMinor(t *testing.T) {
	dad, stranger, grown := newKey(t, "dad-1"), newKey(t, "stranger-1"), newKey(t, "baby-1")
	stmarys := &fakeHospital{mspID: ledgerapi.StMarysMSP}
	api, svc := patientService(t, patientLedger(dad), liveView(t))
	svc.hospitals = map[string]hospitalLedger{ledgerapi.StMarysMSP: stmarys}
	registration := ledgerapi.MinorRegistration{Header: ledgerapi.Header{PatientID: "baby-1"}, MajorityAt: "2044-05-01T00:00:00Z", DelegationID: "d-baby",
		Relationship: "parent", Powers: []string{"grant", "revoke", "read", "approve"}}
	byDad := mustSign(t, func() (ledger.Signed, error) { return dad.RegisterMinor(registration) })
	forged := byDad
	forged.Signature = mustSign(t, func() (ledger.Signed, error) { return stranger.RegisterMinor(registration) }).Signature
	claim := mustSign(t, func() (ledger.Signed, error) { return grown.ClaimKey("", 0) })

	for name, tc := range map[string]struct {
		caller *auth.Principal
		signed ledger.Signed
		want   error
	}{
		"a patient":                             {patient("dad-1"), byDad, ErrPermission},
		"a pharmacist":                          {staff("ph-1", auth.RolePharmacist, ledgerapi.PharmacyMSP), byDad, ErrPermission},
		"a clinician of no hospital":            {staff("dr-x", auth.RoleClinician, ledgerapi.PharmacyMSP), byDad, ErrPermission},
		"a hospital this service cannot act as": {staff("dr-who", auth.RoleClinician, ledgerapi.ProvidersMSP), byDad, ErrUnavailable},
		"signed by another than the guardian":   {staff("dr-s", auth.RoleClinician, ledgerapi.StMarysMSP), forged, ledgerapi.ErrSignature},
		"a key claim sent as a registration":    {staff("dr-s", auth.RoleClinician, ledgerapi.StMarysMSP), claim, ErrInvalid},
		"no signature":                          {staff("dr-s", auth.RoleClinician, ledgerapi.StMarysMSP), ledger.Signed{Payload: byDad.Payload}, ErrInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := svc.registerMinor(ctxFor(t, tc.caller), *tc.caller, tc.signed)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if stmarys.sent() != 0 {
				t.Fatal("a refused registration reached the ledger")
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		if _, err := api.RegisterMinor(ctxFor(t, nobody), &consentv1.RegisterMinorRequest{Registration: signedPayload(byDad)}); err == nil {
			t.Fatal("registered without a token")
		}
	})

	t.Run("St Mary's clinician registers the child", func(t *testing.T) {
		resp, err := api.RegisterMinor(ctxFor(t, staff("dr-s", auth.RoleClinician, ledgerapi.StMarysMSP)),
			&consentv1.RegisterMinorRequest{Registration: signedPayload(byDad)})
		if err != nil {
			t.Fatal(err)
		}
		p, d := resp.GetPatient(), resp.GetDelegation()
		if p.GetPublicKey() != "" || p.GetRegisteredBy() != ledgerapi.StMarysMSP || p.GetMajorityAt() != "2044-05-01T00:00:00Z" ||
			d.GetDelegateId() != "dad-1" || d.GetRegisteredBy() != ledgerapi.StMarysMSP || d.GetExpiresAt() != p.GetMajorityAt() {
			t.Fatalf("%v", resp)
		}
		if !svc.view.Registered("baby-1") {
			t.Fatal("the child is not registered in the view")
		}
		if got := svc.view.Delegations("baby-1", "dad-1"); len(got) != 1 || got[0].Status != ledgerapi.StatusActive {
			t.Fatalf("the guardian's delegation in the view: %+v", got)
		}
	})

	t.Run("the claim: a hospital's clinician, the claimed key's signature", func(t *testing.T) {
		_, err := svc.claimKey(asPatient(t, "baby-1"), *patient("baby-1"), claim)
		if !errors.Is(err, ErrPermission) {
			t.Fatalf("the patient claimed alone: %v", err)
		}
		notByKey := claim
		notByKey.Signature = dad.SignRaw(claim.Payload)
		p := staff("dr-s", auth.RoleClinician, ledgerapi.StMarysMSP)
		before := stmarys.sent()
		if _, err := svc.claimKey(ctxFor(t, p), *p, notByKey); !errors.Is(err, ledgerapi.ErrSignature) {
			t.Fatalf("a claim not signed by the claimed key: %v", err)
		}
		if _, err := svc.claimKey(ctxFor(t, p), *p, byDad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a registration sent as a claim: %v", err)
		}
		if stmarys.sent() != before {
			t.Fatal("a refused claim reached the ledger")
		}
		resp, err := api.ClaimKey(ctxFor(t, p), &consentv1.ClaimKeyRequest{Claim: signedPayload(claim)})
		if err != nil || resp.GetPatient().GetPublicKey() != grown.PublicKey() {
			t.Fatalf("%v, %v", resp, err)
		}
	})
}

// One clinician calling a million times: registrations and claims share
// the bound of their access requests.
func TestRegisterMinorIsBounded(t *testing.T) {
	_, svc := patientService(t, patientLedger(newKey(t, "dad-2")), liveView(t))
	svc.hospitals = map[string]hospitalLedger{ledgerapi.StMarysMSP: &fakeHospital{mspID: ledgerapi.StMarysMSP}}
	limit, err := serving.NewLimiter(serving.Rate{PerSecond: 0.001, Burst: 2})
	if err != nil {
		t.Fatal(err)
	}
	svc.requestLimit = limit
	p := staff("dr-s", auth.RoleClinician, ledgerapi.StMarysMSP)
	for i := range 3 {
		_, err := svc.registerMinor(ctxFor(t, p), *p, ledger.Signed{Payload: "{}", Signature: "x"})
		if i < 2 && status.Code(err) == codes.ResourceExhausted || i == 2 && status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := svc.claimKey(ctxFor(t, p), *p, ledger.Signed{Payload: "{}", Signature: "x"}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a claim past the bound: %v", err)
	}
}

// The view takes a minor's registration from its one event: the patient
// and the guardian's delegation; a malformed one is refused whole.
func TestViewMinorRegistered(t *testing.T) {
	v := NewView()
	m := ledgerapi.MinorRegistered{Patient: ledgerapi.Patient{PatientID: "baby-2", RegisteredBy: ledgerapi.ProvidersMSP},
		Delegation: ledgerapi.Delegation{DelegationID: "d-2", PatientID: "baby-2", DelegateID: "mum-2", Powers: []string{"read"},
			Status: ledgerapi.StatusActive, ExpiresAt: "2044-01-01T00:00:00Z"}}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Apply(ledger.Block{Number: 0, Events: []ledger.Event{{TransactionID: "tx-1", Name: eventMinor, Payload: raw}}}); err != nil {
		t.Fatal(err)
	}
	if !v.Registered("baby-2") || len(v.Delegations("baby-2", "mum-2")) != 1 {
		t.Fatal("the minor's registration was not applied")
	}
	m.Delegation.PatientID = "someone-else"
	bad, _ := json.Marshal(m)
	if err := v.Apply(ledger.Block{Number: 1, Events: []ledger.Event{{TransactionID: "tx-2", Name: eventMinor, Payload: bad}}}); err == nil {
		t.Fatal("a registration whose delegation is another patient's was applied")
	}
}
