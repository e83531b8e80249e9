// Package policy is the policy decision point's engine: it evaluates the
// embedded Rego access policies (package healthexchange/policies), prepared
// once, against a typed request and the patient's consents, and returns a
// decision with its reasons and obligations. It must never allow on error:
// when the policy cannot be evaluated, is undefined, answers in the wrong
// shape, or the context ends, Decide returns a deny and an error wrapping
// ErrEvaluation.
package policy
