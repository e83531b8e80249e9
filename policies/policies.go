// Package policies holds the health exchange's access policies, written in
// Rego (v1) and embedded into the binaries, with the query that asks them for
// a decision. It only provides the policy text: evaluating it is the job of
// services/domain/policy, which must deny whenever the policies cannot answer.
package policies

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// DecisionQuery is the query whose result is the access decision:
// {"allow": bool, "reasons": [string], "obligations": [string], "consent_id": string}.
const DecisionQuery = "data.health.access.decision"

// FastAllowQuery finds an allow cheaply, for a request already checked: the
// grant's code or the allowing consent's id, undefined when it finds none
// (then DecisionQuery decides). It never allows what DecisionQuery denies.
const FastAllowQuery = "data.health.access.fast_allow"

// DatasetDecisionQuery is the query whose result is a researcher's access to
// an anonymized dataset (create, or read: status, list, download):
// {"allow": bool, "reasons": [string]}.
const DatasetDecisionQuery = "data.health.research.decision"

// files are the policy modules. Every policy is listed here and no test is:
// the embed directive cannot exclude the _test.rego files beside them, and a
// test checks that no policy on disk is missing from this list.
//
//go:embed access/authz.rego
//go:embed research/dataset.rego
var files embed.FS

// Modules returns the embedded policy modules, keyed by their path under
// policies/ (for example "access/authz.rego"), as rego.Module wants them.
func Modules() (map[string]string, error) {
	modules := make(map[string]string)
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(name) != ".rego" || strings.HasSuffix(name, "_test.rego") {
			return nil
		}
		src, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		modules[name] = string(src)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policies: reading the embedded modules: %w", err)
	}
	if len(modules) == 0 {
		return nil, errors.New("policies: no module is embedded")
	}
	return modules, nil
}
