package vault

import (
	"errors"
	"os"
	"path/filepath"
)

// createExclusive creates dir/name holding data, never replacing an
// existing file (the error then wraps fs.ErrExist): written to a temporary
// file, synced, then hard-linked into place, which fails rather than
// overwrite. A crash leaves the file complete or absent. It is on disk,
// mode 0600, when this returns.
func createExclusive(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once removed below
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync() // CreateTemp made it 0600
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	if err := os.Remove(tmp.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the directory's entries (a created, renamed or removed
// file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
