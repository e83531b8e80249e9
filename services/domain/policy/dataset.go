package policy

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"

	"healthexchange/policies"
)

// DatasetEngine evaluates the policy on researchers' access to anonymized
// datasets. It is safe for concurrent use.
type DatasetEngine struct {
	query *prepared
}

// DatasetInput is one researcher's request on a dataset, the input document
// of the dataset policy. The JSON names are those the policy reads.
type DatasetInput struct {
	Subject DatasetSubject `json:"subject"`
	// Action is "create", or "read" (a dataset's status, the list of them,
	// a download).
	Action  string     `json:"action"`
	Dataset DatasetRef `json:"dataset"`
}

// DatasetSubject is who asks, as their token says.
type DatasetSubject struct {
	ID    string `json:"id"`
	Role  string `json:"role"`  // only "researcher" is ever allowed
	Org   string `json:"org"`   // the MSP id; only "ResearchMSP" is ever allowed
	Study string `json:"study"` // the study the token is for; "" for none
}

// DatasetRef is the dataset asked for.
type DatasetRef struct {
	StudyID    string `json:"study_id"`
	Researcher string `json:"researcher"` // who created it
	// Categories are the record categories a new dataset draws on (create
	// only): from the chaincode's categories, each once.
	Categories []string `json:"categories"`
	// K is the k-anonymity a new dataset must reach (create only), at least 2.
	K int `json:"k"`
}

// DatasetDecision is the dataset policy's answer.
type DatasetDecision struct {
	Allow bool `json:"allow"`
	// Reasons say why, for a person: one on allow, every applicable one on
	// deny. Never empty.
	Reasons []string `json:"reasons"`
}

// NewDatasetEngine compiles the policies and prepares the dataset decision
// query once.
func NewDatasetEngine(ctx context.Context, opts ...Option) (*DatasetEngine, error) {
	query, err := prepare(ctx, policies.DatasetDecisionQuery, []string{"allow", "reasons"}, opts)
	if err != nil {
		return nil, err
	}
	return &DatasetEngine{query: query}, nil
}

// Decide evaluates the dataset policy for one request. On any failure it
// returns a deny whose reason starts with "policy evaluation failed", and an
// error wrapping ErrEvaluation (and the context's error when the context
// ended): never an allow.
func (e *DatasetEngine) Decide(ctx context.Context, in DatasetInput) (DatasetDecision, error) {
	var query *prepared
	if e != nil {
		query = e.query
	}
	return decide(ctx, query, in.value, datasetDecision, failedDatasetDecision)
}

// failedDatasetDecision is the deny for a decision that could not be made.
func failedDatasetDecision() DatasetDecision {
	return DatasetDecision{Allow: false, Reasons: []string{failedReason}}
}

// datasetDecision reads the query's result strictly: allow (bool) and
// reasons (non-empty list of non-empty strings).
func datasetDecision(obj map[string]any) (DatasetDecision, error) {
	var d DatasetDecision
	var ok bool
	var err error
	if d.Allow, ok = obj["allow"].(bool); !ok {
		return DatasetDecision{}, fmt.Errorf("the decision's allow is %s, not a boolean", describe(obj["allow"]))
	}
	if d.Reasons, err = reasonsOf(obj["reasons"]); err != nil {
		return DatasetDecision{}, err
	}
	return d, nil
}

// value is the input document, built as an OPA value directly: the same
// document encoding/json makes of DatasetInput (nil categories are null).
func (in *DatasetInput) value() ast.Value {
	return ast.NewObject(
		item("subject", ast.ObjectTerm(
			item("id", ast.StringTerm(in.Subject.ID)),
			item("role", ast.StringTerm(in.Subject.Role)),
			item("org", ast.StringTerm(in.Subject.Org)),
			item("study", ast.StringTerm(in.Subject.Study)),
		)),
		item("action", ast.StringTerm(in.Action)),
		item("dataset", ast.ObjectTerm(
			item("study_id", ast.StringTerm(in.Dataset.StudyID)),
			item("researcher", ast.StringTerm(in.Dataset.Researcher)),
			item("categories", stringList(in.Dataset.Categories)),
			item("k", ast.IntNumberTerm(in.Dataset.K)),
		)),
	)
}
