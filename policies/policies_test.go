package policies_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/policies"
)

// regoFiles reads every .rego file under policies/ (tests included), keyed by
// its path under policies/.
func regoFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	root := os.DirFS(".")
	err := fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) != ".rego" {
			return err
		}
		files[name], err = fs.ReadFile(root, name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no .rego file under policies/")
	}
	return files
}

func parseV1(name string, src []byte) (*ast.Module, error) {
	return ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
}

// TestRego runs every _test.rego test, as `opa test` would, each as a subtest.
func TestRego(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	modules := map[string]*ast.Module{}
	for name, src := range regoFiles(t) {
		m, err := parseV1(name, src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		modules[name] = m
	}
	results, err := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithEnablePrintStatements(true)).
		SetStore(inmem.New()).
		CapturePrintOutput(true).
		SetTimeout(30*time.Second).
		SetModules(modules).
		RunTests(ctx, nil)
	if err != nil {
		t.Fatalf("running the Rego tests: %v", err)
	}
	ran := 0
	for r := range results {
		ran++
		t.Run(strings.TrimPrefix(r.Package, "data.")+"."+r.Name, func(t *testing.T) {
			switch {
			case r.Error != nil:
				t.Errorf("%s: error: %v\n%s", r.Location, r.Error, r.Output)
			case r.Fail && r.FailedAt != nil:
				t.Errorf("%s: failed at %v\n%s", r.Location, r.FailedAt, r.Output)
			case r.Fail:
				t.Errorf("%s: failed\n%s", r.Location, r.Output)
			case r.Skip:
				t.Errorf("%s: skipped (todo_ tests are not allowed)", r.Location)
			}
		})
	}
	if ran == 0 {
		t.Fatal("no Rego test ran")
	}
	t.Logf("%d Rego tests ran", ran)
}

// TestRegoFormat checks that every .rego file is Rego v1 and `opa fmt` clean.
func TestRegoFormat(t *testing.T) {
	for name, src := range regoFiles(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := parseV1(name, src); err != nil {
				t.Fatalf("not Rego v1: %v", err)
			}
			formatted, err := format.SourceWithOpts(name, src, format.Opts{RegoVersion: ast.RegoV1})
			if err != nil {
				t.Fatalf("opa fmt: %v", err)
			}
			if !bytes.Equal(formatted, src) {
				t.Errorf("not opa fmt clean; formatted:\n%s", formatted)
			}
		})
	}
}

// TestRegoStrict compiles every policy and its tests with the strict checks
// of `opa check --strict` (unused variables and imports, shadowed builtins...).
func TestRegoStrict(t *testing.T) {
	modules := map[string]*ast.Module{}
	for name, src := range regoFiles(t) {
		m, err := parseV1(name, src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		modules[name] = m
	}
	c := ast.NewCompiler().WithStrict(true)
	if c.Compile(modules); c.Failed() {
		t.Fatalf("strict compile: %v", c.Errors)
	}
}

// TestModules checks that Modules returns exactly the policies on disk (each
// with a test beside it) and no test.
func TestModules(t *testing.T) {
	modules, err := policies.Modules()
	if err != nil {
		t.Fatal(err)
	}
	files := regoFiles(t)
	for name, src := range files {
		if strings.HasSuffix(name, "_test.rego") {
			if _, ok := modules[name]; ok {
				t.Errorf("%s: a test is embedded", name)
			}
			continue
		}
		got, ok := modules[name]
		switch {
		case !ok:
			t.Errorf("%s: not embedded: add it to the go:embed list in policies.go", name)
		case got != string(src):
			t.Errorf("%s: the embedded text differs from the file", name)
		}
		if _, ok := files[strings.TrimSuffix(name, ".rego")+"_test.rego"]; !ok {
			t.Errorf("%s: no _test.rego beside it", name)
		}
	}
	for name := range modules {
		if _, ok := files[name]; !ok {
			t.Errorf("%s: embedded but not on disk", name)
		}
	}
}

// TestDecisionQueryIsDefined checks that each query names a rule of the
// policies, with a default (so the decision is always defined).
func TestDecisionQueryIsDefined(t *testing.T) {
	modules, err := policies.Modules()
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]bool{}
	for name, src := range modules {
		m, err := parseV1(name, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range m.Rules {
			if r.Default {
				defaults[m.Package.Path.String()+"."+r.Head.Ref().String()] = true
			}
		}
	}
	for _, query := range []string{policies.DecisionQuery, policies.DatasetDecisionQuery} {
		if !defaults[query] {
			t.Errorf("no module has a default rule for %s", query)
		}
	}
}

// TestReasonCodesAreTheLedgers: every code a policy gives is one the access
// log accepts, so a decision's codes reach the ledger as they are.
func TestReasonCodesAreTheLedgers(t *testing.T) {
	code := regexp.MustCompile(`(?:"codes?": \[?|codes := \[)"([a-z-]+)"`)
	found := 0
	for name, src := range regoFiles(t) {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(string(src), -1) {
			if err := ledgerapi.ValidateReasonCode("code", m[1]); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			found++
		}
	}
	if found < 20 {
		t.Fatalf("found %d codes in the policies: the pattern misses them", found)
	}
}
