package host

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jaypipes/ghw"
	"github.com/jaypipes/ghw/pkg/product"
	"golang.org/x/sys/unix"
)

// captureFD2 runs f with file descriptor 2 sent to a pipe and returns what
// was written to it. ghw's default logger holds the *os.File that was
// os.Stderr when it was initialised, so swapping os.Stderr would miss it:
// the descriptor itself has to be redirected.
func captureFD2(t *testing.T, f func()) string {
	t.Helper()
	saved, err := unix.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup3(int(w.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	f()
	if err := unix.Dup3(saved, 2, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(saved)
	w.Close()
	out := <-done
	r.Close()
	return string(out)
}

// TestNothingOnStderr shows that ghw's warnings never reach the terminal,
// live and under a root whose DMI lacks files ghw reads.
func TestNothingOnStderr(t *testing.T) {
	root := fixtureRoot(t, "bonded")
	if _, err := os.Stat(filepath.Join(root, "sys/class/dmi/id/product_family")); err == nil {
		t.Fatal("fixture has product_family: ghw would have nothing to warn about")
	}
	// The capture works: ghw left to itself warns about the missing file.
	if out := captureFD2(t, func() { product.New(ghw.WithChroot(root)) }); !strings.Contains(out, "product_family") {
		t.Fatalf("ghw without options wrote %q to stderr, want a warning about product_family", out)
	}

	var errs []error
	out := captureFD2(t, func() {
		_, err := Collect(t.Context(), Options{})
		errs = append(errs, err)
		_, err = Collect(t.Context(), Options{Root: root})
		errs = append(errs, err)
	})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if out != "" {
		t.Errorf("Collect wrote to stderr: %q", out)
	}
}
