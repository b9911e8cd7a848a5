package safefile_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/olr-dev/olr/internal/safefile"
)

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs on Windows")
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

// within fails the test if f does not return in time: the point of these
// tests is that nothing blocks.
func within(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("blocked")
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte("a"), n), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	atLimit := write("at-limit", 100)
	overLimit := write("over-limit", 101)
	empty := write("empty", 0)
	fifo := filepath.Join(dir, "req.olr")
	mkfifo(t, fifo)
	linkToFIFO := filepath.Join(dir, "link.olr")
	if err := os.Symlink(fifo, linkToFIFO); err != nil {
		t.Fatal(err)
	}
	linkToFile := filepath.Join(dir, "good-link")
	if err := os.Symlink(atLimit, linkToFile); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		path    string
		wantLen int
		wantErr error
	}{
		{"exactly at the limit", atLimit, 100, nil},
		{"one byte over", overLimit, 0, safefile.ErrTooLarge},
		{"empty", empty, 0, nil},
		{"symlink to a regular file", linkToFile, 100, nil},
		{"FIFO", fifo, 0, safefile.ErrNotRegular},
		{"symlink to a FIFO", linkToFIFO, 0, safefile.ErrNotRegular},
		{"directory", dir, 0, safefile.ErrNotRegular},
		{"endless device", "/dev/zero", 0, safefile.ErrNotRegular},
		{"missing", filepath.Join(dir, "missing"), 0, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data []byte
			var err error
			within(t, func() { data, err = safefile.ReadFile(tt.path, 100) })
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(data) != tt.wantLen {
				t.Errorf("read %d bytes, want %d", len(data), tt.wantLen)
			}
		})
	}
}

// A regular file may hold more than its size says (Linux's /proc files
// say 0): ReadFile reads to the end all the same, within the limit.
func TestReadFileBeyondItsSize(t *testing.T) {
	const path = "/proc/self/status"
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != 0 {
		t.Skipf("no %s of size 0 here", path)
	}
	data, err := safefile.ReadFile(path, 1<<16)
	if err != nil || len(data) <= 512 || !bytes.HasPrefix(data, []byte("Name:")) || !bytes.HasSuffix(data, []byte("\n")) {
		t.Errorf("read %d bytes (%q...), %v", len(data), data[:min(len(data), 20)], err)
	}
	if _, err := safefile.ReadFile(path, 100); !errors.Is(err, safefile.ErrTooLarge) {
		t.Errorf("with a limit of 100 bytes: %v", err)
	}
}

func TestNotRegularErrorNamesTheKind(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	_, err := safefile.ReadFile(fifo, 10)
	if err == nil || err.Error() != "not a regular file (it is a named pipe (FIFO))" {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "license.olr")
	if err := safefile.WriteFile(p, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("stat = %v, %v; want mode 0640", fi, err)
	}
	if err := safefile.WriteFile(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "two" {
		t.Fatalf("content %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left %d entries in the directory, want only the file", len(entries))
	}
}

func TestWriteFileKeepsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real")
	link := filepath.Join(dir, "link")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := safefile.WriteFile(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi, err)
	}
	if got, _ := os.ReadFile(target); string(got) != "new" {
		t.Fatalf("target holds %q", got)
	}
}

func TestWriteFileStreams(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no /dev/null or FIFOs")
	}
	within(t, func() {
		if err := safefile.WriteFile("/dev/null", []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Fatalf("/dev/null is no longer a device: %v %v", fi, err)
	}

	fifo := filepath.Join(t.TempDir(), "out.olr")
	mkfifo(t, fifo)
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := safefile.ReadLimited(f, 1<<10)
		got <- b
	}()
	within(t, func() {
		if err := safefile.WriteFile(fifo, []byte("through the pipe"), 0o600); err != nil {
			t.Error(err)
		}
	})
	if b := <-got; string(b) != "through the pipe" {
		t.Fatalf("reader got %q", b)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v %v", fi, err)
	}
}

func TestWriteFileRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := safefile.WriteFile(dir, []byte("x"), 0o600); !errors.Is(err, safefile.ErrNotRegular) {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteFileFailureLeavesNothing(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if err := safefile.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err == nil {
		t.Fatal("wrote into a read-only directory")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
}

func TestCreateExclusive(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vendor.key")
	if err := safefile.CreateExclusive(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if err := safefile.CreateExclusive(p, []byte("other"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "secret" {
		t.Fatalf("overwritten: %q", got)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := safefile.CreateExclusive(dangling, []byte("x"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("through a dangling link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("followed a dangling link")
	}
}

func TestReplaceNeverWritesThrough(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "state.json")
	mkfifo(t, fifo)
	within(t, func() {
		if err := safefile.Replace(fifo, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	fi, err := os.Lstat(fifo)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the FIFO was not replaced by a file: %v %v", fi, err)
	}
	target := filepath.Join(dir, "elsewhere")
	link := filepath.Join(dir, "license.olr")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := safefile.Replace(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(target); string(got) != "keep" {
		t.Fatalf("wrote through the link: target holds %q", got)
	}
}

func TestReplaceIntoMissingDirectory(t *testing.T) {
	err := safefile.Replace(filepath.Join(t.TempDir(), "missing", "f"), nil, 0o600)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}
