package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"healthexchange/policies"
)

// ErrEvaluation is wrapped by every error of Decide: the policy could not
// give a well-formed decision, and the request is denied.
var ErrEvaluation = errors.New("policy evaluation failed")

// failedReason is the reason of a decision the policy could not make. It
// says nothing of the cause, which goes to the error (and the logs).
const failedReason = "policy evaluation failed: access denied"

// Engine evaluates the access policies. It is safe for concurrent use.
type Engine struct {
	query rego.PreparedEvalQuery
}

// Option configures New.
type Option func(*options) error

type options struct {
	modules map[string]string
}

// WithModules makes the engine evaluate these Rego v1 modules (file name to
// source) instead of the embedded policies, for tests. They must define
// data.health.access.decision.
func WithModules(modules map[string]string) Option {
	return func(o *options) error {
		if len(modules) == 0 {
			return errors.New("policy: WithModules: no module")
		}
		o.modules = maps.Clone(modules)
		return nil
	}
}

// unsafeBuiltins may not be called by a policy: a decision depends on its
// input only, never on the network, the runtime or the clock (the request
// carries its time).
var unsafeBuiltins = map[string]struct{}{
	ast.HTTPSend.Name:        {},
	ast.NetLookupIPAddr.Name: {},
	ast.OPARuntime.Name:      {},
	ast.NowNanos.Name:        {},
}

// New compiles the policies and prepares the decision query once.
func New(ctx context.Context, opts ...Option) (*Engine, error) {
	var o options
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("policy: nil option")
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.modules == nil {
		modules, err := policies.Modules()
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		o.modules = modules
	}
	args := []func(*rego.Rego){
		rego.Query(policies.DecisionQuery),
		rego.SetRegoVersion(ast.RegoV1),
		rego.UnsafeBuiltins(unsafeBuiltins),
	}
	for _, name := range slices.Sorted(maps.Keys(o.modules)) {
		args = append(args, rego.Module(name, o.modules[name]))
	}
	query, err := rego.New(args...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy: preparing %s: %w", policies.DecisionQuery, err)
	}
	return &Engine{query: query}, nil
}

// Decide evaluates the policies for one request. On any failure it returns a
// deny whose reason starts with "policy evaluation failed", and an error
// wrapping ErrEvaluation (and the context's error when the context ended):
// never an allow.
func (e *Engine) Decide(ctx context.Context, in Input) (d Decision, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = failed(ctx, fmt.Errorf("panic: %v", r))
		}
	}()
	if e == nil {
		return failed(ctx, errors.New("no engine"))
	}
	if err := ctx.Err(); err != nil {
		return failed(ctx, err)
	}
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(in.value()))
	if err != nil {
		return failed(ctx, err)
	}
	d, err = decision(rs)
	if err != nil {
		return failed(ctx, err)
	}
	return d, nil
}

// failed is the deny for a decision that could not be made.
func failed(ctx context.Context, cause error) (Decision, error) {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(cause, ctxErr) {
		cause = fmt.Errorf("%w (%w)", ctxErr, cause)
	}
	return Decision{
		Allow:       false,
		Reasons:     []string{failedReason},
		Obligations: []string{},
	}, fmt.Errorf("%w: %w", ErrEvaluation, cause)
}

// decision reads the query's result strictly: one object with exactly allow
// (bool), reasons (non-empty list of non-empty strings), obligations (list of
// known obligations; on allow it includes log-access, on deny it is empty)
// and consent_id (string, "" on deny).
func decision(rs rego.ResultSet) (Decision, error) {
	switch {
	case len(rs) == 0:
		return Decision{}, fmt.Errorf("%s is undefined", policies.DecisionQuery)
	case len(rs) > 1 || len(rs[0].Expressions) != 1 || len(rs[0].Bindings) != 0:
		return Decision{}, fmt.Errorf("%s has %d results, not one", policies.DecisionQuery, len(rs))
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("the decision is %s, not an object", describe(rs[0].Expressions[0].Value))
	}
	for key := range obj {
		if !slices.Contains([]string{"allow", "reasons", "obligations", "consent_id"}, key) {
			return Decision{}, fmt.Errorf("the decision has an unknown field %q", key)
		}
	}
	var d Decision
	var err error
	if d.Allow, ok = obj["allow"].(bool); !ok {
		return Decision{}, fmt.Errorf("the decision's allow is %s, not a boolean", describe(obj["allow"]))
	}
	if d.ConsentID, ok = obj["consent_id"].(string); !ok {
		return Decision{}, fmt.Errorf("the decision's consent_id is %s, not a string", describe(obj["consent_id"]))
	}
	if d.Reasons, err = stringsOf("reasons", obj["reasons"]); err != nil {
		return Decision{}, err
	}
	if d.Obligations, err = stringsOf("obligations", obj["obligations"]); err != nil {
		return Decision{}, err
	}
	if len(d.Reasons) == 0 || slices.Contains(d.Reasons, "") {
		return Decision{}, errors.New("the decision does not say why: reasons are empty")
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

// stringsOf reads a list of strings of the decision.
func stringsOf(field string, v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("the decision's %s is %s, not a list", field, describe(v))
	}
	out := make([]string, len(list))
	for i, e := range list {
		if out[i], ok = e.(string); !ok {
			return nil, fmt.Errorf("the decision's %s[%d] is %s, not a string", field, i, describe(e))
		}
	}
	return out, nil
}

// describe names the JSON type of a value of a result, for an error.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null or missing"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("a %T", v)
	}
}
