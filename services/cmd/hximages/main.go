// Command hximages builds the container images of the exchange's daemons
// without a container engine (make images): each daemon built static
// (CGO_ENABLED=0), one layer on an empty base, run as a non-root user,
// all written to one OCI image layout. It prints each image's digest: the
// digest to pin in deploy/ (the same sources give the same digests).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"healthexchange/services/dev/images"
)

// daemons are the images made, by binary name.
var daemons = []string{"consentd", "recordsd", "ingestd", "researchd"}

func main() {
	out := flag.String("out", ".cache/images", "the OCI image layout to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "hximages:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	work, err := os.MkdirTemp("", "hximages-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	imgs := map[string]v1.Image{}
	for _, name := range daemons {
		bin := filepath.Join(work, name)
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", bin, "./services/cmd/"+name)
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build %s: %w", name, err)
		}
		img, err := images.Image(bin, name)
		if err != nil {
			return fmt.Errorf("image %s: %w", name, err)
		}
		imgs[name] = img
	}
	if err := images.WriteLayout(out, daemons, imgs); err != nil {
		return err
	}
	for _, name := range daemons {
		d, err := imgs[name].Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s@%s\n", name, d)
	}
	fmt.Printf("OCI image layout: %s\n", out)
	return nil
}
