//go:build unix

package signer

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive lock on the directory dir itself, without
// waiting: ErrOutDirBusy when another process holds it. The lock dies
// with the process, so a killed batch never leaves it taken, and no file
// is added to the directory.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrOutDirBusy
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
