package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// LockFile is the lock of the state directory. Changes (Install, Check,
// InstallRevocations) hold it exclusively, reads (Evaluate, VerifyFile,
// Load) shared, so that no one sees a new license with the state of the
// old one, and no check writes back a state that an import replaced.
const LockFile = "state.lock"

// lockWait bounds the wait for the lock: a process that holds it for
// longer (stopped, or hostile) makes checks fail instead of hang.
var lockWait = 10 * time.Second

// ErrLocked: another process held the state directory's lock for longer
// than the store waits.
var ErrLocked = errors.New("the state directory is locked by another process")

// lock takes the directory's lock, exclusive for a change, and returns
// its release. A shared lock is skipped where the lock file does not
// exist and cannot be made (a read-only directory that no olr has
// changed: there is no writer to wait for).
func (s *Store) lock(exclusive bool) (func(), error) {
	path := filepath.Join(s.Dir, LockFile)
	if exclusive {
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return nil, err
		}
	}
	f, err := openLock(path)
	if err != nil {
		if !exclusive && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
			return func() {}, nil
		}
		return nil, &StateError{Path: path, Err: err, Hint: "remove it; olr makes it again"}
	}
	// The wait happens in the kernel, which hands the lock on in turn;
	// polling without waiting would let a busy checker starve an import.
	got := make(chan error, 1)
	go func() { got <- lockFile(f, exclusive) }()
	timer := time.NewTimer(lockWait)
	defer timer.Stop()
	select {
	case err := <-got:
		if err != nil {
			f.Close()
			return nil, &StateError{Path: path, Err: err}
		}
		return func() { unlock(f); f.Close() }, nil
	case <-timer.C:
		// Release the lock when the waiting call gets it after all.
		go func() {
			if err := <-got; err == nil {
				unlock(f)
			}
			f.Close()
		}()
		return nil, &StateError{Path: path, Err: fmt.Errorf("%w for more than %v", ErrLocked, lockWait),
			Hint: "another olr or the product is changing the state; try again, or find the process that holds " + LockFile}
	}
}

// openLock opens (or makes) the lock file without blocking on a FIFO put
// in its place, and only if it is a regular file.
func openLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|openNoBlock, 0o600)
	if errors.Is(err, fs.ErrPermission) {
		// A reader without write access still takes a shared lock.
		f, err = os.OpenFile(path, os.O_RDONLY|openNoBlock, 0)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%w: not a regular file", ErrDamaged)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
