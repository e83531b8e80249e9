package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// staticBinary builds the hxtoken CLI static, as make images builds the
// daemons.
func staticBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "hxtoken")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", bin, "healthexchange/services/cmd/hxtoken")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestImageRunsItsBinary: an image is written to an OCI layout and read
// back; the binary taken out of it runs; it runs as a non-root user; and
// the same binary makes the same digest (images can be pinned).
func TestImageRunsItsBinary(t *testing.T) {
	dir := t.TempDir()
	bin := staticBinary(t, dir)
	img, err := Image(bin, "hxtoken")
	if err != nil {
		t.Fatal(err)
	}
	again, err := Image(bin, "hxtoken")
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 || d1.Hex == "" {
		t.Fatalf("the same binary made digests %v and %v", d1, d2)
	}
	out := filepath.Join(dir, "layout")
	if err := WriteLayout(out, []string{"hxtoken"}, map[string]v1.Image{"hxtoken": img}); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	index, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := index.IndexManifest()
	if err != nil || len(manifest.Manifests) != 1 || manifest.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "hxtoken" {
		t.Fatalf("layout index %+v, %v", manifest, err)
	}
	read, err := p.Image(manifest.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := read.Digest(); d != d1 {
		t.Fatalf("read back digest %v, wrote %v", d, d1)
	}
	cfg, err := read.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != User || strings.HasPrefix(cfg.Config.User, "0") || cfg.Config.Entrypoint[0] != "/usr/local/bin/hxtoken" {
		t.Fatalf("config %+v: want the entrypoint run as %s", cfg.Config, User)
	}
	raw, err := Binary(read, "hxtoken")
	if err != nil {
		t.Fatal(err)
	}
	extracted := filepath.Join(dir, "from-image")
	if err := os.WriteFile(extracted, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	run, _ := exec.Command(extracted, "-h").CombinedOutput()
	if !strings.Contains(string(run), "hxtoken") || !strings.Contains(strings.ToLower(string(run)), "usage") {
		t.Fatalf("the binary taken from the image, run with -h, printed:\n%s", run)
	}
	if _, err := Binary(read, "consentd"); err == nil {
		t.Fatal("a binary the image does not hold was found")
	}
}
