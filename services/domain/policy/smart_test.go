package policy_test

import (
	"context"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"

	"healthexchange/policies"
	"healthexchange/services/domain/fhir"
)

// The policy's table of the record categories of each FHIR type is the
// FHIR package's: a SMART scope of a type reaches exactly the categories
// its records are filed in.
func TestPolicyTypeCategoriesAreTheFHIRPackages(t *testing.T) {
	modules, err := policies.Modules()
	if err != nil {
		t.Fatal(err)
	}
	opts := []func(*rego.Rego){rego.Query("data.health.access.type_categories")}
	for name, src := range modules {
		opts = append(opts, rego.Module(name, src))
	}
	rs, err := rego.New(opts...).Eval(context.Background())
	if err != nil || len(rs) != 1 {
		t.Fatalf("eval: %v %v", rs, err)
	}
	table := rs[0].Expressions[0].Value.(map[string]any)
	var types []string
	for typ, cats := range table {
		types = append(types, typ)
		var got []string
		for _, c := range cats.([]any) {
			got = append(got, c.(string))
		}
		slices.Sort(got)
		want := fhir.Categories(typ)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: policy says %v, fhir says %v", typ, got, want)
		}
	}
	slices.Sort(types)
	if !slices.Equal(types, fhir.Types()) {
		t.Errorf("policy types %v, fhir types %v", types, fhir.Types())
	}
}
