package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"

	"healthexchange/policies"
	"healthexchange/services/domain/policy"
)

// typicalInput is a clinician reading a lab record, with five consents of the
// patient: other category, expired, other record, an org consent that
// matches, and a later user consent that matches too.
func typicalInput() policy.Input {
	in := clinicianRead()
	otherCategory := labsConsent("c1")
	otherCategory.Categories = []string{"vitals", "allergies"}
	expired := labsConsent("c2")
	expired.ExpiresAt = "2030-01-01T00:00:00Z"
	otherRecord := labsConsent("c3")
	otherRecord.RecordIDs = []string{"rec-7", "rec-8"}
	org := labsConsent("c4")
	org.Grantee = policy.Grantee{Kind: "org", ID: "clinic-north"}
	org.NotBefore, org.ExpiresAt = "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z"
	user := labsConsent("c5")
	user.Categories = []string{"labs", "imaging", "notes"}
	in.Consents = []policy.Consent{otherCategory, expired, otherRecord, org, user}
	return in
}

// BenchmarkDecide is one decision through the engine: building the input
// document, evaluating, validating the result.
func BenchmarkDecide(b *testing.B) {
	e := realEngine(b)
	ctx := testContext(b)
	in := typicalInput()
	d, err := e.Decide(ctx, in)
	if err != nil || !d.Allow || d.ConsentID != "c4" {
		b.Fatalf("Decide = %+v, %v; want allowed by c4", d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Decide(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBarePreparedEval is the same query on the same input with OPA
// alone: a prepared query evaluated on the input as a map, nothing else.
func BenchmarkBarePreparedEval(b *testing.B) {
	ctx := testContext(b)
	modules, err := policies.Modules()
	if err != nil {
		b.Fatal(err)
	}
	opts := []func(*rego.Rego){rego.Query(policies.DecisionQuery)}
	for name, src := range modules {
		opts = append(opts, rego.Module(name, src))
	}
	query, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(typicalInput())
	if err != nil {
		b.Fatal(err)
	}
	var input map[string]any
	if err := json.Unmarshal(raw, &input); err != nil {
		b.Fatal(err)
	}
	rs, err := query.Eval(ctx, rego.EvalInput(input))
	if err != nil || len(rs) != 1 || rs[0].Expressions[0].Value.(map[string]any)["consent_id"] != "c4" {
		b.Fatalf("Eval = %v, %v; want allowed by c4", rs, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := query.Eval(ctx, rego.EvalInput(input)); err != nil {
			b.Fatal(err)
		}
	}
}
