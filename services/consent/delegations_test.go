package consent

import (
	"encoding/json"
	"errors"
	"testing"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/ledger"
)

// A delegate's change goes through the same calls as the patient's: the
// caller must be the delegation's delegate and its key must have signed.
func TestDelegatedChanges(t *testing.T) {
	child, mum, stranger := newKey(t, "child-1"), newKey(t, "mum-1"), newKey(t, "stranger-1")
	l := patientLedger(child)
	l.delegations = map[string]ledgerapi.Delegation{"d-1": {DelegationID: "d-1", PatientID: "child-1", DelegateID: "mum-1",
		DelegateKey: mum.PublicKey(), Powers: []string{"grant", "revoke"}, Status: "active", ExpiresAt: "2040-01-01T00:00:00Z"}}
	grantBy := func(k interface {
		GrantFor(string, string, ledgerapi.ConsentGrant) (ledger.Signed, error)
	}, delegation string) ledger.Signed {
		return mustSign(t, func() (ledger.Signed, error) { return k.GrantFor("child-1", delegation, labsGrant("c-1")) })
	}
	byMum := grantBy(mum, "d-1")
	c := consentOf(t, byMum, "tx-1")
	c.GrantedBy = "d-1"
	l.grant = func(ledger.Signed) (ledgerapi.Consent, error) { return c, nil }
	api, _ := patientService(t, l, liveView(t, c))

	t.Run("mum grants for her child", func(t *testing.T) {
		resp, err := api.GrantConsent(asPatient(t, "mum-1"), &consentv1.GrantConsentRequest{Grant: signedPayload(byMum)})
		if err != nil || resp.GetConsent().GetGrantedBy() != "d-1" || resp.GetConsent().GetPatientId() != "child-1" {
			t.Fatalf("%v, %v", resp, err)
		}
	})
	for name, tc := range map[string]struct {
		caller string
		signed ledger.Signed
		want   error
	}{
		"someone else sends mum's signed grant":        {"stranger-1", byMum, ErrPermission},
		"the child sends it (not the delegate)":        {"child-1", byMum, ErrPermission},
		"a stranger's key under mum's delegation":      {"mum-1", grantBy(stranger, "d-1"), ledgerapi.ErrSignature},
		"a delegation that does not exist":             {"mum-1", grantBy(mum, "d-9"), ledgerapi.ErrNotFound},
		"the child's own grant sent by mum (no deleg)": {"mum-1", mustSign(t, func() (ledger.Signed, error) { return child.Grant(labsGrant("c-2")) }), ErrPermission},
	} {
		t.Run(name, func(t *testing.T) {
			before := len(l.signed)
			_, err := api.service.grant(asPatient(t, tc.caller), *patient(tc.caller), tc.signed, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(l.signed) != before {
				t.Fatal("a refused change reached the ledger")
			}
		})
	}
	t.Run("a delegation is shown to its patient and its delegate only", func(t *testing.T) {
		for caller, ok := range map[string]bool{"child-1": true, "mum-1": true, "stranger-1": false} {
			_, err := api.GetDelegation(asPatient(t, caller), &consentv1.GetDelegationRequest{DelegationId: "d-1"})
			if (err == nil) != ok {
				t.Errorf("%s: %v", caller, err)
			}
		}
		list, err := api.ListDelegations(asPatient(t, "mum-1"), &consentv1.ListDelegationsRequest{})
		if err != nil || len(list.GetReceived()) != 1 || len(list.GetGiven()) != 0 {
			t.Fatalf("%v, %v", list, err)
		}
	})
	t.Run("only the patient delegates, with their key", func(t *testing.T) {
		d := ledgerapi.DelegationGrant{DelegationID: "d-2", DelegateID: "mum-1", DelegateKey: mum.PublicKey(), Relationship: "parent",
			Powers: []string{"grant"}, ExpiresAt: "2040-01-01T00:00:00Z"}
		s := mustSign(t, func() (ledger.Signed, error) { return child.Delegate(d) })
		if _, err := api.GrantDelegation(asPatient(t, "mum-1"), &consentv1.GrantDelegationRequest{Grant: signedPayload(s)}); err == nil {
			t.Fatal("mum delegated for the child")
		}
		l.delegate = func(string, ledger.Signed) (ledgerapi.Delegation, error) {
			return ledgerapi.Delegation{DelegationID: "d-2"}, nil
		}
		if _, err := api.GrantDelegation(asPatient(t, "child-1"), &consentv1.GrantDelegationRequest{Grant: signedPayload(s)}); err != nil {
			t.Fatal(err)
		}
	})
}

func delegationEvent(t *testing.T, name string, d ledgerapi.Delegation) ledger.Event {
	t.Helper()
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return ledger.Event{TransactionID: "tx-" + d.DelegationID, Name: name, Payload: raw}
}

// The view keeps the delegations the ledger announces, a revocation is
// final, and a snapshot keeps them.
func TestViewDelegations(t *testing.T) {
	v := NewView()
	d := ledgerapi.Delegation{DelegationID: "d-1", PatientID: "kid", DelegateID: "mum", Powers: []string{"read"}, Status: "active", ExpiresAt: "2040-01-01T00:00:00Z"}
	other := d
	other.DelegationID, other.DelegateID = "d-2", "gran"
	if err := v.Apply(ledger.Block{Number: 0, Events: []ledger.Event{delegationEvent(t, eventDelegated, d), delegationEvent(t, eventDelegated, other)}}); err != nil {
		t.Fatal(err)
	}
	if got := v.Delegations("kid", "mum"); len(got) != 1 || got[0].DelegationID != "d-1" || got[0].Status != "active" {
		t.Fatalf("%+v", got)
	}
	if got := v.Delegations("kid", "stranger"); len(got) != 0 {
		t.Fatalf("a stranger's: %+v", got)
	}
	ended := d
	ended.Status = "revoked"
	v.CommittedDelegation(ended)
	if err := v.Apply(ledger.Block{Number: 1, Events: []ledger.Event{delegationEvent(t, eventDelegated, d)}}); err != nil { // an older state, late
		t.Fatal(err)
	}
	if got := v.Delegations("kid", "mum"); got[0].Status != "revoked" {
		t.Fatalf("a revoked delegation came back: %+v", got)
	}
	snap, err := v.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var s viewState
	if err := json.Unmarshal(snap, &s); err != nil {
		t.Fatal(err)
	}
	w := NewView()
	w.restore(s)
	if got := w.Delegations("kid", "gran"); len(got) != 1 || got[0].Status != "active" {
		t.Fatalf("restored: %+v", got)
	}
	bad := ledger.Event{TransactionID: "tx-x", Name: eventDelegated, Payload: []byte(`{"delegationId":""}`)}
	if err := v.Apply(ledger.Block{Number: 2, Events: []ledger.Event{bad}}); err == nil {
		t.Fatal("a malformed delegation event was applied")
	}
}

// A delegate with approve answers the patient's access requests; one
// without, or with a delegation ended, or someone else, cannot.
func TestDelegateAnswersRequests(t *testing.T) {
	child, mum := newKey(t, "child-1"), newKey(t, "mum-1")
	l := patientLedger(child)
	approver := ledgerapi.Delegation{DelegationID: "d-1", PatientID: "child-1", DelegateID: "mum-1", DelegateKey: mum.PublicKey(),
		Powers: []string{"grant", "approve"}, Status: "active", ExpiresAt: "2040-01-01T00:00:00Z"}
	granter := approver
	granter.DelegationID, granter.Powers = "d-2", []string{"grant"}
	ended := approver
	ended.DelegationID, ended.ExpiresAt = "d-3", "2030-01-01T00:00:00Z" // before testNow
	l.delegations = map[string]ledgerapi.Delegation{"d-1": approver, "d-2": granter}
	api, svc := patientService(t, l, liveView(t))
	ask := func() accessRequest {
		r, err := svc.requests.create(accessRequest{PatientID: "child-1", Requester: "dr-alice", RequesterOrg: "ProvidersMSP",
			RequesterRole: "clinician", Categories: []string{"labs"}, Purposes: []string{"treatment"}, Reason: "follow-up"}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	grantUnder := func(delegation string) ledger.Signed {
		return mustSign(t, func() (ledger.Signed, error) { return mum.GrantFor("child-1", delegation, labsGrant("c-"+delegation)) })
	}
	r := ask()
	t.Run("mum lists and approves her child's request", func(t *testing.T) {
		list, err := api.ListAccessRequests(asPatient(t, "mum-1"), &consentv1.ListAccessRequestsRequest{PatientId: "child-1", State: "pending"})
		if err != nil || len(list.GetRequests()) != 1 {
			t.Fatalf("%v, %v", list, err)
		}
		s := grantUnder("d-1")
		c := consentOf(t, s, "tx-1")
		c.GrantedBy = "d-1"
		l.grant = func(ledger.Signed) (ledgerapi.Consent, error) { return c, nil }
		svc.view.Committed(c)
		resp, err := api.ApproveAccessRequest(asPatient(t, "mum-1"), &consentv1.ApproveAccessRequestRequest{RequestId: r.RequestID, Grant: signedPayload(s)})
		if err != nil || resp.GetRequest().GetState() != requestApproved {
			t.Fatalf("%v, %v", resp, err)
		}
	})
	for name, tc := range map[string]struct {
		caller, patient string
	}{
		"grant without approve": {"mum-1", "child-1"},
		"a stranger":            {"stranger-1", "child-1"},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "grant without approve" {
				l.delegations = map[string]ledgerapi.Delegation{"d-2": granter, "d-3": ended}
				defer func() { l.delegations = map[string]ledgerapi.Delegation{"d-1": approver, "d-2": granter} }()
			}
			r := ask()
			if _, err := api.ListAccessRequests(asPatient(t, tc.caller), &consentv1.ListAccessRequestsRequest{PatientId: tc.patient}); err == nil {
				t.Fatal("listed the child's requests")
			}
			if _, err := api.DenyAccessRequest(asPatient(t, tc.caller), &consentv1.DenyAccessRequestRequest{RequestId: r.RequestID, PatientId: tc.patient}); err == nil {
				t.Fatal("denied a request")
			}
			if _, err := api.ApproveAccessRequest(asPatient(t, tc.caller), &consentv1.ApproveAccessRequestRequest{RequestId: r.RequestID, Grant: signedPayload(grantUnder("d-2"))}); err == nil {
				t.Fatal("approved a request")
			}
			if tc.caller == "mum-1" {
				// Under d-2 (grant only) while d-1 gives approve: the grant's own delegation must.
				l.delegations["d-1"] = approver
				_, err := api.ApproveAccessRequest(asPatient(t, tc.caller), &consentv1.ApproveAccessRequestRequest{RequestId: r.RequestID, Grant: signedPayload(grantUnder("d-2"))})
				delete(l.delegations, "d-1")
				if err == nil {
					t.Fatal("approved under a delegation without approve")
				}
			}
			if got, _ := svc.requests.pending(r.RequestID, "child-1"); got.State != requestPending {
				t.Fatalf("the request changed: %+v", got)
			}
		})
	}
	t.Run("mum denies one", func(t *testing.T) {
		r := ask()
		resp, err := api.DenyAccessRequest(asPatient(t, "mum-1"), &consentv1.DenyAccessRequestRequest{RequestId: r.RequestID, PatientId: "child-1"})
		if err != nil || resp.GetRequest().GetState() != requestDenied {
			t.Fatalf("%v, %v", resp, err)
		}
	})
}
