package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/policies"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// ErrEvaluation is wrapped by every error of the engines' Decide: the policy
// could not give a well-formed decision, and the request is denied.
var ErrEvaluation = errors.New("policy evaluation failed")

// failedReason is the reason of a decision the policy could not make. It
// says nothing of the cause, which goes to the error (and the logs).
const failedReason = "policy evaluation failed: access denied"

// Engine evaluates the access policies. It is safe for concurrent use.
type Engine struct {
	query *prepared
	// fast finds an allow cheaply (policies.FastAllowQuery); nil when the
	// modules have none.
	fast *rego.PreparedEvalQuery
}

// Option configures New and NewDatasetEngine.
type Option func(*options) error

type options struct {
	modules map[string]string
}

// WithModules makes the engine evaluate these Rego v1 modules (file name to
// source) instead of the embedded policies, for tests. They must define the
// engine's query: data.health.access.decision for New,
// data.health.research.decision for NewDatasetEngine.
func WithModules(modules map[string]string) Option {
	return func(o *options) error {
		if len(modules) == 0 {
			return errors.New("policy: WithModules: no module")
		}
		o.modules = maps.Clone(modules)
		return nil
	}
}

// decisionFields are the fields of an access decision.
var decisionFields = []string{"allow", "reasons", "codes", "obligations", "consent_id"}

// New compiles the policies and prepares the decision query once.
func New(ctx context.Context, opts ...Option) (*Engine, error) {
	query, err := prepare(ctx, policies.DecisionQuery, decisionFields, opts)
	if err != nil {
		return nil, err
	}
	fast, err := prepare(ctx, policies.FastAllowQuery, nil, opts)
	if err != nil {
		return nil, err
	}
	return &Engine{query: query, fast: &fast.query}, nil
}

// Decide evaluates the policies for one request. On any failure it returns a
// deny whose reason starts with "policy evaluation failed", and an error
// wrapping ErrEvaluation (and the context's error when the context ended):
// never an allow.
//
// An allow is looked for first with the fast allow of the policies (a few
// rules over the numeric times of the input); only when it finds none is
// the whole decision evaluated, with every reason of a deny.
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	var query *prepared
	if e != nil {
		query = e.query
	}
	v := in.value()
	if e != nil && e.fast != nil && ctx.Err() == nil {
		if d, ok := e.fastAllow(ctx, v, in.Subject.ID); ok {
			return d, nil
		}
	}
	return decide(ctx, query, func() ast.Value { return v }, decision, failedDecision)
}

// fastAllow evaluates the fast allow: an allow, with the reason, code and
// obligations decision gives the same grant, or false (no allow found, or
// anything unexpected: decision then decides).
func (e *Engine) fastAllow(ctx context.Context, input ast.Value, subjectID string) (d Decision, ok bool) {
	defer func() {
		if recover() != nil {
			d, ok = Decision{}, false
		}
	}()
	rs, err := e.fast.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil || len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, false
	}
	found, _ := rs[0].Expressions[0].Value.(string)
	switch {
	case found == "":
		return Decision{}, false
	case found == "patient-own-records":
		return Decision{Allow: true, Reasons: []string{"a patient may read their own records"}, Codes: []string{found},
			Obligations: []string{ObligationLogAccess}}, true
	case found == "break-glass":
		return Decision{Allow: true, Reasons: []string{fmt.Sprintf("break-glass: emergency read by clinician %s without consent", subjectID)},
			Codes: []string{found}, Obligations: []string{ObligationLogAccess, ObligationLogBreakGlass, ObligationNotifyPatient}}, true
	}
	return Decision{Allow: true, Reasons: []string{"allowed by consent " + found}, Codes: []string{"consent"},
		Obligations: []string{ObligationLogAccess}, ConsentID: found}, true
}

// failedDecision is the deny for a decision that could not be made.
func failedDecision() Decision {
	return Decision{
		Allow:       false,
		Reasons:     []string{failedReason},
		Codes:       []string{CodePolicyError},
		Obligations: []string{},
	}
}

// decision reads the query's result strictly: allow (bool), reasons
// (non-empty list of non-empty strings), codes (non-empty list of the access
// log's reason codes), obligations (list of known obligations; on allow it
// includes log-access, on deny it is empty) and consent_id (string, "" on
// deny).
func decision(obj map[string]any) (Decision, error) {
	var d Decision
	var err error
	var ok bool
	if d.Allow, ok = obj["allow"].(bool); !ok {
		return Decision{}, fmt.Errorf("the decision's allow is %s, not a boolean", describe(obj["allow"]))
	}
	if d.ConsentID, ok = obj["consent_id"].(string); !ok {
		return Decision{}, fmt.Errorf("the decision's consent_id is %s, not a string", describe(obj["consent_id"]))
	}
	if d.Reasons, err = reasonsOf(obj["reasons"]); err != nil {
		return Decision{}, err
	}
	if d.Codes, err = stringsOf("codes", obj["codes"]); err != nil {
		return Decision{}, err
	}
	if len(d.Codes) == 0 {
		return Decision{}, errors.New("the decision has no reason code")
	}
	for _, c := range d.Codes {
		if ledgerapi.ValidateReasonCode("code", c) != nil {
			return Decision{}, fmt.Errorf("the decision has an unknown reason code %q", c)
		}
	}
	if d.Obligations, err = stringsOf("obligations", obj["obligations"]); err != nil {
		return Decision{}, err
	}
	for _, o := range d.Obligations {
		if !slices.Contains([]string{ObligationLogAccess, ObligationLogBreakGlass, ObligationNotifyPatient}, o) {
			return Decision{}, fmt.Errorf("the decision has an unknown obligation %q", o)
		}
	}
	switch {
	case d.Allow && !slices.Contains(d.Obligations, ObligationLogAccess):
		return Decision{}, fmt.Errorf("the decision allows without the %s obligation", ObligationLogAccess)
	case !d.Allow && (len(d.Obligations) > 0 || d.ConsentID != ""):
		return Decision{}, errors.New("the decision denies with obligations or a consent")
	}
	return d, nil
}
