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

// unsafeBuiltins may not be called by a policy: a decision depends on its
// input only, never on the network, the runtime or the clock (the request
// carries its time).
var unsafeBuiltins = map[string]struct{}{
	ast.HTTPSend.Name:        {},
	ast.NetLookupIPAddr.Name: {},
	ast.OPARuntime.Name:      {},
	ast.NowNanos.Name:        {},
}

// prepared is a decision query of the policies, compiled and prepared once.
type prepared struct {
	name   string   // the query, for errors
	fields []string // the fields its result may have
	query  rego.PreparedEvalQuery
}

// prepare compiles the policies (the embedded ones, or those of WithModules)
// and prepares the query, whose result is an object with some of fields.
func prepare(ctx context.Context, query string, fields []string, opts []Option) (*prepared, error) {
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
		rego.Query(query),
		rego.SetRegoVersion(ast.RegoV1),
		rego.UnsafeBuiltins(unsafeBuiltins),
	}
	for _, name := range slices.Sorted(maps.Keys(o.modules)) {
		args = append(args, rego.Module(name, o.modules[name]))
	}
	q, err := rego.New(args...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy: preparing %s: %w", query, err)
	}
	return &prepared{name: query, fields: fields, query: q}, nil
}

// decide is the fail-closed frame of every Decide: it evaluates q on the
// input and reads the result object with read. On any failure (no query, an
// ended context, an evaluation error, an undefined or malformed result, a
// panic) it returns deny() and an error wrapping ErrEvaluation (and the
// context's error when the context ended): never what read would have said.
func decide[D any](ctx context.Context, q *prepared, input func() ast.Value, read func(map[string]any) (D, error), deny func() D) (d D, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = deny(), failure(ctx, fmt.Errorf("panic: %v", r))
		}
	}()
	if q == nil {
		return deny(), failure(ctx, errors.New("no engine"))
	}
	if err := ctx.Err(); err != nil {
		return deny(), failure(ctx, err)
	}
	obj, err := q.eval(ctx, input())
	if err != nil {
		return deny(), failure(ctx, err)
	}
	if d, err = read(obj); err != nil {
		return deny(), failure(ctx, err)
	}
	return d, nil
}

// failure is the error of a decision that could not be made.
func failure(ctx context.Context, cause error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(cause, ctxErr) {
		cause = fmt.Errorf("%w (%w)", ctxErr, cause)
	}
	return fmt.Errorf("%w: %w", ErrEvaluation, cause)
}

// eval evaluates the query and returns its result, strictly: exactly one
// object, with none but the query's fields.
func (q *prepared) eval(ctx context.Context, input ast.Value) (map[string]any, error) {
	rs, err := q.query.Eval(ctx, rego.EvalParsedInput(input))
	switch {
	case err != nil:
		return nil, err
	case len(rs) == 0:
		return nil, fmt.Errorf("%s is undefined", q.name)
	case len(rs) > 1 || len(rs[0].Expressions) != 1 || len(rs[0].Bindings) != 0:
		return nil, fmt.Errorf("%s has %d results, not one", q.name, len(rs))
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the decision is %s, not an object", describe(rs[0].Expressions[0].Value))
	}
	for key := range obj {
		if !slices.Contains(q.fields, key) {
			return nil, fmt.Errorf("the decision has an unknown field %q", key)
		}
	}
	return obj, nil
}

// reasonsOf reads the reasons of a decision: a non-empty list of non-empty
// strings.
func reasonsOf(v any) ([]string, error) {
	reasons, err := stringsOf("reasons", v)
	if err != nil {
		return nil, err
	}
	if len(reasons) == 0 || slices.Contains(reasons, "") {
		return nil, errors.New("the decision does not say why: reasons are empty")
	}
	return reasons, nil
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
