package services_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// The rules that keep the rooms of services/ apart (see README.md):
// configuration reaches libraries as values, so only the edge (mains, apps,
// the dev harness and tests) reads the development environment; a service
// never imports another service; the platform and the domain libraries
// never import a service, a store, an app or the dev harness; a store never
// imports a service.
func TestLayout(t *testing.T) {
	const mod = "healthexchange/services/"
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	role := func(pkg string) string {
		rest, ok := strings.CutPrefix(pkg, mod)
		if !ok {
			return ""
		}
		first, _, _ := strings.Cut(rest, "/")
		switch first {
		case "consent", "records", "ingest", "research":
			return "service:" + first
		}
		return first // store, domain, platform, apps, cmd, dev
	}
	never := map[string][]string{
		"service":  {"service", "apps", "cmd", "dev"},
		"store":    {"service", "apps", "cmd", "dev"},
		"domain":   {"service", "store", "apps", "cmd", "dev"},
		"platform": {"service", "store", "domain", "apps", "cmd", "dev"},
		"apps":     {"service", "store", "cmd"},
	}
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		from := role(p.ImportPath)
		kind, _, _ := strings.Cut(from, ":")
		for _, imp := range p.Imports {
			to := role(imp)
			if to == "" || to == from {
				continue
			}
			toKind, _, _ := strings.Cut(to, ":")
			for _, banned := range never[kind] {
				if toKind == banned {
					t.Errorf("%s (%s) imports %s (%s)", p.ImportPath, kind, imp, toKind)
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no import between the rooms was checked: the listing is wrong")
	}
}
