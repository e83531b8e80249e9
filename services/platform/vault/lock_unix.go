//go:build unix

package vault

import (
	"errors"
	"os"
	"syscall"
)

// lockDir takes an exclusive advisory lock on the open folder d, held until
// d is closed, so the processes sharing a FileKeyStore change it in turn.
func lockDir(d *os.File) error {
	for {
		err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
