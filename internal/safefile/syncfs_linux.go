package safefile

import (
	"os"

	"golang.org/x/sys/unix"
)

// canSyncFS says that SyncFS syncs the whole file system in one call.
const canSyncFS = true

// SyncFS makes durable everything written on the file system that holds
// the directory d, the files WriteMany wrote into it and their names
// included, with one syncfs(2). d is the directory opened before the
// first WriteMany into it: a write-back error on the file system since
// then is reported (Linux 5.8 and later), even if another process's sync
// met it first.
func SyncFS(d *os.File) error {
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return &os.PathError{Op: "syncfs", Path: d.Name(), Err: err}
	}
	return nil
}
