package cliniciancli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxResource is the largest resource the records service takes
// (records.proto: at most 1 MiB).
const maxResource = 1 << 20

// readResource reads the FHIR JSON resource in the file name ("-" for
// standard input), refusing what the service would refuse anyway: too large,
// empty, not JSON.
func readResource(stdin io.Reader, name string) ([]byte, error) {
	r, label := stdin, "standard input"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("cannot read the resource: %w", err)
		}
		defer f.Close()
		r, label = f, name
	}
	b, err := io.ReadAll(io.LimitReader(r, maxResource+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the resource from %s: %w", label, err)
	}
	switch {
	case len(b) > maxResource:
		return nil, fmt.Errorf("%s is larger than 1 MiB, the most a record may hold", label)
	case len(bytes.TrimSpace(b)) == 0:
		return nil, fmt.Errorf("%s is empty; want a FHIR resource (JSON)", label)
	case !json.Valid(b):
		return nil, fmt.Errorf("%s is not JSON; want a FHIR resource (JSON)", label)
	}
	return b, nil
}

// writeFileAtomic writes data to path with mode 0600: into a temporary file
// beside it, synced, then renamed over path, so a reader never sees half a
// record and a failure leaves path as it was.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// isTerminal reports that w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
