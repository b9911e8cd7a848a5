package clitest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/host"
	"github.com/olr-dev/olr/olr"
)

// Every byte of a license.olr is either covered by the signature or
// rejected when changed (DESIGN.md): no single-byte change may verify.

// TestTamperEveryByteCLI runs the real olr verify once for every byte
// position of a license, with that byte changed, and expects a refusal
// (exit 1 or 2) each time.
func TestTamperEveryByteCLI(t *testing.T) {
	t.Parallel()
	a := newActivation(t, "baremetal", "")
	lic, err := os.ReadFile(a.License)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(file string) result {
		return run(t, a.Dir, "olr", "verify", "--license", file, "--trust", a.Key+".trust", "--root", a.Root)
	}
	if r := verify(a.License); r.code != 0 || !bytes.Contains([]byte(r.stdout), []byte("status:      valid")) {
		t.Fatalf("the untouched license does not verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	start := time.Now()
	workers := runtime.GOMAXPROCS(0)
	positions := make(chan int)
	var wg sync.WaitGroup
	var codes [3]atomic.Int64
	for w := range workers {
		file := filepath.Join(a.Dir, fmt.Sprintf("mutated-%d.olr", w))
		buf := bytes.Clone(lic)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range positions {
				buf[i] = lic[i] ^ 0x01
				err := os.WriteFile(file, buf, 0o644)
				buf[i] = lic[i]
				if err != nil {
					t.Error(err)
					continue
				}
				r, err := execCommand(a.Dir, nil, "olr", "verify", "--license", file, "--trust", a.Key+".trust", "--root", a.Root)
				if err != nil {
					t.Errorf("byte %d: %v", i, err)
					continue
				}
				switch r.code {
				case 1, 2:
					codes[r.code].Add(1)
				default:
					t.Errorf("byte %d (%q -> %q, line %d): olr verify exited %d, want 1 or 2\n%s%s",
						i, lic[i], lic[i]^0x01, lineOf(lic, i), r.code, r.stdout, r.stderr)
				}
			}
		}()
	}
	for i := range lic {
		positions <- i
	}
	close(positions)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d positions through olr verify in %v on %d workers (%v a run): %d exit 1, %d exit 2",
		len(lic), elapsed.Round(time.Millisecond), workers, (elapsed * time.Duration(workers) / time.Duration(len(lic))).Round(time.Microsecond),
		codes[1].Load(), codes[2].Load())
}

// TestTamperEveryByteInProcess changes every byte of a license to every
// one of the 255 other values and verifies each with olr.Verify. Under
// -short only every 16th position is swept.
func TestTamperEveryByteInProcess(t *testing.T) {
	t.Parallel()
	lic, trust, fp := inProcessActivation(t)
	opts := &olr.VerifyOptions{Product: "backup-server"}
	sweepEveryByte(t, lic, func(b []byte) (*olr.Result, error) { return olr.Verify(b, trust, fp, time.Now(), opts) })
}

// sweepEveryByte changes every byte of lic to every other value and
// expects verify to refuse each.
func sweepEveryByte(t *testing.T, lic []byte, verify func([]byte) (*olr.Result, error)) {
	if res, err := verify(lic); err != nil || res.Status != olr.Valid {
		t.Fatalf("the untouched license: %v, %v", res.Status, err)
	}

	stride := 1
	if testing.Short() {
		stride = 16
	}
	start := time.Now()
	workers := runtime.GOMAXPROCS(0)
	positions := make(chan int, workers)
	var wg sync.WaitGroup
	var verified, failures atomic.Int64
	reasons := make([]map[olr.Reason]int, workers)
	for w := range workers {
		buf := bytes.Clone(lic)
		reasons[w] = map[olr.Reason]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range positions {
				for v := range 256 {
					if byte(v) == lic[i] {
						continue
					}
					buf[i] = byte(v)
					res, err := verify(buf)
					verified.Add(1)
					if err == nil || res.Usable() {
						if failures.Add(1) <= 20 {
							t.Errorf("byte %d (line %d) %q -> %q: the license still verifies (status %s)", i, lineOf(lic, i), lic[i], byte(v), res.Status)
						}
						continue
					}
					reasons[w][res.Reason]++
				}
				buf[i] = lic[i]
			}
		}()
	}
	for i := 0; i < len(lic); i += stride {
		positions <- i
	}
	close(positions)
	wg.Wait()
	total := map[olr.Reason]int{}
	for _, m := range reasons {
		for r, n := range m {
			total[r] += n
		}
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d single-byte changes verified", n)
	}
	t.Logf("%d changed licenses (%d positions of %d, stride %d) through olr.Verify in %v on %d workers; reasons: %v",
		verified.Load(), (len(lic)+stride-1)/stride, len(lic), stride, time.Since(start).Round(time.Millisecond), workers, total)
}

// lineOf returns the 1-based line of byte i.
func lineOf(b []byte, i int) int { return bytes.Count(b[:i], []byte("\n")) + 1 }

// TestTamperInsertDeleteInProcess deletes every byte of a license, and
// inserts a few bytes at every position, and verifies each with
// olr.Verify. Licenses survive copy and paste (CRLF, blank lines around
// the armor), so a variant may verify, but only if it is the same license
// up to those changes: after turning CRLF into LF and trimming the space
// around the armor it must equal the original.
func TestTamperInsertDeleteInProcess(t *testing.T) {
	t.Parallel()
	lic, trust, fp := inProcessActivation(t)
	now := time.Now()
	opts := &olr.VerifyOptions{Product: "backup-server"}
	normal := func(b []byte) []byte {
		return bytes.TrimSpace(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
	}
	want := normal(lic)
	var accepted, tried int
	check := func(what string, b []byte) {
		tried++
		res, err := olr.Verify(b, trust, fp, now, opts)
		if err != nil || !res.Usable() {
			return
		}
		accepted++
		if !bytes.Equal(normal(b), want) {
			t.Errorf("%s: a changed license verifies", what)
		}
	}
	for i := range lic {
		check(fmt.Sprintf("byte %d (%q, line %d) deleted", i, lic[i], lineOf(lic, i)),
			append(bytes.Clone(lic[:i]), lic[i+1:]...))
	}
	for i := 0; i <= len(lic); i++ {
		for _, c := range []byte{'\n', '\r', ' ', '\t', 0, 'A', '/', '=', '-', ':'} {
			b := append(append(bytes.Clone(lic[:i]), c), lic[i:]...)
			check(fmt.Sprintf("%q inserted at %d (line %d)", c, i, lineOf(lic, min(i, len(lic)-1))), b)
		}
	}
	t.Logf("%d variants, %d verified (copy-and-paste variants of the same license)", tried, accepted)
}

// inProcessActivation makes a license for the bare-metal fixture through
// the binaries and returns it with the vendor's trust bundle and the
// fixture's fingerprint, for sweeps through olr.Verify.
func inProcessActivation(t *testing.T) ([]byte, *olr.Trust, *fingerprint.Fingerprint) {
	a := newActivation(t, "baremetal", "")
	lic, err := os.ReadFile(a.License)
	if err != nil {
		t.Fatal(err)
	}
	trustData, err := os.ReadFile(a.Key + ".trust")
	if err != nil {
		t.Fatal(err)
	}
	trust, err := olr.ParseTrust(trustData)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := host.Collect(context.Background(), host.Options{Root: a.Root})
	if err != nil {
		t.Fatal(err)
	}
	return lic, trust, fp
}
