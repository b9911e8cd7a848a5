// Package safefile reads and writes the files that olr's commands and its
// machine-side state rely on, so that an odd file can neither hang a
// command, exhaust its memory, nor be left half-written.
//
// Reads open without blocking (a FIFO or a device named like a license
// must not hang the product's start), refuse anything but a regular file,
// and stop one byte past a limit. Writes go through a synced temporary
// file renamed into place, except to an existing target that is not a
// regular file (/dev/null, a FIFO, /dev/stdout), which is written as a
// stream: renaming over it would replace the device node or the link
// instead of writing to it.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotRegular is wrapped by the error for a path that names a directory,
// a FIFO, a device or a socket where a regular file was expected.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error for a file longer than the limit.
var ErrTooLarge = errors.New("file is too large")

// NotRegularError reports what a path names instead of a regular file.
type NotRegularError struct {
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("not a regular file (it is %s)", Kind(e.Mode))
}

func (e *NotRegularError) Unwrap() error { return ErrNotRegular }

// TooLargeError reports a file longer than Limit bytes.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("larger than %d bytes", e.Limit)
}

func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// Kind names the type of file that mode describes, for messages.
func Kind(mode fs.FileMode) string {
	switch {
	case mode.IsRegular():
		return "a regular file"
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	default:
		return "an irregular file"
	}
}

// Open opens path for reading if, after following symbolic links, it is a
// regular file. The open itself does not block on a FIFO or a device.
func Open(path string) (*os.File, error) {
	f, _, err := open(path)
	return f, err
}

// open is Open, also returning the file's size.
func open(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNoBlock, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, &NotRegularError{Mode: fi.Mode()}
	}
	return f, fi.Size(), nil
}

// ReadFile reads the regular file at path, refusing one longer than limit
// bytes without reading more than limit+1 of it.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, size, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	// Read into a buffer of the size the file had when opened, plus room
	// to see that it has grown: one allocation where io.ReadAll makes
	// several.
	buf := make([]byte, 0, size+512)
	for {
		n, err := f.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, &TooLargeError{Limit: limit}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// ReadLimited reads r to its end, refusing more than limit bytes.
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return data, nil
}

// IsStream reports whether path exists and, after following symbolic
// links, is not a regular file or a directory: a target that WriteFile
// writes as a stream.
func IsStream(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.Mode().IsRegular() && !fi.IsDir()
}

// WriteFile writes data to path as a command's output: atomically (see
// Replace), following a symbolic link so that the file it names is
// replaced and the link kept, and as a stream to an existing path that is
// not a regular file (see IsStream). perm applies to a file it creates.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return &NotRegularError{Mode: fi.Mode()}
		}
		if !fi.Mode().IsRegular() {
			return writeStream(path, data)
		}
	}
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	return Replace(path, data, perm)
}

// Replace writes data to path so that readers see the old content or the
// new, never a part: through a temporary file in the same directory,
// synced, renamed over path, and the directory synced. Whatever path named
// before (a file, a link, a FIFO) is replaced, never written through: this
// is how state files are kept.
func Replace(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPrefix(filepath.Base(path))+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(perm); err != nil {
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
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

func writeStream(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// CreateExclusive creates path with perm and writes data to it, failing
// with an error matching fs.ErrExist if path exists (even as a dangling
// symbolic link). A failed write removes the file it created.
func CreateExclusive(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes the creation, renaming or removal of files in dir durable
// where the operating system allows it; where directories cannot be
// synced (Windows), it does nothing.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !syncUnsupported(err) {
		return err
	}
	return nil
}
