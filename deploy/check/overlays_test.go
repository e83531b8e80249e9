package check

import (
	"os"
	"path/filepath"
	"testing"
)

// The folders of deploy/k8s, from this package's folder.
const (
	k8sDir      = "../k8s"
	portsScript = "../../test-network/ports.sh"
)

// overlays are every overlay under deploy/k8s/overlays, each checked with
// the production checks too if it is prod.
func overlays(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(k8sDir, "overlays", "*", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 2 {
		t.Fatalf("found %d overlays under %s, want dev and prod at least", len(dirs), k8sDir)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// ports reads the services' ports from test-network/ports.sh, the one
// place the development network takes them from.
func ports(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open(portsScript)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ParsePorts(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func render(t *testing.T, dir string) *Set {
	t.Helper()
	s, err := Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every overlay renders, decodes strictly, and passes every check; prod
// passes the production checks too.
func TestOverlays(t *testing.T) {
	template := render(t, filepath.Join(k8sDir, "secrets"))
	common := Common(ports(t), template)
	for _, dir := range overlays(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			s := render(t, dir)
			checks := common
			if filepath.Base(dir) == "prod" {
				checks = append(checks, Check{"production", Production})
			}
			for _, err := range Run(s, checks...) {
				t.Error(err)
			}
			t.Logf("%d objects, %d workloads, %d checks", len(s.Objects), len(s.Workloads()), len(checks))
		})
	}
}

// Before an apply, HX_DEPLOY_RELEASE=1 makes the placeholders (the
// all-zero digests, the chaincode package id) an error: set it once the
// real digests are in.
func TestNoPlaceholders(t *testing.T) {
	if os.Getenv("HX_DEPLOY_RELEASE") != "1" {
		t.Skip("HX_DEPLOY_RELEASE=1 checks that no placeholder is left (deploy/README.md)")
	}
	for _, dir := range overlays(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			for _, err := range Placeholders(render(t, dir)) {
				t.Error(err)
			}
		})
	}
}
