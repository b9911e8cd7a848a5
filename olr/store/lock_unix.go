//go:build unix

package store

import (
	"os"
	"syscall"
)

const openNoBlock = syscall.O_NONBLOCK | syscall.O_NOCTTY

// lockFile waits for an flock on f.
func lockFile(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

func unlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
