package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/policies"
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
	return &Engine{query: query}, nil
}

// Decide evaluates the policies for one request. On any failure it returns a
// deny whose reason starts with "policy evaluation failed", and an error
// wrapping ErrEvaluation (and the context's error when the context ended):
// never an allow.
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	var query *prepared
	if e != nil {
		query = e.query
	}
	return decide(ctx, query, in.value, decision, failedDecision)
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
