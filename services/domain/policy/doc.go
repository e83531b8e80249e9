// Package policy is the policy decision point's engine: it evaluates the
// embedded Rego policies (package healthexchange/policies), prepared once,
// against a typed request and returns a decision with its reasons. Engine
// decides access to patient records, given the patient's consents, with the
// obligations of an allow; DatasetEngine decides researchers' access to
// anonymized datasets. It must never allow on error: when the policy cannot
// be evaluated, is undefined, answers in the wrong shape, or the context
// ends, Decide returns a deny and an error wrapping ErrEvaluation.
package policy
