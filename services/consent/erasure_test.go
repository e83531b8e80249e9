package consent

import (
	"encoding/json"
	"strings"
	"testing"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
)

func erasedEvent(t *testing.T, patientID string) ledger.Event {
	t.Helper()
	raw, err := json.Marshal(ledgerapi.Erasure{PatientID: patientID, ErasureID: "er-1"})
	if err != nil {
		t.Fatal(err)
	}
	return ledger.Event{TransactionID: "tx-erase", Name: eventPatientErased, Payload: raw}
}

// An erased patient's consents may still be active on the ledger; every
// decision about them is a deny all the same, also after a restart.
func TestErasedPatientIsDenied(t *testing.T) {
	v := liveView(t,
		activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", []string{"labs"}, []string{"treatment"}),
		activeConsent("c-2", "pat-2", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", []string{"labs"}, []string{"treatment"}))
	if err := v.Apply(ledger.Block{Number: 1, Events: []ledger.Event{erasedEvent(t, "pat-1")}}); err != nil {
		t.Fatal(err)
	}
	v.follow(2)
	api, _ := decisionService(t, v, realEngine(t))
	ctx := auth.NewContext(testContext(t), auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"})

	tests := map[string]struct {
		patient string
		allow   bool
	}{
		"erased patient": {"pat-1", false},
		"another is not": {"pat-2", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err := api.Authorize(ctx, readReq(tc.patient, "labs", "", "treatment"))
			if err != nil {
				t.Fatal(err)
			}
			d := resp.GetDecision()
			if d.GetAllow() != tc.allow {
				t.Fatalf("decision %v, want allow=%v", d, tc.allow)
			}
			if !tc.allow && !strings.Contains(strings.Join(d.GetReasons(), " "), "erased") {
				t.Fatalf("denial %v does not say the patient was erased", d.GetReasons())
			}
		})
	}

	t.Run("the erasure survives a snapshot", func(t *testing.T) {
		restored := NewView()
		restored.restore(v.state())
		if !restored.Erased("pat-1") || restored.Erased("pat-2") {
			t.Fatal("erasure lost (or spread) across a snapshot")
		}
		if !restored.Registered("pat-1") || !restored.Registered("pat-2") || restored.Registered("pat-3") {
			t.Fatal("registrations lost (or invented) across a snapshot")
		}
	})
	t.Run("a malformed erasure event changes nothing", func(t *testing.T) {
		bad := ledger.Event{Name: eventPatientErased, Payload: []byte(`{"nope":1}`)}
		if err := v.Apply(ledger.Block{Number: 2, Events: []ledger.Event{bad}}); err == nil {
			t.Fatal("a malformed erasure event was applied")
		}
		if v.Checkpoint().Next != 2 {
			t.Fatalf("checkpoint moved to %d past a refused block", v.Checkpoint().Next)
		}
	})
}
