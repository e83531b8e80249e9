// Regression tests of defects found while writing the unit tests.

package consent

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/auth"
)

// requests.go sorts by CreatedAt as a string, but CreatedAt is RFC 3339 with
// trailing zeros of the fraction dropped (ledgerapi.FormatTime), which does
// not sort as time does within one second.
func TestBugRequestListOldestFirstWithinASecond(t *testing.T) {
	tests := []struct {
		name          string
		first, second time.Time
	}{
		{"fraction that is a prefix of the later one (.1 then .12)",
			time.Date(2030, 1, 2, 3, 4, 5, 100_000_000, time.UTC), time.Date(2030, 1, 2, 3, 4, 5, 120_000_000, time.UTC)},
		{"whole second then a fraction of it (05 then 05.3)",
			time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2030, 1, 2, 3, 4, 5, 300_000_000, time.UTC)},
		{"one nanosecond apart (.12345678 then .123456781)",
			time.Date(2030, 1, 2, 3, 4, 5, 123_456_780, time.UTC), time.Date(2030, 1, 2, 3, 4, 5, 123_456_781, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTestRequests(t)
			a, err := s.create(labsRequest("pat-1", "dr-alice"), tt.first)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.create(labsRequest("pat-1", "dr-bob"), tt.second)
			if err != nil {
				t.Fatal(err)
			}
			got := requestIDs(s.mustList("pat-1", ""))
			if diff := cmp.Diff([]string{a.RequestID, b.RequestID}, got); diff != "" {
				t.Errorf("list not oldest first (created %s then %s) (-want +got):\n%s", a.CreatedAt, b.CreatedAt, diff)
			}
		})
	}
}

// decisionapi.go keeps the decider's decision when it returns an error; a
// decider that fails with Allow set (the interface does not forbid it) gives
// an allow although the package promises a deny whenever it cannot decide.
func TestBugDeciderErrorNeverAllows(t *testing.T) {
	tests := []struct {
		name string
		d    policy.Decision
	}{
		{"error with allow set", policy.Decision{Allow: true, Reasons: []string{"allowed by consent c-1"}, Obligations: []string{"log-access"}, ConsentID: "c-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeDecider{d: tt.d, err: errors.New("policy evaluation timed out")}
			v := liveView(t, activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labsOnly, treatmentOnly))
			api, svc := decisionService(t, v, fake)
			alice := auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"}
			resp, err := api.Authorize(auth.NewContext(testContext(t), alice), readReq("pat-1", "labs", "", "treatment"))
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			if resp.GetDecision().GetAllow() {
				t.Error("allowed although the policy engine returned an error")
			}
			if e := pendingEvents(svc); len(e) != 1 || e[0].Decision != ledgerapi.DecisionDeny {
				t.Errorf("journaled %+v, want one deny", e)
			}
		})
	}
}
