package policy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"healthexchange/services/domain/policy"
)

var (
	datasetEngineOnce sync.Once
	datasetEngine     *policy.DatasetEngine
	datasetEngineErr  error
)

// realDatasetEngine is the dataset engine of the embedded policies, built
// once per test binary.
func realDatasetEngine(t testing.TB) *policy.DatasetEngine {
	t.Helper()
	datasetEngineOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		datasetEngine, datasetEngineErr = policy.NewDatasetEngine(ctx)
	})
	if datasetEngineErr != nil {
		t.Fatalf("NewDatasetEngine: %v", datasetEngineErr)
	}
	return datasetEngine
}

// datasetCreate is researcher res-1 of ResearchMSP creating a 5-anonymous
// dataset of labs and conditions for their study st-1.
func datasetCreate() policy.DatasetInput {
	return policy.DatasetInput{
		Subject: policy.DatasetSubject{ID: "res-1", Role: "researcher", Org: "ResearchMSP", Study: "st-1"},
		Action:  "create",
		Dataset: policy.DatasetRef{StudyID: "st-1", Researcher: "res-1", Categories: []string{"labs", "conditions"}, K: 5},
	}
}

// datasetRead is res-1 reading a dataset of st-1 they created (status, list
// or download: no categories, no k).
func datasetRead() policy.DatasetInput {
	return policy.DatasetInput{
		Subject: datasetCreate().Subject,
		Action:  "read",
		Dataset: policy.DatasetRef{StudyID: "st-1", Researcher: "res-1"},
	}
}

func TestDatasetDecide(t *testing.T) {
	e := realDatasetEngine(t)
	deny := func(reasons ...string) policy.DatasetDecision {
		return policy.DatasetDecision{Allow: false, Reasons: reasons}
	}
	tests := []struct {
		name  string
		input policy.DatasetInput
		edit  func(*policy.DatasetInput)
		want  policy.DatasetDecision
	}{
		{
			name:  "create allowed",
			input: datasetCreate(),
			want:  policy.DatasetDecision{Allow: true, Reasons: []string{"researcher res-1 may create a dataset of study st-1"}},
		},
		{
			name:  "create allowed at k 2 with every category",
			input: datasetCreate(),
			edit: func(in *policy.DatasetInput) {
				in.Dataset.K = 2
				in.Dataset.Categories = []string{"demographics", "conditions", "medications", "prescriptions",
					"allergies", "immunizations", "labs", "imaging", "notes", "vitals", "claims"}
			},
			want: policy.DatasetDecision{Allow: true, Reasons: []string{"researcher res-1 may create a dataset of study st-1"}},
		},
		{
			name:  "read allowed",
			input: datasetRead(),
			want:  policy.DatasetDecision{Allow: true, Reasons: []string{"researcher res-1 may read their datasets of study st-1"}},
		},
		{
			name:  "read ignores categories and k",
			input: datasetRead(),
			edit: func(in *policy.DatasetInput) {
				in.Dataset.Categories, in.Dataset.K = []string{"genome", "genome"}, 1
			},
			want: policy.DatasetDecision{Allow: true, Reasons: []string{"researcher res-1 may read their datasets of study st-1"}},
		},
		{
			name:  "patient denied",
			input: datasetRead(),
			edit:  func(in *policy.DatasetInput) { in.Subject.Role = "patient" },
			want:  deny(`datasets are for researchers only, not for role "patient"`),
		},
		{
			name:  "clinician denied",
			input: datasetCreate(),
			edit: func(in *policy.DatasetInput) {
				in.Subject = policy.DatasetSubject{ID: "dr-ada", Role: "clinician", Org: "ProvidersMSP", Study: "st-1"}
				in.Dataset.Researcher = "dr-ada"
			},
			want: deny(
				`a researcher must belong to organisation ResearchMSP, not "ProvidersMSP"`,
				`datasets are for researchers only, not for role "clinician"`,
			),
		},
		{
			name:  "token without a study denied",
			input: datasetRead(),
			edit:  func(in *policy.DatasetInput) { in.Subject.Study = "" },
			want:  deny("a researcher needs a study id"),
		},
		{
			name:  "token and dataset without a study denied",
			input: datasetCreate(),
			edit:  func(in *policy.DatasetInput) { in.Subject.Study, in.Dataset.StudyID = "", "" },
			want:  deny("a researcher needs a study id", "dataset.study_id is missing"),
		},
		{
			name:  "dataset of another study denied",
			input: datasetRead(),
			edit:  func(in *policy.DatasetInput) { in.Dataset.StudyID = "st-2" },
			want:  deny(`the dataset belongs to study "st-2", not to the researcher's study "st-1"`),
		},
		{
			name:  "dataset of another researcher denied",
			input: datasetRead(),
			edit:  func(in *policy.DatasetInput) { in.Dataset.Researcher = "res-2" },
			want:  deny(`the dataset belongs to researcher "res-2", not to "res-1"`),
		},
		{
			name:  "researcher of another organisation denied",
			input: datasetCreate(),
			edit:  func(in *policy.DatasetInput) { in.Subject.Org = "ProvidersMSP" },
			want:  deny(`a researcher must belong to organisation ResearchMSP, not "ProvidersMSP"`),
		},
		{
			name:  "k 1 denied",
			input: datasetCreate(),
			edit:  func(in *policy.DatasetInput) { in.Dataset.K = 1 },
			want:  deny("k must be at least 2, not 1"),
		},
		{
			name:  "unknown category denied",
			input: datasetCreate(),
			edit:  func(in *policy.DatasetInput) { in.Dataset.Categories = []string{"labs", "genome"} },
			want:  deny(`unknown category "genome"`),
		},
		{
			name:  "duplicate category denied",
			input: datasetCreate(),
			edit:  func(in *policy.DatasetInput) { in.Dataset.Categories = []string{"labs", "notes", "labs"} },
			want:  deny(`category "labs" is listed more than once`),
		},
		{
			name:  "no category denied",
			input: datasetCreate(),
			edit:  func(in *policy.DatasetInput) { in.Dataset.Categories = nil },
			want:  deny("a dataset needs at least one category"),
		},
		{
			name:  "unknown action denied",
			input: datasetRead(),
			edit:  func(in *policy.DatasetInput) { in.Action = "delete" },
			want:  deny(`unknown action "delete": must be create or read`),
		},
		{
			name:  "malformed id denied",
			input: datasetRead(),
			edit:  func(in *policy.DatasetInput) { in.Subject.ID, in.Dataset.Researcher = "res 1", "res 1" },
			want:  deny(`dataset.researcher "res 1" is not a valid id`, `subject.id "res 1" is not a valid id`),
		},
		{
			name:  "empty request denied",
			input: policy.DatasetInput{},
			want: deny(
				"a researcher must belong to organisation ResearchMSP: subject.org is missing",
				"a researcher needs a study id",
				"action is missing",
				"dataset.researcher is missing",
				"dataset.study_id is missing",
				"subject.id is missing",
				"subject.role is missing",
			),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.input
			if tc.edit != nil {
				tc.edit(&in)
			}
			got, err := e.Decide(testContext(t), in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDatasetInputDocument checks that the input the engine builds is the
// JSON document of DatasetInput.
func TestDatasetInputDocument(t *testing.T) {
	full := datasetCreate()
	full.Subject.Study = "ünïcode"
	for _, tc := range []struct {
		name string
		in   policy.DatasetInput
	}{{"full", full}, {"zero", policy.DatasetInput{}}} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber() // as the engine's document has its numbers
			var want any
			if err := dec.Decode(&want); err != nil {
				t.Fatal(err)
			}
			got, err := policy.DatasetInputDocument(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("input document (-json +engine):\n%s", diff)
			}
		})
	}
}

// datasetAllowAll is a well-formed allow: the validation accepts it, so the
// broken variants below fail for their defect only.
const datasetAllowAll = `package health.research

decision := {"allow": true, "reasons": ["test"]}
`

func datasetEngineOf(t *testing.T, modules map[string]string) *policy.DatasetEngine {
	t.Helper()
	e, err := policy.NewDatasetEngine(testContext(t), policy.WithModules(modules))
	if err != nil {
		t.Fatalf("NewDatasetEngine: %v", err)
	}
	return e
}

func assertDatasetFailedClosed(t *testing.T, d policy.DatasetDecision, err error) {
	t.Helper()
	if !errors.Is(err, policy.ErrEvaluation) {
		t.Errorf("error = %v, want one wrapping ErrEvaluation", err)
	}
	want := policy.DatasetDecision{Allow: false, Reasons: []string{"policy evaluation failed: access denied"}}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("decision on failure (-want +got):\n%s", diff)
	}
}

func TestDatasetWellFormedTestPolicyAllows(t *testing.T) {
	e := datasetEngineOf(t, map[string]string{"test.rego": datasetAllowAll})
	d, err := e.Decide(testContext(t), datasetCreate())
	if err != nil || !d.Allow {
		t.Fatalf("Decide = %+v, %v; want the test policy's allow", d, err)
	}
}

func TestDatasetDecideFailsClosed(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // in the error
	}{
		{"decision undefined", "package health.research\n\nallow := true\n", "undefined"},
		{"decision undefined for this input", "package health.research\n\ndecision := {\"allow\": true, \"reasons\": [\"x\"]} if input.nothing\n", "undefined"},
		{"only the access policy", "package health.access\n\ndecision := {\"allow\": true, \"reasons\": [\"x\"], \"obligations\": [\"log-access\"], \"consent_id\": \"\"}\n", "undefined"},
		{"decision not an object", "package health.research\n\ndecision := true\n", "not an object"},
		{"decision a list", "package health.research\n\ndecision := [true]\n", "not an object"},
		{"allow a string", strings.Replace(datasetAllowAll, `"allow": true`, `"allow": "true"`, 1), "allow is a string"},
		{"allow missing", strings.Replace(datasetAllowAll, `"allow": true, `, ``, 1), "allow is null or missing"},
		{"reasons missing", strings.Replace(datasetAllowAll, `, "reasons": ["test"]`, ``, 1), "reasons is null or missing"},
		{"reasons not a list", strings.Replace(datasetAllowAll, `["test"]`, `"test"`, 1), "reasons is a string"},
		{"reasons empty", strings.Replace(datasetAllowAll, `["test"]`, `[]`, 1), "reasons are empty"},
		{"reason empty", strings.Replace(datasetAllowAll, `["test"]`, `["test", ""]`, 1), "reasons are empty"},
		{"reason not a string", strings.Replace(datasetAllowAll, `["test"]`, `["test", 1]`, 1), "reasons[1]"},
		{"unknown field", strings.Replace(datasetAllowAll, `["test"]`, `["test"], "obligations": []`, 1), "unknown field"},
		{"evaluation error", "package health.research\n\ndecision := {\"allow\": true, \"reasons\": [\"a\"]} if input.action == \"create\"\n\ndecision := {\"allow\": true, \"reasons\": [\"b\"]} if input.subject.role == \"researcher\"\n", "conflict"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := datasetEngineOf(t, map[string]string{"test.rego": tc.src}).Decide(testContext(t), datasetCreate())
			assertDatasetFailedClosed(t, d, err)
			if err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestDatasetDecideCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	// Allowed with a live context (TestDatasetDecide).
	d, err := realDatasetEngine(t).Decide(ctx, datasetCreate())
	assertDatasetFailedClosed(t, d, err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want one wrapping context.Canceled", err)
	}
}

func TestDatasetDecideNilEngine(t *testing.T) {
	var e *policy.DatasetEngine
	d, err := e.Decide(testContext(t), datasetCreate())
	assertDatasetFailedClosed(t, d, err)
}

func TestNewDatasetEngineRejects(t *testing.T) {
	tests := []struct {
		name string
		opts []policy.Option
	}{
		{"nil option", []policy.Option{nil}},
		{"no modules", []policy.Option{policy.WithModules(map[string]string{})}},
		{"syntax error", []policy.Option{policy.WithModules(map[string]string{"x.rego": "package health.research\n\ndecision := {\n"})}},
		{"unsafe builtin", []policy.Option{policy.WithModules(map[string]string{"x.rego": "package health.research\n\ndecision := time.now_ns()\n"})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if e, err := policy.NewDatasetEngine(testContext(t), tc.opts...); err == nil {
				t.Fatalf("NewDatasetEngine = %v, want an error", e)
			}
		})
	}
}
