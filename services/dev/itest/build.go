//go:build integration

package itest

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
)

// Build compiles a main package (e.g. "healthexchange/services/cmd/consentd")
// into a new temporary folder and returns the binary's path and a func that
// removes the folder. It is for TestMain; the compiler's output goes to
// standard error.
func Build(pkg string) (bin string, cleanup func(), err error) {
	name := path.Base(pkg)
	dir, err := os.MkdirTemp("", name+"-test")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, name)
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building %s: %w", name, err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}
