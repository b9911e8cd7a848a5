//go:build unix

package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
)

// TestOddStateFiles puts a FIFO, a link to /dev/zero, a directory and an
// oversized file in place of each state file: every check ends promptly
// with an error, reads a bounded amount, and never grants a license.
func TestOddStateFiles(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	kinds := map[string]func(path string) error{
		"fifo":     func(p string) error { return syscall.Mkfifo(p, 0o600) },
		"devzero":  func(p string) error { return os.Symlink("/dev/zero", p) },
		"dir":      func(p string) error { return os.Mkdir(p, 0o700) },
		"oversize": func(p string) error { return os.WriteFile(p, make([]byte, olr.MaxCRLSize+1), 0o600) },
	}
	for _, file := range []string{store.LicenseFile, store.StateFile, store.RevocationsFile} {
		for kind, mk := range kinds {
			t.Run(file+"/"+kind, func(t *testing.T) {
				st, trust, fp, lic, now := setup(t)
				if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(st.Dir, file)
				os.Remove(path)
				if err := mk(path); err != nil {
					t.Fatal(err)
				}
				done := make(chan struct{})
				var r *olr.Result
				var err error
				go func() {
					defer close(done)
					r, err = st.Check(trust, fp, now.Add(time.Hour), nil)
				}()
				select {
				case <-done:
				case <-time.After(time.Minute):
					t.Fatal("Check hangs")
				}
				if err == nil || r.Usable() {
					t.Fatalf("Check with %s as %s: %s %v", kind, file, r.Status, err)
				}
				if !errors.Is(err, store.ErrDamaged) || store.Hint(err) == "" {
					t.Fatalf("error %v: want ErrDamaged with a hint", err)
				}
				if _, err := st.VerifyFile(lic, trust, fp, now, nil); file != store.LicenseFile && err == nil {
					t.Fatalf("VerifyFile with %s as %s: no error", kind, file)
				}
			})
		}
	}
}
