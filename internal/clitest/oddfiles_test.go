package clitest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOddFilesDoNotHang puts what a careless or hostile drop directory
// holds among real requests: a FIFO named like a request, links to a
// FIFO and to an endless device, a link that leads out of the directory
// and a directory named like a request. audit and issue --batch read the
// real requests, report each odd file by name, and finish: nothing is
// opened in a way that waits for a writer, and no link leads them out of
// the directory.
func TestOddFilesDoNotHang(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs")
	}
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "vendor.key")
	mustRun(t, dir, "olr-sign", "keygen", "--unencrypted", "-o", key)
	ledgerPath := filepath.Join(dir, "ledger.db")
	csv := filepath.Join(dir, "keys.csv")
	if err := os.WriteFile(csv, []byte("license_key,licensee,type,product,modules,languages,expires,maintenance\n"+
		"OEM-AAAA-0001,Example Backup Ltd,oem,backup-server,obm=5,en,,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, dir, "olr-sign", "keys", "import", "--create", "--ledger", ledgerPath, csv)
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, dir, "olr", "request", "--vendor", key+".recipient", "--licensee", "Example Backup Ltd",
		"--key", "OEM-AAAA-0001", "--root", hostRoot(t, "baremetal"), "-o", filepath.Join(in, "good.olr"))
	outside := filepath.Join(dir, "outside.olr")
	if err := os.WriteFile(outside, []byte("a file of the vendor's, not a request\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(in, "fifo.olr"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "elsewhere-fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"to-fifo.olr":       filepath.Join(in, "fifo.olr"),
		"to-zero.olr":       "/dev/zero",
		"to-outside.olr":    outside,
		"to-other-fifo.olr": filepath.Join(dir, "elsewhere-fifo"),
		"to-good.olr":       filepath.Join(in, "good.olr"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(in, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(in, "dir.olr"), 0o755); err != nil {
		t.Fatal(err)
	}

	// A hang is the failure: a command that should take a second gets
	// two minutes, however loaded the machine.
	runBounded := func(args ...string) result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		path, err := exec.LookPath("olr-sign")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Dir, cmd.Env = dir, cleanEnv(dir)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err = cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("olr-sign %s hung on an odd file", strings.Join(args, " "))
		}
		r := result{stdout: stdout.String(), stderr: stderr.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
		return r
	}

	r := runBounded("audit", "-i", key, in)
	for _, want := range []string{
		filepath.Join(in, "fifo.olr") + ": not a regular file (it is a named pipe (FIFO))",
		filepath.Join(in, "to-fifo.olr") + ": not a regular file (it is a named pipe (FIFO))",
		filepath.Join(in, "to-zero.olr") + ": a symbolic link that leads outside the request directory (not followed)",
		filepath.Join(in, "to-outside.olr") + ": a symbolic link that leads outside the request directory (not followed)",
		filepath.Join(in, "to-other-fifo.olr") + ": a symbolic link that leads outside",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("audit does not report %s:\n%s", want, r.stdout)
		}
	}
	if r.code != 1 {
		t.Errorf("audit: exit %d, want 1 for the unreadable files", r.code)
	}

	r = runBounded("issue", "-i", key, "--ledger", ledgerPath, "--batch", in, "-o", filepath.Join(dir, "out"))
	if r.code != 2 || !strings.Contains(r.stderr, "1 issued, 0 re-issued, 1 replayed") ||
		!strings.Contains(r.stderr, "olr-sign:   fifo.olr: not a regular file (it is a named pipe (FIFO))") ||
		!strings.Contains(r.stderr, "olr-sign:   to-outside.olr: a symbolic link that leads outside the request directory (not followed)") {
		t.Errorf("issue --batch: %v\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "a file of the vendor's") {
		t.Error("the content of a file outside the directory was shown")
	}
	for _, name := range []string{"good.license.olr", "to-good.license.olr"} {
		if _, err := os.Stat(filepath.Join(dir, "out", name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
