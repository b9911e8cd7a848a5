package signer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/olr"
)

// The files of batch issuing: which files of a directory are requests,
// how they are read, and how the licenses are written.

const (
	// RequestExt names the files a batch answers.
	RequestExt = ".olr"
	// LicenseExt ends the name of each license file a batch writes.
	LicenseExt = ".license.olr"
)

// ErrOutDirBusy is returned by Batch.Run when another batch writes into
// the same output directory.
var ErrOutDirBusy = errors.New("another olr-sign batch is writing into this directory")

// ErrOutsideDir is wrapped by ReadRequestFile's error for a symbolic link
// that leads out of the request directory.
var ErrOutsideDir = errors.New("a symbolic link that leads outside the request directory (not followed)")

// LicenseName returns the name of the license file answering the request
// file name: "acme-01.olr" gives "acme-01.license.olr".
func LicenseName(requestName string) string {
	return strings.TrimSuffix(requestName, RequestExt) + LicenseExt
}

// IsRequestName reports whether a batch answers a file of this name: it
// ends in .olr, is not a license a batch wrote, and is not hidden.
func IsRequestName(name string) bool {
	return strings.HasSuffix(name, RequestExt) && !strings.HasSuffix(name, LicenseExt) &&
		!strings.HasPrefix(name, ".")
}

// RequestFiles lists the names of the request files of dir, sorted: the
// entries that IsRequestName accepts and that are not directories.
// Whether each is a regular file is checked when it is read.
func RequestFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if IsRequestName(e.Name()) && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// ReadRequestFile reads the request file name of dir: a regular file of
// at most olr.MaxRequestSize bytes, opened without blocking, so that a
// FIFO or a device named like a request is refused instead of hanging
// the batch. A symbolic link is followed only when it leads to a file
// inside dir: a drop directory that customers' files reach must not make
// olr-sign read other files of the vendor's machine.
func ReadRequestFile(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		inside, err := linkInside(dir, path)
		if err != nil {
			return nil, err
		}
		if !inside {
			return nil, ErrOutsideDir
		}
	}
	data, err := safefile.ReadFile(path, olr.MaxRequestSize)
	var tooLarge *safefile.TooLargeError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("larger than %d bytes: not a request", olr.MaxRequestSize)
	}
	return data, err
}

// linkInside reports whether the symbolic link path resolves to a file
// within dir.
func linkInside(dir, path string) (bool, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false, err
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(root, target)
	if err != nil {
		return false, nil
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel), nil
}

// prepareOutDir creates dir if needed, locks it against other batches,
// removes the temporary files a killed batch left there, and returns the
// directory open, for syncing what the batch writes into it (see
// writeLicenses). The caller calls release when done.
func prepareOutDir(dir string) (d *os.File, release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := removeStaleTemps(dir); err != nil {
		unlock()
		return nil, nil, err
	}
	if d, err = os.Open(dir); err != nil {
		unlock()
		return nil, nil, err
	}
	return d, func() { d.Close(); unlock() }, nil
}

// licenseOut is a license file to write: its base name and content.
type licenseOut struct {
	name string
	data []byte
	// mayExist is set when the file may already hold the license (a
	// replay), so that it is not written again. A new license has a new
	// ID: a file of that name holds something else and is replaced.
	mayExist bool
}

// writeLicenses writes the license files of one committed transaction
// into the directory d, each through a temporary file renamed into place
// (safefile.WriteMany), then makes them durable together with one sync
// of the file system (safefile.SyncFS), calling done for each file as it
// is in place (wrote is false when the file already held exactly that
// license).
//
// One sync per transaction is all that crash safety needs, where a sync
// per file used to be spent: a license file is written only after the
// transaction that records it has committed, so a crash before the sync
// can only lose license files of committed transactions, or leave them
// empty; the batch run again answers those requests as replays, from
// the ledger, and writes every file that is missing or differs. No
// license is lost, none is issued twice, and a batch that returns has
// every file durable.
//
// syncEach is the former scheme, kept to compare against: each file
// synced before its rename (safefile.ReplaceMany), the directory synced
// once at the end of the run.
func writeLicenses(d *os.File, outs []licenseOut, syncEach bool, done func(wrote bool)) error {
	dir := d.Name()
	files := make([]safefile.File, 0, len(outs))
	for _, o := range outs {
		if o.mayExist {
			if old, err := safefile.ReadFile(filepath.Join(dir, o.name), olr.MaxLicenseSize); err == nil && bytes.Equal(old, o.data) {
				done(false)
				continue
			}
		}
		files = append(files, safefile.File{Name: o.name, Data: o.data, Perm: 0o644})
	}
	if len(files) == 0 {
		return nil
	}
	write, sync := safefile.WriteMany, safefile.SyncFS
	if syncEach {
		write, sync = safefile.ReplaceMany, func(*os.File) error { return nil }
	}
	if err := write(dir, files, func(int) { done(true) }); err != nil {
		return fmt.Errorf("writing licenses into %s: %w", dir, err)
	}
	if err := sync(d); err != nil {
		return fmt.Errorf("writing licenses into %s: %w", dir, err)
	}
	return nil
}

// removeStaleTemps removes the temporary license files a killed batch
// left in dir (see safefile.TempPrefix). They never became licenses (a
// license is renamed into place only once complete), so removing them
// loses nothing; the directory lock keeps another batch's live ones safe.
func removeStaleTemps(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if isStaleTemp(e.Name()) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// isStaleTemp reports whether name is a temporary file standing for a
// license file.
func isStaleTemp(name string) bool {
	i := strings.LastIndex(name, LicenseExt+".tmp")
	return strings.HasPrefix(name, ".") && i > 1 && strings.HasPrefix(name, safefile.TempPrefix(name[1:i+len(LicenseExt)]))
}
