package consent

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/follow"
	"healthexchange/services/platform/ledger"
)

func ids(cs []ledgerapi.Consent) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ConsentID)
	}
	return out
}

func TestViewApply(t *testing.T) {
	labs := []string{"labs"}
	treatment := []string{"treatment"}
	c1 := activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labs, treatment)
	c2 := activeConsent("c-2", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", []string{"imaging"}, treatment)

	tests := []struct {
		name   string
		blocks []ledger.Block
		// wantErr is a substring of the error of the last block, "" for none.
		wantErr    string
		wantNext   uint64
		wantStatus map[string]string // consent id -> status in the view
	}{
		{
			name: "blocks in order, grant then revoke",
			blocks: []ledger.Block{
				{Number: 0, Events: grantedEvents(t, c1)},
				{Number: 1},
				{Number: 2, Events: []ledger.Event{consentEvent(t, eventConsentGranted, c2), consentEvent(t, eventConsentRevoked, revoked(c1))}},
			},
			wantNext:   3,
			wantStatus: map[string]string{"c-1": ledgerapi.StatusRevoked, "c-2": ledgerapi.StatusActive},
		},
		{
			name: "events within a block apply in order",
			blocks: []ledger.Block{
				{Number: 0, Events: []ledger.Event{consentEvent(t, eventConsentGranted, c1), consentEvent(t, eventConsentRevoked, revoked(c1))}},
			},
			wantNext:   1,
			wantStatus: map[string]string{"c-1": ledgerapi.StatusRevoked},
		},
		{
			name: "other chaincode events are skipped",
			blocks: []ledger.Block{
				{Number: 0, Events: []ledger.Event{{Name: "DeviceRegistered", Payload: []byte(`{"deviceId":"d-1"}`)}, consentEvent(t, eventConsentGranted, c1)}},
			},
			wantNext:   1,
			wantStatus: map[string]string{"c-1": ledgerapi.StatusActive},
		},
		{
			name: "a block out of order is refused",
			blocks: []ledger.Block{
				{Number: 0, Events: grantedEvents(t, c1)},
				{Number: 2, Events: grantedEvents(t, c2)},
			},
			wantErr:    "block 2 arrived while 1 was expected",
			wantNext:   1,
			wantStatus: map[string]string{"c-1": ledgerapi.StatusActive},
		},
		{
			name: "an already applied block is ignored",
			blocks: []ledger.Block{
				{Number: 0, Events: grantedEvents(t, c1)},
				{Number: 1, Events: []ledger.Event{consentEvent(t, eventConsentRevoked, revoked(c1))}},
				{Number: 0, Events: grantedEvents(t, c1, c2)},
			},
			wantNext:   2,
			wantStatus: map[string]string{"c-1": ledgerapi.StatusRevoked},
		},
		{
			name: "malformed JSON leaves the view unchanged",
			blocks: []ledger.Block{
				{Number: 0, Events: grantedEvents(t, c1)},
				{Number: 1, Events: []ledger.Event{consentEvent(t, eventConsentGranted, c2), {TransactionID: "tx-bad", Name: eventConsentRevoked, Payload: []byte(`{"consentId":`)}}},
			},
			wantErr:    "malformed ConsentRevoked event",
			wantNext:   1,
			wantStatus: map[string]string{"c-1": ledgerapi.StatusActive},
		},
		{
			name: "an event without consent id leaves the view unchanged",
			blocks: []ledger.Block{
				{Number: 0, Events: []ledger.Event{consentEvent(t, eventConsentGranted, c2), {TransactionID: "tx-bad", Name: eventConsentGranted, Payload: []byte(`{"patientId":"pat-1"}`)}}},
			},
			wantErr:    "malformed ConsentGranted event",
			wantNext:   0,
			wantStatus: map[string]string{},
		},
		{
			name: "an event without patient id leaves the view unchanged",
			blocks: []ledger.Block{
				{Number: 0, Events: []ledger.Event{{TransactionID: "tx-bad", Name: eventConsentGranted, Payload: []byte(`{"consentId":"c-9"}`)}}},
			},
			wantErr:    "malformed ConsentGranted event",
			wantNext:   0,
			wantStatus: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewView()
			var err error
			for i, b := range tt.blocks {
				err = v.Apply(b)
				if i < len(tt.blocks)-1 && err != nil {
					t.Fatalf("Apply(block %d): %v", b.Number, err)
				}
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Apply: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Apply error = %v, want one containing %q", err, tt.wantErr)
			}
			if got := v.Checkpoint().Next; got != tt.wantNext {
				t.Errorf("Checkpoint().Next = %d, want %d", got, tt.wantNext)
			}
			got := map[string]string{}
			for _, c := range v.state().Consents {
				got[c.ConsentID] = c.Status
			}
			if diff := cmp.Diff(tt.wantStatus, got); diff != "" {
				t.Errorf("consents in the view (-want +got):\n%s", diff)
			}
		})
	}
}

func TestViewMatching(t *testing.T) {
	labs, treatment := []string{"labs"}, []string{"treatment"}
	v := NewView()
	err := v.Apply(ledger.Block{Number: 0, Events: grantedEvents(t,
		activeConsent("c-3", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labs, treatment),
		activeConsent("c-1", "pat-1", ledgerapi.GranteeOrg, "ProvidersMSP", labs, treatment),
		activeConsent("c-2", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-bob", labs, treatment),
		revoked(activeConsent("c-0", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labs, treatment)),
		activeConsent("c-4", "pat-2", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labs, treatment),
		activeConsent("c-5", "pat-2", ledgerapi.GranteeOrg, "ProvidersMSP", labs, treatment),
		activeConsent("c-6", "pat-1", ledgerapi.GranteeOrg, "ResearchMSP", labs, treatment),
		// A user whose id is an org's name is still a user, not the org.
		activeConsent("c-7", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP", labs, treatment),
		// Malformed grantees (no id) match nobody.
		activeConsent("c-8", "pat-1", ledgerapi.GranteeOrg, "", labs, treatment),
		activeConsent("c-9", "pat-1", ledgerapi.GranteeUser, "", labs, treatment),
		// A consent to a study is for dataset releases, never for a subject.
		activeConsent("c-10", "pat-1", ledgerapi.GranteeStudy, "study-1", labs, []string{"research"}),
	)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name               string
		patient, user, org string
		want               []string
	}{
		{"user and org grantee, sorted by consent id, revoked included", "pat-1", "dr-alice", "ProvidersMSP", []string{"c-0", "c-1", "c-3"}},
		{"a user without an organisation matches nothing", "pat-1", "dr-alice", "", []string{}},
		{"the same user name at another organisation", "pat-1", "dr-bob", "StMarysMSP", []string{}},
		{"org grantee only", "pat-1", "nurse-carol", "ProvidersMSP", []string{"c-1"}},
		{"another patient's consents are not returned", "pat-2", "dr-bob", "ResearchMSP", []string{}},
		{"the other patient's own consents", "pat-2", "dr-alice", "ProvidersMSP", []string{"c-4", "c-5"}},
		{"unknown patient", "pat-9", "dr-alice", "ProvidersMSP", []string{}},
		{"empty subject matches no user consent", "pat-1", "", "ResearchMSP", []string{"c-6"}},
		{"study grantee matches no user or org", "pat-1", "study-1", "study-1", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.Matching(tt.patient, tt.user, tt.org)
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("Matching(%q, %q, %q) ids (-want +got):\n%s", tt.patient, tt.user, tt.org, diff)
			}
			for _, c := range got {
				if c.PatientID != tt.patient {
					t.Errorf("Matching returned consent %s of patient %s", c.ConsentID, c.PatientID)
				}
			}
		})
	}
}

func TestViewLive(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, v *View)
		wantLive bool
		wantWhy  string
	}{
		{
			name:    "not live before following",
			setup:   func(t *testing.T, v *View) {},
			wantWhy: "not following the ledger",
		},
		{
			name: "not live before following even with blocks applied",
			setup: func(t *testing.T, v *View) {
				applyEmpty(t, v, 3)
			},
			wantWhy: "not following the ledger",
		},
		{
			name:    "catching up while next < target",
			setup:   func(t *testing.T, v *View) { applyEmpty(t, v, 2); v.follow(5) },
			wantWhy: "catching up with the ledger (block 2 of 5)",
		},
		{
			name:    "one block short of the target",
			setup:   func(t *testing.T, v *View) { v.follow(3); applyEmpty(t, v, 2) },
			wantWhy: "catching up with the ledger (block 2 of 3)",
		},
		{
			name:     "live once next reaches the target",
			setup:    func(t *testing.T, v *View) { v.follow(3); applyEmpty(t, v, 3) },
			wantLive: true,
		},
		{
			name:     "live at once when the view is already past the height",
			setup:    func(t *testing.T, v *View) { applyEmpty(t, v, 4); v.follow(2) },
			wantLive: true,
		},
		{
			name:    "stop makes it not live",
			setup:   func(t *testing.T, v *View) { v.follow(1); applyEmpty(t, v, 1); v.stop() },
			wantWhy: "not following the ledger",
		},
		{
			name: "restore makes it not live",
			setup: func(t *testing.T, v *View) {
				v.follow(0)
				v.restore(viewState{State: follow.State{Checkpoint: ledger.Checkpoint{Next: 7}}})
			},
			wantWhy: "not following the ledger",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewView()
			tt.setup(t, v)
			live, why := v.Live()
			if live != tt.wantLive {
				t.Fatalf("Live() = %v (%q), want %v", live, why, tt.wantLive)
			}
			if tt.wantLive && why != "" {
				t.Errorf("Live() reason = %q, want none when live", why)
			}
			if !tt.wantLive && !strings.Contains(why, tt.wantWhy) {
				t.Errorf("Live() reason = %q, want it to mention %q", why, tt.wantWhy)
			}
		})
	}
}

// applyEmpty applies empty blocks until the view's next block is n.
func applyEmpty(t *testing.T, v *View, n uint64) {
	t.Helper()
	for b := v.Checkpoint().Next; b < n; b++ {
		if err := v.Apply(ledger.Block{Number: b}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestViewAwait(t *testing.T) {
	c := activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", []string{"labs"}, []string{"treatment"})
	other := activeConsent("c-2", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", []string{"labs"}, []string{"treatment"})

	t.Run("returns once the grant is applied", func(t *testing.T) {
		v := NewView()
		done := make(chan error, 1)
		go func() { done <- v.Await(testContext(t), "pat-1", "c-1", c.GrantTxID) }()
		// An unrelated change wakes the waiter, which must keep waiting.
		if err := v.Apply(ledger.Block{Number: 0, Events: grantedEvents(t, other)}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("Await returned (%v) before the transaction was applied", err)
		default:
		}
		if err := v.Apply(ledger.Block{Number: 1, Events: grantedEvents(t, c)}); err != nil {
			t.Fatal(err)
		}
		if err := waitDone(t, "Await", done); err != nil {
			t.Fatalf("Await = %v, want nil", err)
		}
	})
	t.Run("returns once the revoke is applied", func(t *testing.T) {
		v := liveView(t, c)
		done := make(chan error, 1)
		go func() { done <- v.Await(testContext(t), "pat-1", "c-1", revoked(c).RevokeTxID) }()
		if err := v.Apply(ledger.Block{Number: 1, Events: []ledger.Event{consentEvent(t, eventConsentRevoked, revoked(c))}}); err != nil {
			t.Fatal(err)
		}
		if err := waitDone(t, "Await", done); err != nil {
			t.Fatalf("Await = %v, want nil", err)
		}
	})
	t.Run("returns at once when already applied", func(t *testing.T) {
		v := liveView(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := v.Await(ctx, "pat-1", "c-1", c.GrantTxID); err != nil {
			t.Fatalf("Await = %v, want nil", err)
		}
	})
	tests := []struct {
		name                   string
		view                   func(t *testing.T) *View
		patient, consent, txID string
	}{
		{"timeout when nothing is applied", func(t *testing.T) *View { return NewView() }, "pat-1", "c-1", c.GrantTxID},
		{"timeout when the consent is there from another transaction", func(t *testing.T) *View { return liveView(t, c) }, "pat-1", "c-1", "tx-other"},
		{"timeout when the transaction is another patient's consent", func(t *testing.T) *View { return liveView(t, c) }, "pat-2", "c-1", c.GrantTxID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.view(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			err := v.Await(ctx, tt.patient, tt.consent, tt.txID)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Await = %v, want context.DeadlineExceeded", err)
			}
		})
	}
}

func TestViewStateRestore(t *testing.T) {
	labs, treatment := []string{"labs"}, []string{"treatment"}
	tests := []struct {
		name   string
		blocks []ledger.Block
	}{
		{"empty view", nil},
		{"empty blocks only", []ledger.Block{{Number: 0}, {Number: 1}}},
		{"consents of two patients", []ledger.Block{
			{Number: 0, Events: grantedEvents(t,
				activeConsent("c-2", "pat-2", ledgerapi.GranteeOrg, "ProvidersMSP", labs, treatment),
				activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labs, treatment))},
			{Number: 1},
			{Number: 2, Events: []ledger.Event{consentEvent(t, eventConsentRevoked,
				revoked(activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labs, treatment)))}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewView()
			for _, b := range tt.blocks {
				if err := v.Apply(b); err != nil {
					t.Fatal(err)
				}
			}
			v.follow(0)
			want := v.state()
			if want.Checkpoint.Next != uint64(len(tt.blocks)) {
				t.Fatalf("state checkpoint = %d, want %d", want.Checkpoint.Next, len(tt.blocks))
			}
			// Through JSON, as a snapshot goes.
			raw, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			var s viewState
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			fresh := NewView()
			// Content the restore must replace.
			if err := fresh.Apply(ledger.Block{Number: 0, Events: grantedEvents(t, activeConsent("c-stale", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labs, treatment))}); err != nil {
				t.Fatal(err)
			}
			fresh.restore(s)
			if diff := cmp.Diff(want, fresh.state()); diff != "" {
				t.Errorf("state after restore (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ids(v.Matching("pat-1", "dr-alice", "ProvidersMSP")), ids(fresh.Matching("pat-1", "dr-alice", "ProvidersMSP"))); diff != "" {
				t.Errorf("Matching after restore (-original +restored):\n%s", diff)
			}
			if live, _ := fresh.Live(); live {
				t.Error("a restored view is live before it follows the ledger")
			}
			// The restored view continues from the checkpoint.
			if err := fresh.Apply(ledger.Block{Number: want.Checkpoint.Next}); err != nil {
				t.Errorf("Apply(next block after restore): %v", err)
			}
		})
	}
}
