// Package images makes container images of the exchange's binaries without
// a container engine: one layer holding a static binary, on an empty base,
// run as a non-root user, written as an OCI image layout. Images are
// reproducible: the same binary gives the same digest (no timestamps).
package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the user and group an image runs as: not root.
const User = "65532:65532"

// BinDir is where an image holds its binary.
const BinDir = "/usr/local/bin"

// Image is the image of the static binary at binary, installed as
// BinDir/name and run as its entrypoint by User.
func Image(binary, name string) (v1.Image, error) {
	raw, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	epoch := time.Unix(0, 0).UTC()
	for _, dir := range []string{"usr/", "usr/local/", "usr/local/bin/", "tmp/"} {
		mode := int64(0o755)
		if dir == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path.Join(BinDir, name)[1:], Mode: 0o755,
		Size: int64(len(raw)), ModTime: epoch, Uid: 0, Gid: 0}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(raw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerBytes := layerTar.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Entrypoint = []string{path.Join(BinDir, name)}
	cfg.Config.User = User
	cfg.Config.WorkingDir = "/tmp"
	cfg.Config.Labels = map[string]string{"org.opencontainers.image.title": name}
	return mutate.ConfigFile(img, cfg)
}

// WriteLayout writes images to an OCI image layout at dir (replacing what
// is there), each annotated with its name, in the order of names.
func WriteLayout(dir string, names []string, imgs map[string]v1.Image) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, name := range names {
		img, ok := imgs[name]
		if !ok {
			return fmt.Errorf("no image %q", name)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": name})); err != nil {
			return fmt.Errorf("image %s: %w", name, err)
		}
	}
	return nil
}

// Binary reads the binary name back out of an image: the file BinDir/name
// of its layers, for a test or a check to run.
func Binary(img v1.Image, name string) ([]byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	want := path.Join(BinDir, name)[1:]
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return nil, err
			}
			if h.Name == want {
				b, err := io.ReadAll(tr)
				rc.Close()
				return b, err
			}
		}
		rc.Close()
	}
	return nil, fmt.Errorf("the image holds no %s", want)
}
