//go:build windows

package signer

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// lockName is the file a batch locks in its output directory: Windows
// locks files, not directories.
const lockName = ".olr-sign.lock"

// lockDir takes an exclusive lock on a file in dir (created if needed),
// without waiting: ErrOutDirBusy when another process holds it. The lock
// dies with the process, so a killed batch never leaves it taken.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	ol := new(windows.Overlapped)
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if err != nil {
		f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, ErrOutDirBusy
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
