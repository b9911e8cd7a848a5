//go:build !linux

package safefile

import "os"

// canSyncFS says that this system has no call that syncs a whole file
// system: WriteMany syncs each file, and SyncFS the directory.
const canSyncFS = false

// SyncFS makes the files WriteMany wrote into the directory d durable:
// WriteMany has synced each of them here, so what is left is the
// directory's entries.
func SyncFS(d *os.File) error {
	if err := d.Sync(); err != nil && !syncUnsupported(err) {
		return err
	}
	return nil
}
