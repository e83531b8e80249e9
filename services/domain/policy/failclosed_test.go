package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"healthexchange/services/domain/policy"
)

// allowAll is a well-formed allow: the validation accepts it, so the broken
// variants below fail for their defect only.
const allowAll = `package health.access

decision := {"allow": true, "reasons": ["test"], "codes": ["consent"], "obligations": ["log-access"], "consent_id": ""}
`

func engineOf(t *testing.T, src string) *policy.Engine {
	t.Helper()
	e, err := policy.New(testContext(t), policy.WithModules(map[string]string{"test.rego": src}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func assertFailedClosed(t *testing.T, d policy.Decision, err error) {
	t.Helper()
	if !errors.Is(err, policy.ErrEvaluation) {
		t.Errorf("error = %v, want one wrapping ErrEvaluation", err)
	}
	if d.Allow {
		t.Errorf("allowed on failure: %+v", d)
	}
	if len(d.Reasons) != 1 || !strings.HasPrefix(d.Reasons[0], "policy evaluation failed") {
		t.Errorf("reasons = %q, want one starting with %q", d.Reasons, "policy evaluation failed")
	}
	if len(d.Obligations) != 0 || d.ConsentID != "" {
		t.Errorf("a failed decision with obligations %q or consent %q", d.Obligations, d.ConsentID)
	}
}

func TestWellFormedTestPolicyAllows(t *testing.T) {
	d, err := engineOf(t, allowAll).Decide(testContext(t), clinicianRead())
	if err != nil || !d.Allow {
		t.Fatalf("Decide = %+v, %v; want the test policy's allow", d, err)
	}
}

func TestDecideFailsClosed(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // in the error
	}{
		{"decision undefined", "package health.access\n\nallow := true\n", "undefined"},
		{"decision undefined for this input", "package health.access\n\ndecision := {\"allow\": true, \"reasons\": [\"x\"], \"codes\": [\"consent\"], \"obligations\": [\"log-access\"], \"consent_id\": \"\"} if input.nothing\n", "undefined"},
		{"decision not an object", "package health.access\n\ndecision := true\n", "not an object"},
		{"decision a list", "package health.access\n\ndecision := [true]\n", "not an object"},
		{"allow a string", strings.Replace(allowAll, `"allow": true`, `"allow": "true"`, 1), "allow is a string"},
		{"allow missing", strings.Replace(allowAll, `"allow": true, `, ``, 1), "allow is null or missing"},
		{"reasons not a list", strings.Replace(allowAll, `["test"]`, `"test"`, 1), "reasons is a string"},
		{"reasons empty", strings.Replace(allowAll, `["test"]`, `[]`, 1), "reasons are empty"},
		{"reason not a string", strings.Replace(allowAll, `["test"]`, `["test", 1]`, 1), "reasons[1]"},
		{"codes missing", strings.Replace(allowAll, `"codes": ["consent"], `, ``, 1), "codes is null or missing"},
		{"codes empty", strings.Replace(allowAll, `["consent"]`, `[]`, 1), "no reason code"},
		{"a free-text code", strings.Replace(allowAll, `["consent"]`, `["the patient said yes on the phone"]`, 1), "unknown reason code"},
		{"obligations missing", strings.Replace(allowAll, `"obligations": ["log-access"], `, ``, 1), "obligations is null or missing"},
		{"unknown obligation", strings.Replace(allowAll, `["log-access"]`, `["log-access", "ignore-me"]`, 1), "unknown obligation"},
		{"allow without log-access", strings.Replace(allowAll, `["log-access"]`, `["notify-patient"]`, 1), "log-access"},
		{"consent_id not a string", strings.Replace(allowAll, `"consent_id": ""`, `"consent_id": null`, 1), "consent_id"},
		{"unknown field", strings.Replace(allowAll, `"consent_id": ""`, `"consent_id": "", "admin": true`, 1), "unknown field"},
		{"deny with a consent", "package health.access\n\ndecision := {\"allow\": false, \"reasons\": [\"x\"], \"codes\": [\"no-consent\"], \"obligations\": [], \"consent_id\": \"c1\"}\n", "denies with"},
		{"evaluation error", "package health.access\n\ndecision := {\"allow\": true, \"reasons\": [\"a\"], \"obligations\": [\"log-access\"], \"consent_id\": \"\"} if input.action == \"read\"\n\ndecision := {\"allow\": true, \"reasons\": [\"b\"], \"obligations\": [\"log-access\"], \"consent_id\": \"\"} if input.purpose == \"treatment\"\n", "conflict"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := engineOf(t, tc.src).Decide(testContext(t), clinicianRead())
			assertFailedClosed(t, d, err)
			if err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestDecideCancelledContext(t *testing.T) {
	e := realEngine(t)
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	// The patient's own records would be allowed with a live context.
	in := clinicianRead()
	in.Subject = clinicianRead().Subject
	in.Subject.Role, in.Subject.ID = "patient", "pat-1"
	d, err := e.Decide(ctx, in)
	assertFailedClosed(t, d, err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want one wrapping context.Canceled", err)
	}
}

// TestDecideDeadlineDuringEvaluation stops a slow policy when the context's
// deadline passes, with a deny.
func TestDecideDeadlineDuringEvaluation(t *testing.T) {
	slow := `package health.access

decision := {"allow": true, "reasons": ["slow"], "obligations": ["log-access"], "consent_id": ""} if {
	every i in numbers.range(1, 5000) {
		every j in numbers.range(1, 5000) {
			i + j > 0
		}
	}
}
`
	e := engineOf(t, slow)
	ctx, cancel := context.WithTimeout(testContext(t), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	d, err := e.Decide(ctx, clinicianRead())
	assertFailedClosed(t, d, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Decide took %v after a 50ms deadline", took)
	}
}

func TestDecideNilEngine(t *testing.T) {
	var e *policy.Engine
	d, err := e.Decide(testContext(t), clinicianRead())
	assertFailedClosed(t, d, err)
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		opts []policy.Option
	}{
		{"nil option", []policy.Option{nil}},
		{"no modules", []policy.Option{policy.WithModules(map[string]string{})}},
		{"syntax error", []policy.Option{policy.WithModules(map[string]string{"x.rego": "package health.access\n\ndecision := {\n"})}},
		{"Rego v0", []policy.Option{policy.WithModules(map[string]string{"x.rego": "package health.access\n\ndecision = d { d := {} }\n"})}},
		{"unsafe builtin", []policy.Option{policy.WithModules(map[string]string{"x.rego": "package health.access\n\ndecision := time.now_ns()\n"})}},
		{"type error", []policy.Option{policy.WithModules(map[string]string{"x.rego": "package health.access\n\ndecision := 1 + \"a\"\n"})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if e, err := policy.New(testContext(t), tc.opts...); err == nil {
				t.Fatalf("New = %v, want an error", e)
			}
		})
	}
}
