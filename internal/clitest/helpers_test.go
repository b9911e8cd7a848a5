package clitest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// result is what one run of a command left.
type result struct {
	stdout, stderr string
	code           int
}

// run runs a command in dir with a clean environment (OLR_TPM=none, the
// state in dir/state) and returns its output and exit code. olr and
// olr-sign are the copies of the test binary that TestMain put in $PATH:
// they start as fast as binaries from go build, without building.
func run(t testing.TB, dir, name string, args ...string) result {
	t.Helper()
	return runEnv(t, dir, nil, name, args...)
}

// runEnv is run with more environment variables.
func runEnv(t testing.TB, dir string, env []string, name string, args ...string) result {
	t.Helper()
	r, err := execCommand(dir, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// execCommand runs a command as run does and reports a failure to start
// it, or a Go panic on its stderr, as an error: for goroutines, which may
// not call t.Fatal.
func execCommand(dir string, env []string, name string, args ...string) (result, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return result{}, fmt.Errorf("%s is not in $PATH: %v", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(dir), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		return r, fmt.Errorf("%s %s: a Go panic on stderr:\n%s", name, strings.Join(args, " "), r.stderr)
	}
	return r, nil
}

// mustRun is run expecting exit 0.
func mustRun(t testing.TB, dir, name string, args ...string) result {
	t.Helper()
	return mustRunEnv(t, dir, nil, name, args...)
}

// mustRunEnv is runEnv expecting exit 0.
func mustRunEnv(t testing.TB, dir string, env []string, name string, args ...string) result {
	t.Helper()
	r := runEnv(t, dir, env, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func cleanEnv(dir string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"TMPDIR=" + os.TempDir(),
		"OLR_TPM=none",
		"OLR_STATE=" + filepath.Join(dir, "state"),
	}
}

// hostRoot returns the absolute path of a fixture host tree.
func hostRoot(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("host fixture %s: %v", name, err)
	}
	return p
}

// activation is a vendor key, a request from a fixture host and the
// license issued for it, all made through the binaries in Dir.
type activation struct {
	Dir, Root string
	Key       string // vendor.key
	Request   string // req.olr
	License   string // license.olr
}

// newActivation makes an activation on a fixture host. With an empty
// passphrase the vendor key is written --unencrypted.
func newActivation(t testing.TB, host, passphrase string, keygenArgs ...string) *activation {
	t.Helper()
	a := &activation{Dir: t.TempDir(), Root: hostRoot(t, host)}
	a.Key = filepath.Join(a.Dir, "vendor.key")
	a.Request = filepath.Join(a.Dir, "req.olr")
	a.License = filepath.Join(a.Dir, "license.olr")
	keygen := []string{"keygen", "--unencrypted"}
	var env []string
	if passphrase != "" {
		keygen = []string{"keygen"}
		env = []string{"OLR_PASSPHRASE=" + passphrase}
	}
	mustRunEnv(t, a.Dir, env, "olr-sign", append(append(keygen, keygenArgs...), "-o", a.Key)...)
	mustRun(t, a.Dir, "olr", "request", "--vendor", a.Key+".recipient", "--licensee", "Example Backup Ltd",
		"--key", "OEM-7Q2D-K9XW-4M3T", "--root", a.Root, "-o", a.Request)
	mustRunEnv(t, a.Dir, env, "olr-sign", "issue", "--no-ledger", "-i", a.Key, "-o", a.License,
		"-m", "obm=50", "-m", "mobile=unlimited", "--language", "en", a.Request)
	return a
}
