package olrcli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The olr binary that the process tests and benchmarks run, built once.
var (
	buildOnce sync.Once
	binDir    string
	olrPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// olrBinary builds cmd/olr once, with the same cgo setting as the tests,
// and returns its path.
func olrBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		gocmd, err := exec.LookPath("go")
		// go test puts its own go command first on PATH.
		if err != nil {
			buildErr = err
			return
		}
		if binDir, buildErr = os.MkdirTemp("", "olrcli-test-"); buildErr != nil {
			return
		}
		olrPath = filepath.Join(binDir, "olr")
		out, err := exec.Command(gocmd, "build", "-o", olrPath, "github.com/olr-dev/olr/cmd/olr").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return olrPath
}

// benchProcess runs the olr binary with args once per iteration.
func benchProcess(b *testing.B, args ...string) {
	bin := olrBinary(b)
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		b.Fatalf("olr %v: %v\n%s", args, err, out)
	}
	for b.Loop() {
		if err := exec.Command(bin, args...).Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFingerprintProcess is "olr fingerprint --tpm none" as a whole
// process: start, collect from this machine, print.
func BenchmarkFingerprintProcess(b *testing.B) {
	benchProcess(b, "fingerprint", "--tpm", "none")
}

// BenchmarkVersionProcess is the baseline: the same binary starting and
// printing its version, which is what any Go process of this size costs.
func BenchmarkVersionProcess(b *testing.B) {
	benchProcess(b, "--version")
}
