package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/auth"
)

// countingDecider counts the calls that reach another decider.
type countingDecider struct {
	inner decider
	n     atomic.Int32
}

func (c *countingDecider) Decide(ctx context.Context, in policy.Input) (policy.Decision, error) {
	c.n.Add(1)
	return c.inner.Decide(ctx, in)
}

func decisionService(t *testing.T, v *View, d decider) (*decisionAPI, *service) {
	t.Helper()
	svc := newService(t, &fakeLedger{}, v, d)
	return &decisionAPI{service: svc}, svc
}

func pendingEvents(svc *service) []ledgerapi.AccessEvent {
	return entryRecords(svc.journal.Pending(1000))
}

func codeOf(err error) codes.Code { return status.Code(err) }

var (
	labsOnly      = []string{"labs"}
	treatmentOnly = []string{"treatment"}
)

// checkEvent checks that the journaled event records the decision.
func checkEvent(t *testing.T, e ledgerapi.AccessEvent, d *consentv1.Decision, p auth.Principal, action, purpose, resource string, breakGlass bool) {
	t.Helper()
	org := p.Org
	if p.Role == auth.RolePatient {
		org = ""
	}
	want := ledgerapi.AccessEvent{
		EventID: d.GetEventId(), Actor: p.Subject, ActorRole: string(p.Role), ActorOrg: org, PatientID: d.GetResource().GetPatientId(),
		Action: action, Resource: resource, Purpose: purpose, Decision: ledgerapi.DecisionDeny,
		BreakGlass: breakGlass, BreakGlassRef: e.BreakGlassRef, ReasonCodes: e.ReasonCodes, Time: "2030-01-02T03:04:05Z",
	}
	if d.GetAllow() {
		want.Decision = ledgerapi.DecisionAllow
	}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("journaled event (-want +got):\n%s", diff)
	}
	if len(e.ReasonCodes) == 0 {
		t.Errorf("event without reason codes for reasons %q", d.GetReasons())
	}
	// The chaincode would take it.
	if err := e.Validate(); err != nil {
		t.Errorf("journaled event is not a valid access event: %v", err)
	}
}

func TestAuthorizeWithRealEngine(t *testing.T) {
	alice := auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	nurse := auth.Principal{Subject: "nurse-carol", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	patient := auth.Principal{Subject: "pat-1", Role: auth.RolePatient}
	recordConsent := activeConsent("c-4", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-dave", []string{"imaging"}, treatmentOnly)
	recordConsent.RecordIDs = []string{"r-1"}
	consents := []ledgerapi.Consent{
		activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labsOnly, treatmentOnly),
		activeConsent("c-2", "pat-1", ledgerapi.GranteeOrg, "ProvidersMSP", []string{"vitals"}, treatmentOnly),
		revoked(activeConsent("c-3", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", []string{"notes"}, treatmentOnly)),
		recordConsent,
		activeConsent("c-9", "pat-2", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", []string{"imaging"}, treatmentOnly),
	}
	dave := auth.Principal{Subject: "dr-dave", Role: auth.RoleClinician, Org: "ProvidersMSP"}

	tests := []struct {
		name     string
		p        auth.Principal
		req      *consentv1.AuthorizeRequest
		view     func(t *testing.T) *View // nil: live with the consents
		wantAll  bool
		wantCID  string
		wantWhy  string // substring of the joined reasons
		resource string
		// wantPolicy: whether the policy engine may be asked.
		wantPolicy bool
	}{
		{
			name: "clinician with a treatment consent for labs: allow", p: alice,
			req:     readReq("pat-1", "labs", "", "treatment"),
			wantAll: true, wantCID: "c-1", wantWhy: "allowed by consent c-1", resource: "category/labs", wantPolicy: true,
		},
		{
			name: "org consent allows a member of the org", p: nurse,
			req:     readReq("pat-1", "vitals", "", "treatment"),
			wantAll: true, wantCID: "c-2", wantWhy: "allowed by consent c-2", resource: "category/vitals", wantPolicy: true,
		},
		{
			name: "record consent allows its record", p: dave,
			req:     readReq("pat-1", "imaging", "r-1", "treatment"),
			wantAll: true, wantCID: "c-4", wantWhy: "allowed by consent c-4", resource: "record/r-1", wantPolicy: true,
		},
		{
			name: "record consent denies another record", p: dave,
			req:     readReq("pat-1", "imaging", "r-2", "treatment"),
			wantWhy: "record r-2 is not granted by consent c-4", resource: "record/r-2", wantPolicy: true,
		},
		{
			name: "patient on their own records: allow without consent", p: patient,
			req:     readReq("pat-1", "notes", "", "treatment"),
			wantAll: true, wantWhy: "own records", resource: "category/notes", wantPolicy: true,
		},
		{
			name: "no consent to the subject: deny", p: auth.Principal{Subject: "dr-eve", Role: auth.RoleClinician, Org: "StMarysMSP"},
			req:     readReq("pat-1", "labs", "", "treatment"),
			wantWhy: "no consent is given to this subject", resource: "category/labs", wantPolicy: true,
		},
		{
			name: "category not covered: deny", p: alice,
			req:     readReq("pat-1", "imaging", "", "treatment"),
			wantWhy: "category imaging is not granted", resource: "category/imaging", wantPolicy: true,
		},
		{
			name: "revoked consent: deny", p: alice,
			req:     readReq("pat-1", "notes", "", "treatment"),
			wantWhy: "consent c-3 is revoked", resource: "category/notes", wantPolicy: true,
		},
		{
			name: "another patient's consent does not count", p: alice,
			req:     readReq("pat-1", "imaging", "", "treatment"),
			wantWhy: "category imaging is not granted by consent c-1", resource: "category/imaging", wantPolicy: true,
		},
		{
			name: "view not following: deny although a consent matches", p: alice,
			req: readReq("pat-1", "labs", "", "treatment"),
			view: func(t *testing.T) *View {
				v := liveView(t, consents...)
				v.stop()
				return v
			},
			wantWhy: "not following the ledger", resource: "category/labs",
		},
		{
			name: "view catching up: deny although a consent matches", p: alice,
			req: readReq("pat-1", "labs", "", "treatment"),
			view: func(t *testing.T) *View {
				v := liveView(t, consents...)
				v.follow(10)
				return v
			},
			wantWhy: "catching up with the ledger", resource: "category/labs",
		},
		{
			name: "write under a consent to the clinician's org: allow", p: alice,
			req:     &consentv1.AuthorizeRequest{Action: "write", Purpose: "treatment", Resource: &consentv1.Resource{PatientId: "pat-1", Category: "vitals"}},
			wantAll: true, wantCID: "c-2", wantWhy: "allowed by consent c-2", resource: "category/vitals", wantPolicy: true,
		},
		{
			name: "write under a consent to the clinician: deny, it allows read only", p: alice,
			req:     &consentv1.AuthorizeRequest{Action: "write", Purpose: "treatment", Resource: &consentv1.Resource{PatientId: "pat-1", Category: "labs"}},
			wantWhy: "write needs a consent to organisation ProvidersMSP: consent c-1 is given to user dr-alice and allows read only", resource: "category/labs", wantPolicy: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v *View
			if tt.view != nil {
				v = tt.view(t)
			} else {
				v = liveView(t, consents...)
			}
			dec := &countingDecider{inner: realEngine(t)}
			api, svc := decisionService(t, v, dec)
			resp, err := api.Authorize(auth.NewContext(testContext(t), tt.p), tt.req)
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			d := resp.GetDecision()
			if d.GetAllow() != tt.wantAll {
				t.Errorf("allow = %v, want %v (reasons %q)", d.GetAllow(), tt.wantAll, d.GetReasons())
			}
			if d.GetConsentId() != tt.wantCID {
				t.Errorf("consent id = %q, want %q", d.GetConsentId(), tt.wantCID)
			}
			if why := strings.Join(d.GetReasons(), "; "); !strings.Contains(why, tt.wantWhy) {
				t.Errorf("reasons = %q, want them to mention %q", why, tt.wantWhy)
			}
			if d.GetAllow() && !slices.Contains(d.GetObligations(), policy.ObligationLogAccess) {
				t.Errorf("obligations = %q, want %s on allow", d.GetObligations(), policy.ObligationLogAccess)
			}
			if !proto.Equal(d.GetResource(), tt.req.GetResource()) {
				t.Errorf("decision resource = %v, want the request's %v", d.GetResource(), tt.req.GetResource())
			}
			if asked := dec.n.Load() > 0; asked != tt.wantPolicy {
				t.Errorf("policy engine asked = %v, want %v", asked, tt.wantPolicy)
			}
			events := pendingEvents(svc)
			if len(events) != 1 {
				t.Fatalf("journal holds %d events, want 1", len(events))
			}
			checkEvent(t, events[0], d, tt.p, tt.req.GetAction(), tt.req.GetPurpose(), tt.resource, false)
		})
	}
}

func readReq(patient, category, record, purpose string) *consentv1.AuthorizeRequest {
	return &consentv1.AuthorizeRequest{Action: "read", Purpose: purpose,
		Resource: &consentv1.Resource{PatientId: patient, Category: category, RecordId: record}}
}

func TestBatchAuthorize(t *testing.T) {
	alice := auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	v := liveView(t, activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labsOnly, treatmentOnly))
	api, svc := decisionService(t, v, realEngine(t))
	resources := []*consentv1.Resource{
		{PatientId: "pat-1", Category: "labs"},
		{PatientId: "pat-1", Category: "imaging"},
		{PatientId: "pat-1", Category: "labs", RecordId: "r-7"},
		{PatientId: "pat-2", Category: "labs"},
	}
	wantAllow := []bool{true, false, true, false}
	wantResource := []string{"category/labs", "category/imaging", "record/r-7", "category/labs"}

	resp, err := api.BatchAuthorize(auth.NewContext(testContext(t), alice),
		&consentv1.BatchAuthorizeRequest{Action: "read", Purpose: "treatment", Resources: resources})
	if err != nil {
		t.Fatalf("BatchAuthorize: %v", err)
	}
	ds := resp.GetDecisions()
	if len(ds) != len(resources) {
		t.Fatalf("%d decisions, want %d", len(ds), len(resources))
	}
	events := pendingEvents(svc)
	if len(events) != len(resources) {
		t.Fatalf("journal holds %d events, want %d", len(events), len(resources))
	}
	seen := map[string]bool{}
	for i, d := range ds {
		t.Run(wantResource[i]+"/"+resources[i].GetPatientId(), func(t *testing.T) {
			if d.GetAllow() != wantAllow[i] {
				t.Errorf("allow = %v, want %v (reasons %q)", d.GetAllow(), wantAllow[i], d.GetReasons())
			}
			if !proto.Equal(d.GetResource(), resources[i]) {
				t.Errorf("decision %d is for %v, want %v (decisions in request order)", i, d.GetResource(), resources[i])
			}
			if seen[d.GetEventId()] {
				t.Errorf("event id %s repeats", d.GetEventId())
			}
			seen[d.GetEventId()] = true
			checkEvent(t, events[i], d, alice, "read", "treatment", wantResource[i], false)
		})
	}
}

func TestAuthorizeBreakGlass(t *testing.T) {
	const words = "unconscious after a warfarin overdose, INR unknown"
	sum := sha256.Sum256([]byte(words))
	plainHash := hex.EncodeToString(sum[:])
	alice := auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	tests := []struct {
		name      string
		action    string
		wantAllow bool
	}{
		{"emergency read: allowed, recorded with the hash only", "read", true},
		{"emergency write: denied, recorded with the hash only", "write", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := bufferLog()
			api, svc := decisionService(t, liveView(t), realEngine(t))
			svc.log = log
			journalDir := filepath.Join(t.TempDir(), "access-events")
			svc.journal = openJournalIn(t, journalDir)
			svc.shipper.journal = svc.journal

			req := &consentv1.AuthorizeRequest{Action: tt.action, Purpose: "emergency", BreakGlassReason: words,
				Resource: &consentv1.Resource{PatientId: "pat-1", Category: "medications"}}
			resp, err := api.Authorize(auth.NewContext(testContext(t), alice), req)
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			d := resp.GetDecision()
			if d.GetAllow() != tt.wantAllow {
				t.Fatalf("allow = %v, want %v (reasons %q)", d.GetAllow(), tt.wantAllow, d.GetReasons())
			}
			if tt.wantAllow && !slices.Contains(d.GetObligations(), policy.ObligationNotifyPatient) {
				t.Errorf("obligations = %q, want %s", d.GetObligations(), policy.ObligationNotifyPatient)
			}
			events := pendingEvents(svc)
			if len(events) != 1 {
				t.Fatalf("journal holds %d events, want 1", len(events))
			}
			e := events[0]
			checkEvent(t, e, d, alice, tt.action, "emergency", "category/medications", true)
			if want := svc.breakGlassRef(words); e.BreakGlassRef != want {
				t.Errorf("event's break-glass ref = %q, want the keyed hash of the words (%s)", e.BreakGlassRef, want)
			}
			if e.BreakGlassRef == plainHash {
				t.Error("the ref is the plain SHA-256 of the words: anyone could test a guess against it")
			}
			raw, _ := json.Marshal(e)
			for _, leak := range []string{words, "warfarin", "overdose"} {
				if strings.Contains(string(raw), leak) {
					t.Errorf("event %s carries the clinician's words (%q)", raw, leak)
				}
			}
			// Nor does the journal on disk.
			files, err := os.ReadDir(journalDir)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				raw, err := os.ReadFile(filepath.Join(journalDir, f.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(raw), "warfarin") {
					t.Errorf("journal file %s carries the break-glass words", f.Name())
				}
			}
			// Nor the service's log.
			if strings.Contains(logs.String(), "warfarin") {
				t.Error("the break-glass words are in the service's log")
			}
		})
	}
}

func TestAuthorizeFailingDecider(t *testing.T) {
	alice := auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	tests := []struct {
		name    string
		d       policy.Decision
		wantWhy string
	}{
		{"error with an empty decision", policy.Decision{}, ""},
		{"error with the engine's deny", policy.Decision{Reasons: []string{"policy evaluation failed: access denied"}, Obligations: []string{}}, "policy evaluation failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeDecider{d: tt.d, err: errors.New("engine unreachable")}
			v := liveView(t, activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labsOnly, treatmentOnly))
			api, svc := decisionService(t, v, fake)
			resp, err := api.Authorize(auth.NewContext(testContext(t), alice), readReq("pat-1", "labs", "", "treatment"))
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			if fake.called() != 1 {
				t.Fatalf("decider called %d times, want 1", fake.called())
			}
			d := resp.GetDecision()
			if d.GetAllow() {
				t.Fatal("allowed although the policy engine failed")
			}
			if why := strings.Join(d.GetReasons(), "; "); !strings.Contains(why, tt.wantWhy) {
				t.Errorf("reasons = %q, want %q", why, tt.wantWhy)
			}
			// The consent in the view was offered to the engine.
			if got := fake.calls[0].Prepared; len(got) != 1 || got[0].ConsentID() != "c-1" {
				t.Errorf("consents given to the policy = %+v, want c-1", got)
			}
			events := pendingEvents(svc)
			if len(events) != 1 || events[0].Decision != ledgerapi.DecisionDeny || events[0].EventID != d.GetEventId() {
				t.Fatalf("journal = %+v, want one deny event %s", events, d.GetEventId())
			}
		})
	}
}

func TestAuthorizeJournalClosed(t *testing.T) {
	alice := auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	tests := []struct {
		name string
		call func(ctx context.Context, api *decisionAPI) (proto.Message, error)
	}{
		{"Authorize", func(ctx context.Context, api *decisionAPI) (proto.Message, error) {
			return api.Authorize(ctx, readReq("pat-1", "labs", "", "treatment"))
		}},
		{"BatchAuthorize", func(ctx context.Context, api *decisionAPI) (proto.Message, error) {
			return api.BatchAuthorize(ctx, &consentv1.BatchAuthorizeRequest{Action: "read", Purpose: "treatment",
				Resources: []*consentv1.Resource{{PatientId: "pat-1", Category: "labs"}, {PatientId: "pat-1", Category: "imaging"}}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := liveView(t, activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", labsOnly, treatmentOnly))
			api, svc := decisionService(t, v, realEngine(t))
			if err := svc.journal.Close(); err != nil {
				t.Fatal(err)
			}
			resp, err := tt.call(auth.NewContext(testContext(t), alice), api)
			if codeOf(err) != codes.Unavailable {
				t.Fatalf("error = %v, want code Unavailable", err)
			}
			if !isNilMessage(resp) {
				t.Errorf("response = %v, want none: a decision that is not recorded is not given", resp)
			}
		})
	}
}

// isNilMessage reports whether m is nil, typed or not.
func isNilMessage(m proto.Message) bool {
	return m == nil || !m.ProtoReflect().IsValid()
}

func TestAuthorizeInvalid(t *testing.T) {
	alice := auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	labs := func() *consentv1.Resource { return &consentv1.Resource{PatientId: "pat-1", Category: "labs"} }
	many := func(n int) []*consentv1.Resource {
		out := make([]*consentv1.Resource, n)
		for i := range out {
			out[i] = labs()
		}
		return out
	}
	single := func(action, purpose string, r *consentv1.Resource) func(context.Context, *decisionAPI) error {
		return func(ctx context.Context, api *decisionAPI) error {
			_, err := api.Authorize(ctx, &consentv1.AuthorizeRequest{Action: action, Purpose: purpose, Resource: r})
			return err
		}
	}
	batch := func(rs []*consentv1.Resource) func(context.Context, *decisionAPI) error {
		return func(ctx context.Context, api *decisionAPI) error {
			_, err := api.BatchAuthorize(ctx, &consentv1.BatchAuthorizeRequest{Action: "read", Purpose: "treatment", Resources: rs})
			return err
		}
	}
	tests := []struct {
		name    string
		call    func(context.Context, *decisionAPI) error
		wantMsg string
	}{
		{"bad action", single("delete", "treatment", labs()), "action"},
		{"empty action", single("", "treatment", labs()), "action"},
		{"bad category", single("read", "treatment", &consentv1.Resource{PatientId: "pat-1", Category: "genome"}), "resource.category"},
		{"bad purpose", single("read", "marketing", labs()), "purpose"},
		{"missing purpose", single("read", "", labs()), "purpose"},
		{"missing resource", single("read", "treatment", nil), "resource is required"},
		{"missing patient", single("read", "treatment", &consentv1.Resource{Category: "labs"}), "resource.patient_id"},
		{"bad record id", single("read", "treatment", &consentv1.Resource{PatientId: "pat-1", Category: "labs", RecordId: "r 1"}), "resource.record_id"},
		{"break-glass reason too long", func(ctx context.Context, api *decisionAPI) error {
			_, err := api.Authorize(ctx, &consentv1.AuthorizeRequest{Action: "read", Purpose: "emergency",
				BreakGlassReason: strings.Repeat("x", 501), Resource: labs()})
			return err
		}, "break_glass_reason"},
		{"batch of 0", batch(nil), "1 to 100"},
		{"batch of 101", batch(many(101)), "1 to 100"},
		{"batch with one bad resource", batch(append(many(3), &consentv1.Resource{PatientId: "pat-1", Category: "genome"})), "resource.category"},
		{"batch with a missing resource", batch(append(many(2), nil)), "resource is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeDecider{d: policy.Decision{Allow: true, Reasons: []string{"fake allow"}}}
			api, svc := decisionService(t, liveView(t), fake)
			err := tt.call(auth.NewContext(testContext(t), alice), api)
			if codeOf(err) != codes.InvalidArgument {
				t.Fatalf("error = %v, want code InvalidArgument", err)
			}
			if msg := status.Convert(err).Message(); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to name %q", msg, tt.wantMsg)
			}
			if fake.called() != 0 {
				t.Errorf("policy asked %d times for an invalid request", fake.called())
			}
			if n := svc.journal.Len(); n != 0 {
				t.Errorf("journal holds %d events for an invalid request, want 0", n)
			}
		})
	}
	t.Run("batch of 100 is accepted", func(t *testing.T) {
		api, svc := decisionService(t, liveView(t), &fakeDecider{d: policy.Decision{Reasons: []string{"fake deny"}}})
		if err := batch(many(100))(auth.NewContext(testContext(t), alice), api); err != nil {
			t.Fatalf("BatchAuthorize(100) = %v", err)
		}
		if n := svc.journal.Len(); n != 100 {
			t.Errorf("journal holds %d events, want 100", n)
		}
	})
}

func TestAuthorizeNoPrincipal(t *testing.T) {
	tests := []struct {
		name string
		call func(context.Context, *decisionAPI) error
	}{
		{"Authorize", func(ctx context.Context, api *decisionAPI) error {
			_, err := api.Authorize(ctx, readReq("pat-1", "labs", "", "treatment"))
			return err
		}},
		{"BatchAuthorize", func(ctx context.Context, api *decisionAPI) error {
			_, err := api.BatchAuthorize(ctx, &consentv1.BatchAuthorizeRequest{Action: "read", Purpose: "treatment",
				Resources: []*consentv1.Resource{{PatientId: "pat-1", Category: "labs"}}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeDecider{d: policy.Decision{Allow: true, Reasons: []string{"fake allow"}}}
			api, svc := decisionService(t, liveView(t), fake)
			err := tt.call(testContext(t), api)
			if codeOf(err) != codes.Unauthenticated {
				t.Fatalf("error = %v, want code Unauthenticated", err)
			}
			if fake.called() != 0 || svc.journal.Len() != 0 {
				t.Errorf("policy asked %d times, %d events journaled; want none without a caller", fake.called(), svc.journal.Len())
			}
		})
	}
}

func TestAuthorizeNudgesShipper(t *testing.T) {
	alice := auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	api, svc := decisionService(t, liveView(t), &fakeDecider{d: policy.Decision{Reasons: []string{"fake deny"}}})
	svc.shipper.batch = 2
	ctx := auth.NewContext(testContext(t), alice)
	tests := []struct {
		name      string
		wantNudge bool
	}{
		{"below a batch: no nudge", false},
		{"a full batch: nudged", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := api.Authorize(ctx, readReq("pat-1", "labs", "", "treatment")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-svc.shipper.kick:
				if !tt.wantNudge {
					t.Error("shipper nudged before a batch was full")
				}
			default:
				if tt.wantNudge {
					t.Error("shipper not nudged with a full batch pending")
				}
			}
		})
	}
}

// TestAuthorizeWhoseAccessCanBeRecorded: a decision is given only when its
// access event can be written by the caller's organisation: an
// organisation that is no member of the exchange is refused, one whose
// ledger identity the service lacks gets no decision (nothing is
// journaled either way).
func TestAuthorizeWhoseAccessCanBeRecorded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		org   string
		sinks []string
		want  codes.Code
	}{
		{"a member whose identity the service holds", "StMarysMSP", []string{"ProvidersMSP", "StMarysMSP"}, codes.OK},
		{"an organisation outside the exchange", "EvilClinicMSP", []string{"ProvidersMSP", "StMarysMSP"}, codes.PermissionDenied},
		{"a member without an identity here", "PharmacyMSP", []string{"ProvidersMSP"}, codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, svc := decisionService(t, liveView(t), realEngine(t))
			svc.shipper.sinks = map[string]eventSink{}
			for _, org := range tc.sinks {
				svc.shipper.sinks[org] = &fakeSink{}
			}
			p := auth.Principal{Subject: "dr-eve", Role: auth.RoleClinician, Org: tc.org}
			_, err := api.Authorize(auth.NewContext(testContext(t), p), &consentv1.AuthorizeRequest{
				Action: "read", Purpose: "treatment", Resource: &consentv1.Resource{PatientId: "pat-1", Category: "labs"}})
			if codeOf(err) != tc.want {
				t.Fatalf("Authorize = %v, want %v", err, tc.want)
			}
			if n := len(pendingEvents(svc)); (tc.want == codes.OK) != (n == 1) {
				t.Fatalf("%d events journaled", n)
			}
		})
	}
}

// A patient the ledger does not know has no access log: a decision about
// them is a deny and nothing is journaled (the chaincode would refuse it).
func TestAuthorizeUnregisteredPatient(t *testing.T) {
	v := liveView(t, activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "ProvidersMSP/dr-alice", []string{"labs"}, []string{"treatment"}))
	d := &fakeDecider{d: policy.Decision{Allow: true, Reasons: []string{"allowed"}, Codes: []string{"consent"}}}
	s := newService(t, &fakeLedger{}, v, d)
	api := &decisionAPI{service: s}
	ctx := as(testContext(t), "dr-alice", auth.RoleClinician, ledgerapi.ProvidersMSP)
	resp, err := api.Authorize(ctx, readReq("pat-nobody", "labs", "", "treatment"))
	if err != nil {
		t.Fatal(err)
	}
	if dec := resp.GetDecision(); dec.GetAllow() || dec.GetEventId() != "" || !strings.Contains(strings.Join(dec.GetReasons(), " "), "not registered") {
		t.Fatalf("decision %v, want a deny without an access event", dec)
	}
	if d.called() != 0 || s.journal.Len() != 0 {
		t.Fatalf("policy called %d times, %d events journaled; want neither", d.called(), s.journal.Len())
	}
	resp, err = api.Authorize(ctx, readReq("pat-1", "labs", "", "treatment"))
	if err != nil || !resp.GetDecision().GetAllow() || s.journal.Len() != 1 {
		t.Fatalf("a registered patient: %v, %v, %d journaled", resp.GetDecision(), err, s.journal.Len())
	}
}
