package signtest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/olr-dev/olr/internal/pgtest"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// The binaries under test and the vendor key every test shares, made once
// per run by TestMain.
var (
	olrBin, signBin string
	vendorKey       string // the identity file; .recipient and .trust beside it
	vendorRcpt      age.Recipient
	vendorTrust     *olr.Trust
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "signtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := 2
	if err := setup(dir); err != nil {
		fmt.Fprintln(os.Stderr, "signtest:", err)
	} else {
		code = pgtest.Main(m)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// setup builds olr and olr-sign into dir with go build, and makes an
// unencrypted vendor key with olr-sign keygen.
func setup(dir string) error {
	goBin, err := exec.LookPath("go")
	// go test puts its own go command first on PATH.
	if err != nil {
		return err
	}
	olrBin, signBin = filepath.Join(dir, "olr"), filepath.Join(dir, "olr-sign")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, b := range []struct{ out, pkg string }{
		{olrBin, "github.com/olr-dev/olr/cmd/olr"},
		{signBin, "github.com/olr-dev/olr/cmd/olr-sign"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := exec.Command(goBin, "build", "-o", b.out, b.pkg).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	vendorKey = filepath.Join(dir, "vendor.key")
	cmd := exec.Command(signBin, "keygen", "--unencrypted", "-o", vendorKey)
	cmd.Env = cleanEnv(dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("olr-sign keygen: %v\n%s", err, out)
	}
	data, err := os.ReadFile(vendorKey + ".recipient")
	if err != nil {
		return err
	}
	rcpts, err := olr.ParseRecipients(string(data))
	if err != nil {
		return err
	}
	vendorRcpt = rcpts[0]
	if data, err = os.ReadFile(vendorKey + ".trust"); err != nil {
		return err
	}
	vendorTrust, err = olr.ParseTrust(data)
	return err
}

// cleanEnv is the environment of every command: nothing from the
// developer's OLR_* settings leaks in.
func cleanEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + os.TempDir(), "OLR_TPM=none", "LC_ALL=C"}
}

// result is what one run of a binary left.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%sstderr:\n%s", r.code, r.stdout, r.stderr)
}

// env is a directory with a ledger of keys sold.
type env struct {
	t      testing.TB
	dir    string
	ledger string
}

// onEngines runs test once per ledger engine, as parallel subtests named
// sqlite and postgres; newEnv, called within, makes its ledger on the
// subtest's engine.
func onEngines(t *testing.T, test func(t *testing.T)) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, test)
	}
}

// onPostgres reports whether t runs within onEngines' postgres subtest.
func onPostgres(t testing.TB) bool {
	name := strings.Split(t.Name(), "/")
	return len(name) > 1 && name[1] == "postgres"
}

// newEnv makes a fresh directory and imports keys into a new ledger
// there with olr-sign keys import: a file, or within onEngines'
// postgres subtest, a new database of the package's cluster.
func newEnv(t testing.TB, keys []Key) *env {
	t.Helper()
	if onPostgres(t) {
		return newEnvAt(t, pgtest.NewDatabase(t), keys)
	}
	return newEnvAt(t, "", keys)
}

// newEnvAt is newEnv with the ledger at location ("": a file in the
// env's directory).
func newEnvAt(t testing.TB, location string, keys []Key) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), ledger: location}
	if location == "" {
		e.ledger = filepath.Join(e.dir, "ledger.db")
	}
	csv := filepath.Join(e.dir, "keys.csv")
	if err := WriteKeysCSV(csv, keys); err != nil {
		t.Fatal(err)
	}
	e.must("keys", "import", "--create", "--ledger", e.ledger, "--operator", "sales", csv)
	return e
}

// cmd returns an olr-sign command run in the env's directory.
func (e *env) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(signBin, args...)
	cmd.Dir = e.dir
	cmd.Env = cleanEnv(e.dir)
	return cmd
}

// run runs olr-sign and returns its output and exit code.
func (e *env) run(args ...string) result {
	e.t.Helper()
	return runCmd(e.t, e.cmd(args...))
}

func runCmd(t testing.TB, cmd *exec.Cmd) result {
	t.Helper()
	r, err := tryCmd(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryCmd runs cmd and returns its output and exit code; the error is for
// a command that could not run or that panicked. Goroutines other than
// the test's use it, since only the test's goroutine may call t.Fatal.
func tryCmd(cmd *exec.Cmd) (result, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		return r, fmt.Errorf("%s: a Go panic:\n%s", strings.Join(cmd.Args, " "), r.stderr)
	}
	return r, nil
}

// must runs olr-sign expecting exit 0.
func (e *env) must(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("olr-sign %s: %v", strings.Join(args, " "), r)
	}
	return r
}

// issue runs olr-sign issue against the env's ledger, writing out.
func (e *env) issue(req, out string, extra ...string) result {
	e.t.Helper()
	args := append([]string{"issue", "-i", vendorKey, "--ledger", e.ledger, req, "-o", out}, extra...)
	return e.run(args...)
}

// request writes a request into the env's directory as name and returns
// its path and ID.
func (e *env) request(name string, r Request) (string, string) {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	id, err := r.Write(path, vendorRcpt)
	if err != nil {
		e.t.Fatal(err)
	}
	return path, id
}

// read returns a file of the env's directory.
func (e *env) read(name string) []byte {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.dir, name))
	if err != nil {
		e.t.Fatal(err)
	}
	return data
}

// license parses and authenticates a license file of the env.
func (e *env) license(name string) *olr.License {
	e.t.Helper()
	l, err := olr.ParseLicense(e.read(name), vendorTrust)
	if err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	return l
}

// view opens the ledger file with signer/ledger and reads it.
func (e *env) view(fn func(tx *ledger.Tx) error) {
	e.t.Helper()
	l, err := ledger.Open(e.ledger)
	if err != nil {
		e.t.Fatal(err)
	}
	defer l.Close()
	if err := l.View(context.Background(), fn); err != nil {
		e.t.Fatal(err)
	}
}

// binCmd returns a command running bin in the env's directory.
func binCmd(e *env, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.dir
	cmd.Env = cleanEnv(e.dir)
	return cmd
}

func mkdir(dir string) error { return os.Mkdir(dir, 0o755) }
