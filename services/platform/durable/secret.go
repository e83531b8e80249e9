package durable

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrSecretTooLarge is ReadSecret's error for a file over its limit.
var ErrSecretTooLarge = errors.New("larger than a secret may be")

// ReadSecret reads a secret (a key file): it refuses a file that is not a
// regular file, that its group or others may access (it must be mode 0600
// or stricter), or that holds more than limit bytes, all checked on the
// open file, so that a swap after a check cannot slip another file in.
func ReadSecret(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%v)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s is accessible to group or others (mode %v); chmod 600 it", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		clear(data)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		clear(data)
		return nil, fmt.Errorf("%s holds more than %d bytes: %w", path, limit, ErrSecretTooLarge)
	}
	return data, nil
}
