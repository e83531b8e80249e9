package policy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"healthexchange/services/domain/policy"
)

const now = "2030-06-01T12:00:00Z"

var (
	engineOnce sync.Once
	engine     *policy.Engine
	engineErr  error
)

// realEngine is the engine of the embedded policies, built once per test
// binary.
func realEngine(t testing.TB) *policy.Engine {
	t.Helper()
	engineOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		engine, engineErr = policy.New(ctx)
	})
	if engineErr != nil {
		t.Fatalf("New: %v", engineErr)
	}
	return engine
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// clinicianRead is dr-ada of clinic-north reading a lab record of pat-1 for
// treatment, without consents.
func clinicianRead() policy.Input {
	return policy.Input{
		Subject:  policy.Subject{ID: "dr-ada", Role: "clinician", Org: "clinic-north"},
		Action:   "read",
		Resource: policy.Resource{PatientID: "pat-1", Category: "labs", RecordID: "rec-1"},
		Purpose:  "treatment",
		Time:     now,
	}
}

// labsConsent is pat-1's open-ended consent to dr-ada of clinic-north for
// labs, for treatment.
func labsConsent(id string) policy.Consent {
	return policy.Consent{
		ConsentID:  id,
		PatientID:  "pat-1",
		Grantee:    policy.Grantee{Kind: "user", ID: "clinic-north/dr-ada"},
		Categories: []string{"labs"},
		Purposes:   []string{"treatment"},
		RecordIDs:  []string{},
		Status:     "active",
	}
}

func withConsent(in policy.Input, edit func(*policy.Consent)) policy.Input {
	c := labsConsent("c1")
	edit(&c)
	in.Consents = append(in.Consents, c)
	return in
}

func TestDecide(t *testing.T) {
	e := realEngine(t)
	logAccess := []string{policy.ObligationLogAccess}
	breakGlass := []string{policy.ObligationLogAccess, policy.ObligationLogBreakGlass, policy.ObligationNotifyPatient}
	none := func(*policy.Consent) {}
	pharmacist := func(in *policy.Input) {
		in.Subject = policy.Subject{ID: "ph-1", Role: "pharmacist", Org: "pharmacy-7"}
		in.Resource.Category = "prescriptions"
		in.Purpose = "dispensing"
	}
	pharmacyConsent := func(c *policy.Consent) {
		c.Grantee = policy.Grantee{Kind: "org", ID: "pharmacy-7"}
		c.Categories = []string{"prescriptions", "labs"}
		c.Purposes = []string{"dispensing"}
	}
	insurer := func(in *policy.Input) {
		in.Subject = policy.Subject{ID: "ins-1", Role: "insurer", Org: "insurer-x"}
		in.Resource.Category = "claims"
		in.Purpose = "payment"
	}
	insurerConsent := func(c *policy.Consent) {
		c.Grantee = policy.Grantee{Kind: "user", ID: "insurer-x/ins-1"}
		c.Categories = []string{"claims", "conditions"}
		c.Purposes = []string{"payment", "treatment"}
	}
	emergency := func(in *policy.Input) {
		in.Purpose = "emergency"
		in.BreakGlassReason = "  unconscious on arrival, no ID  "
	}

	tests := []struct {
		name    string
		input   func() policy.Input
		want    policy.Decision // Reasons: want[0] must be among the reasons
		reasons []string        // when set, the exact reasons
	}{
		// Rule 1: patients.
		{
			name: "patient reads own records",
			input: func() policy.Input {
				in := clinicianRead()
				in.Subject = policy.Subject{ID: "pat-1", Role: "patient"}
				in.Purpose, in.Time = "", ""
				return in
			},
			want: policy.Decision{Allow: true, Reasons: []string{"a patient may read their own records"}, Obligations: logAccess},
		},
		{
			name: "patient does not write records: organisations file them",
			input: func() policy.Input {
				in := clinicianRead()
				in.Subject = policy.Subject{ID: "pat-1", Role: "patient"}
				in.Action = "write"
				return in
			},
			want: policy.Decision{Reasons: []string{"records are filed by the organisations that hold them: a patient reads their records, never writes them"}},
		},
		{
			name: "patient denied on another patient's records",
			input: func() policy.Input {
				in := withConsent(clinicianRead(), func(c *policy.Consent) { c.Grantee.ID = "pat-2" })
				in.Subject = policy.Subject{ID: "pat-2", Role: "patient"}
				return in
			},
			want: policy.Decision{Reasons: []string{"a patient may only access their own records"}},
		},
		// Rule 2: clinicians under a consent.
		{
			name:  "clinician reads with a user consent",
			input: func() policy.Input { return withConsent(clinicianRead(), none) },
			want:  policy.Decision{Allow: true, Reasons: []string{"allowed by consent c1"}, Obligations: logAccess, ConsentID: "c1"},
		},
		{
			name: "clinician write with a user consent denied: it allows read only",
			input: func() policy.Input {
				in := withConsent(clinicianRead(), none)
				in.Action = "write"
				return in
			},
			want:    policy.Decision{Reasons: []string{"write needs a consent to organisation clinic-north: consent c1 is given to user dr-ada and allows read only"}},
			reasons: []string{"write needs a consent to organisation clinic-north: consent c1 is given to user dr-ada and allows read only"},
		},
		{
			name: "clinician writes with an org consent",
			input: func() policy.Input {
				in := withConsent(clinicianRead(), func(c *policy.Consent) { c.Grantee = policy.Grantee{Kind: "org", ID: "clinic-north"} })
				in.Action = "write"
				return in
			},
			want: policy.Decision{Allow: true, Reasons: []string{"allowed by consent c1"}, Obligations: logAccess, ConsentID: "c1"},
		},
		{
			name: "clinician reads with an org consent",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.Grantee = policy.Grantee{Kind: "org", ID: "clinic-north"} })
			},
			want: policy.Decision{Allow: true, Reasons: []string{"allowed by consent c1"}, Obligations: logAccess, ConsentID: "c1"},
		},
		{
			name: "clinician of another org denied",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.Grantee = policy.Grantee{Kind: "org", ID: "clinic-south"} })
			},
			want: policy.Decision{Reasons: []string{"no consent is given to this subject"}},
		},
		{
			name: "consent to another clinician denied",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.Grantee.ID = "dr-bob" })
			},
			want: policy.Decision{Reasons: []string{"no consent is given to this subject"}},
		},
		{
			name:  "clinician without consent denied",
			input: clinicianRead,
			want:  policy.Decision{Reasons: []string{"no consent is given to this subject"}},
		},
		{
			name: "consent of another patient ignored",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.PatientID = "pat-2" })
			},
			want: policy.Decision{Reasons: []string{"no consent is given to this subject"}},
		},
		{
			name: "expired consent denied",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.ExpiresAt = "2030-06-01T11:00:00Z" })
			},
			want: policy.Decision{Reasons: []string{"consent c1 expired at 2030-06-01T11:00:00Z"}},
		},
		{
			name: "consent expiring at the request time denied",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.ExpiresAt = now })
			},
			want: policy.Decision{Reasons: []string{"consent c1 expired at " + now}},
		},
		{
			name: "not yet valid consent denied",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.NotBefore = "2030-07-01T00:00:00Z" })
			},
			want: policy.Decision{Reasons: []string{"consent c1 is not yet valid: it starts at 2030-07-01T00:00:00Z"}},
		},
		{
			name: "consent within its window allows",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) {
					c.NotBefore, c.ExpiresAt = now, "2030-06-01T12:00:00.000000001Z"
				})
			},
			want: policy.Decision{Allow: true, Reasons: []string{"allowed by consent c1"}, Obligations: logAccess, ConsentID: "c1"},
		},
		{
			name: "revoked consent denied",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.Status = "revoked" })
			},
			want: policy.Decision{Reasons: []string{"consent c1 is revoked"}},
		},
		{
			name: "wrong category denied",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.Categories = []string{"vitals"} })
			},
			want: policy.Decision{Reasons: []string{"category labs is not granted by consent c1"}},
		},
		{
			name: "wrong purpose denied",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.Purposes = []string{"operations"} })
			},
			want: policy.Decision{Reasons: []string{"purpose treatment is not granted by consent c1"}},
		},
		{
			name: "clinician purpose other than treatment denied",
			input: func() policy.Input {
				in := withConsent(clinicianRead(), func(c *policy.Consent) { c.Purposes = []string{"operations"} })
				in.Purpose = "operations"
				return in
			},
			want: policy.Decision{Reasons: []string{"clinicians need purpose treatment (or emergency, for break-glass)"}},
		},
		{
			name: "record named by the consent allows",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.RecordIDs = []string{"rec-0", "rec-1"} })
			},
			want: policy.Decision{Allow: true, Reasons: []string{"allowed by consent c1"}, Obligations: logAccess, ConsentID: "c1"},
		},
		{
			name: "record not named by the consent denied",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.RecordIDs = []string{"rec-0"} })
			},
			want: policy.Decision{Reasons: []string{"record rec-1 is not granted by consent c1"}},
		},
		{
			name: "no particular record needs a consent without record ids",
			input: func() policy.Input {
				in := withConsent(clinicianRead(), func(c *policy.Consent) { c.RecordIDs = []string{"rec-1"} })
				in.Resource.RecordID = ""
				return in
			},
			want: policy.Decision{Reasons: []string{"record not granted: consent c1 covers named records only"}},
		},
		{
			name: "nil record ids mean every record",
			input: func() policy.Input {
				return withConsent(clinicianRead(), func(c *policy.Consent) { c.RecordIDs = nil })
			},
			want: policy.Decision{Allow: true, Reasons: []string{"allowed by consent c1"}, Obligations: logAccess, ConsentID: "c1"},
		},
		{
			name: "lowest matching consent wins",
			input: func() policy.Input {
				in := clinicianRead()
				in.Consents = []policy.Consent{labsConsent("c9"), labsConsent("c4"), labsConsent("c7")}
				in.Consents[1].Grantee = policy.Grantee{Kind: "org", ID: "clinic-north"}
				return withConsent(in, func(c *policy.Consent) { c.ConsentID, c.Status = "c1", "revoked" })
			},
			want: policy.Decision{Allow: true, Reasons: []string{"allowed by consent c4"}, Obligations: logAccess, ConsentID: "c4"},
		},
		// Rule 3: pharmacists and insurers.
		{
			name: "pharmacist reads prescriptions with consent",
			input: func() policy.Input {
				in := clinicianRead()
				pharmacist(&in)
				return withConsent(in, pharmacyConsent)
			},
			want: policy.Decision{Allow: true, Reasons: []string{"allowed by consent c1"}, Obligations: logAccess, ConsentID: "c1"},
		},
		{
			name: "pharmacist denied labs even with consent",
			input: func() policy.Input {
				in := clinicianRead()
				pharmacist(&in)
				in.Resource.Category = "labs"
				return withConsent(in, pharmacyConsent)
			},
			want:    policy.Decision{Reasons: []string{"pharmacists may only access prescriptions"}},
			reasons: []string{"pharmacists may only access prescriptions"},
		},
		{
			name: "pharmacist write denied",
			input: func() policy.Input {
				in := clinicianRead()
				pharmacist(&in)
				in.Action = "write"
				return withConsent(in, pharmacyConsent)
			},
			want: policy.Decision{Reasons: []string{"pharmacists may only read"}},
		},
		{
			name: "pharmacist without consent denied",
			input: func() policy.Input {
				in := clinicianRead()
				pharmacist(&in)
				return in
			},
			want: policy.Decision{Reasons: []string{"no consent is given to this subject"}},
		},
		{
			name: "insurer reads claims for payment",
			input: func() policy.Input {
				in := clinicianRead()
				insurer(&in)
				return withConsent(in, insurerConsent)
			},
			want: policy.Decision{Allow: true, Reasons: []string{"allowed by consent c1"}, Obligations: logAccess, ConsentID: "c1"},
		},
		{
			name: "insurer denied conditions even with consent",
			input: func() policy.Input {
				in := clinicianRead()
				insurer(&in)
				in.Resource.Category = "conditions"
				return withConsent(in, insurerConsent)
			},
			reasons: []string{"insurers may only access claims"},
			want:    policy.Decision{Reasons: []string{"insurers may only access claims"}},
		},
		{
			name: "insurer for treatment denied",
			input: func() policy.Input {
				in := clinicianRead()
				insurer(&in)
				in.Purpose = "treatment"
				return withConsent(in, insurerConsent)
			},
			want: policy.Decision{Reasons: []string{"insurers may only use purpose payment"}},
		},
		// Rule 4: researchers.
		{
			name: "researcher denied even with a research consent",
			input: func() policy.Input {
				in := clinicianRead()
				in.Subject = policy.Subject{ID: "res-1", Role: "researcher", Org: "uni"}
				in.Purpose = "research"
				return withConsent(in, func(c *policy.Consent) {
					c.Grantee.ID, c.Purposes = "res-1", []string{"research"}
				})
			},
			reasons: []string{"researchers have no direct record access: anonymized datasets are the only research access"},
			want:    policy.Decision{Reasons: []string{"researchers have no direct record access: anonymized datasets are the only research access"}},
		},
		// Rule 5: break-glass.
		{
			name: "break-glass read allowed with obligations",
			input: func() policy.Input {
				in := clinicianRead()
				emergency(&in)
				in.Resource.Category = "notes"
				return in
			},
			want: policy.Decision{
				Allow:       true,
				Reasons:     []string{"break-glass: emergency read by clinician dr-ada without consent"},
				Obligations: breakGlass,
			},
		},
		{
			name: "break-glass without reason denied",
			input: func() policy.Input {
				in := clinicianRead()
				emergency(&in)
				in.BreakGlassReason = ""
				return in
			},
			want: policy.Decision{Reasons: []string{"break-glass needs a break_glass_reason of at least 10 characters"}},
		},
		{
			name: "break-glass with a blank reason denied",
			input: func() policy.Input {
				in := clinicianRead()
				emergency(&in)
				in.BreakGlassReason = "  \t  short \n   "
				return in
			},
			want: policy.Decision{Reasons: []string{"break-glass needs a break_glass_reason of at least 10 characters"}},
		},
		{
			name: "break-glass write denied",
			input: func() policy.Input {
				in := clinicianRead()
				emergency(&in)
				in.Action = "write"
				return in
			},
			want: policy.Decision{Reasons: []string{"break-glass allows read only, never write"}},
		},
		{
			name: "break-glass by a pharmacist denied",
			input: func() policy.Input {
				in := clinicianRead()
				pharmacist(&in)
				emergency(&in)
				return in
			},
			want: policy.Decision{Reasons: []string{"break-glass (purpose emergency) is only for clinicians"}},
		},
		// Rule 6: malformed requests.
		{
			name: "unknown role denied",
			input: func() policy.Input {
				in := withConsent(clinicianRead(), none)
				in.Subject.Role = "nurse"
				return in
			},
			reasons: []string{`unknown role "nurse"`},
			want:    policy.Decision{Reasons: []string{`unknown role "nurse"`}},
		},
		{
			name: "unknown action denied",
			input: func() policy.Input {
				in := withConsent(clinicianRead(), none)
				in.Action = "delete"
				return in
			},
			want: policy.Decision{Reasons: []string{`unknown action "delete": must be read or write`}},
		},
		{
			name: "missing subject denied",
			input: func() policy.Input {
				in := withConsent(clinicianRead(), func(c *policy.Consent) { c.Grantee.ID = "" })
				in.Subject.ID = ""
				return in
			},
			want: policy.Decision{Reasons: []string{"subject.id is missing"}},
		},
		{
			name: "missing time denied",
			input: func() policy.Input {
				in := withConsent(clinicianRead(), none)
				in.Time = ""
				return in
			},
			want: policy.Decision{Reasons: []string{"time is missing (required for role clinician)"}},
		},
		{
			name: "invalid time denied",
			input: func() policy.Input {
				in := withConsent(clinicianRead(), none)
				in.Time = "1 June 2030"
				return in
			},
			want: policy.Decision{Reasons: []string{`time "1 June 2030" is not an RFC 3339 time`}},
		},
		{
			name:  "empty input denied",
			input: func() policy.Input { return policy.Input{} },
			want:  policy.Decision{Reasons: []string{"subject.role is missing"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Decide(testContext(t), tc.input())
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got.Allow != tc.want.Allow {
				t.Fatalf("allow = %v, want %v (reasons %q)", got.Allow, tc.want.Allow, got.Reasons)
			}
			if tc.want.Allow || tc.reasons != nil {
				want := tc.want
				if tc.reasons != nil {
					want.Reasons = tc.reasons
				}
				if want.Obligations == nil {
					want.Obligations = []string{}
				}
				if len(got.Codes) == 0 {
					t.Errorf("a decision without codes: %+v", got)
				}
				want.Codes = got.Codes // the codes are checked by the Rego tests
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("decision (-want +got):\n%s", diff)
				}
				return
			}
			if !slices.Contains(got.Reasons, tc.want.Reasons[0]) {
				t.Errorf("reasons = %q, want among them %q", got.Reasons, tc.want.Reasons[0])
			}
			if len(got.Obligations) != 0 || got.ConsentID != "" {
				t.Errorf("a deny with obligations %q or consent %q", got.Obligations, got.ConsentID)
			}
		})
	}
}

// TestInputDocument checks that the input the engine builds is the JSON
// document of Input, as a caller logging the request would see it.
func TestInputDocument(t *testing.T) {
	in := clinicianRead()
	in.BreakGlassReason = "ünïcode reason"
	in.Consents = []policy.Consent{
		labsConsent("c1"),
		{ConsentID: "c2", PatientID: "pat-1", Grantee: policy.Grantee{Kind: "org", ID: "clinic-north"},
			Categories: []string{"labs", "notes"}, Purposes: []string{"treatment"}, RecordIDs: []string{"rec-1"},
			NotBefore: "2030-01-01T00:00:00Z", ExpiresAt: "2031-01-01T00:00:00Z", Status: "revoked"},
		{ConsentID: "c3"}, // nil lists
	}
	for _, tc := range []struct {
		name string
		in   policy.Input
	}{{"full", in}, {"zero", policy.Input{}}} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			got, err := policy.InputDocument(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			// What the engine derives for the fast allow, checked apart.
			doc := got.(map[string]any)
			subject := doc["subject"].(map[string]any)
			if subject["key"] != tc.in.Subject.Org+"/"+tc.in.Subject.ID {
				t.Errorf("subject key %v", subject["key"])
			}
			delete(subject, "key")
			if tc.in.Time != "" {
				want, _ := time.Parse(time.RFC3339Nano, tc.in.Time)
				if doc["time_ns"] != json.Number(fmt.Sprint(want.UnixNano())) {
					t.Errorf("time_ns %v, want %d", doc["time_ns"], want.UnixNano())
				}
			} else if _, ok := doc["time_ns"]; ok {
				t.Error("time_ns of no time")
			}
			delete(doc, "time_ns")
			if cs, ok := doc["consents"].([]any); ok {
				for i, c := range cs {
					c := c.(map[string]any)
					nb, ea := c["not_before_ns"], c["expires_at_ns"]
					wantNB, wantEA := json.Number("0"), json.Number(fmt.Sprint(int64(math.MaxInt64)))
					if tc.in.Consents[i].NotBefore == "2030-01-01T00:00:00Z" {
						wantNB, wantEA = json.Number("1893456000000000000"), json.Number("1924992000000000000")
					}
					if nb != wantNB || ea != wantEA {
						t.Errorf("consent %d window %v..%v, want %v..%v", i, nb, ea, wantNB, wantEA)
					}
					delete(c, "not_before_ns")
					delete(c, "expires_at_ns")
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("input document (-json +engine):\n%s", diff)
			}
		})
	}
}

// TestDecideIsConcurrent decides from many goroutines at once (run with
// -race to see the engine shares nothing mutable).
func TestDecideIsConcurrent(t *testing.T) {
	e := realEngine(t)
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				in := withConsent(clinicianRead(), func(c *policy.Consent) {
					if (i+j)%2 == 1 {
						c.Status = "revoked"
					}
				})
				d, err := e.Decide(ctx, in)
				if err != nil || d.Allow != ((i+j)%2 == 0) {
					errs <- strings.Join(d.Reasons, "; ")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("wrong decision: %s", e)
	}
}

// A delegate's read goes through the Go input, not only the Rego tests'
// JSON: the engine reads Input.Delegations.
func TestDelegateRead(t *testing.T) {
	e := realEngine(t)
	in := policy.Input{Subject: policy.Subject{ID: "mum", Role: "patient"}, Action: "read",
		Resource: policy.Resource{PatientID: "kid", Category: "immunizations"}, Purpose: "treatment", Time: "2030-06-01T00:00:00Z"}
	active := policy.Delegation{DelegationID: "d-1", PatientID: "kid", DelegateID: "mum", Powers: []string{"read"}, Status: "active", ExpiresAt: "2031-01-01T00:00:00Z"}
	for name, tc := range map[string]struct {
		ds    []policy.Delegation
		allow bool
	}{
		"with a delegation to read": {[]policy.Delegation{active}, true},
		"without":                   {nil, false},
		"past its end":              {[]policy.Delegation{func() policy.Delegation { d := active; d.ExpiresAt = "2030-01-01T00:00:00Z"; return d }()}, false},
		"to grant only":             {[]policy.Delegation{func() policy.Delegation { d := active; d.Powers = []string{"grant"}; return d }()}, false},
	} {
		t.Run(name, func(t *testing.T) {
			in := in
			in.Delegations = tc.ds
			d, err := e.Decide(testContext(t), in)
			if err != nil || d.Allow != tc.allow || tc.allow && d.Codes[0] != "delegation" {
				t.Fatalf("%+v, %v", d, err)
			}
		})
	}
}
