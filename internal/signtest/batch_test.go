package signtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olr-dev/olr/olr"
)

// TestBatchSummary checks what olr-sign issue --batch says and how it
// exits: 2 while a file cannot be read, 1 while a request is refused, 0
// when every request has its license; each refusal grouped by its rule
// with the files, no license key echoed, and no progress bar on a stderr
// that is not a terminal.
func TestBatchSummary(t *testing.T) { onEngines(t, testBatchSummary) }

func testBatchSummary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, policyKeys)
	in, out := filepath.Join(e.dir, "in"), filepath.Join(e.dir, "out")
	if err := mkdir(in); err != nil {
		t.Fatal(err)
	}
	reqs := map[string]Request{
		"one.olr":     {Licensee: licensee, Key: "OEM-0001-AAAA", Machine: 1},
		"two.olr":     {Licensee: licensee, Key: "OEM-0002-BBBB", Machine: 2},
		"meter.olr":   {Licensee: licensee, Key: "METER-0001-CCCC", Machine: 3},
		"eval.olr":    {Licensee: licensee, Key: "EVAL-0001-EEEE", Machine: 4},
		"unknown.olr": {Licensee: licensee, Key: "OEM-7777-SECRET", Machine: 5},
	}
	for name, r := range reqs {
		if _, err := r.Write(filepath.Join(in, name), vendorRcpt); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(in, "garbage.olr"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(in, "readme.txt"), []byte("not a request\n"), 0o644)

	check := func(r result, code int, want ...string) {
		t.Helper()
		if r.code != code {
			t.Fatalf("want exit %d: %v", code, r)
		}
		for _, w := range want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
			}
		}
		for _, k := range policyKeys {
			if strings.Contains(r.stderr+r.stdout, k.Key) {
				t.Errorf("output echoes key %s:\n%v", k.Key, r)
			}
		}
		if strings.Contains(r.stderr+r.stdout, "OEM-7777-SECRET") {
			t.Errorf("output echoes the unknown key:\n%v", r)
		}
		if strings.ContainsAny(r.stderr, "\r\033") {
			t.Errorf("a progress bar on a stderr that is not a terminal:\n%q", r.stderr)
		}
	}
	r := e.run("issue", "-i", vendorKey, "--no-ledger", "--batch", in, "-o", out)
	if r.code != 2 || !strings.Contains(r.stderr, "--batch needs the ledger") {
		t.Errorf("--batch --no-ledger: %v", r)
	}
	check(e.batch(in, out), 2,
		"6 requests", "2 issued, 0 re-issued, 0 replayed, 3 refused, 1 errors",
		"refused (offline-oem-only): 2: eval.olr, meter.olr", olr.OfflineActivationRule,
		"refused (unknown-key): 1: unknown.olr",
		"errors: 1: garbage.olr", "garbage.olr: not an olr request")
	lics, others, err := LicenseFiles(out)
	if err != nil || len(lics) != 2 || len(others) != 0 {
		t.Fatalf("out holds %v and %v (%v)", lics, others, err)
	}

	os.Remove(filepath.Join(in, "garbage.olr"))
	check(e.batch(in, out), 1, "5 requests", "0 issued, 0 re-issued, 2 replayed, 3 refused, 0 errors", "3 of 5 requests refused")

	for _, n := range []string{"meter.olr", "eval.olr", "unknown.olr"} {
		os.Remove(filepath.Join(in, n))
	}
	os.Remove(filepath.Join(out, "two.license.olr"))
	check(e.batch(in, out), 0, "2 replayed, 0 refused, 0 errors; 1 license files written")
	if _, err := os.Stat(filepath.Join(out, "two.license.olr")); err != nil {
		t.Errorf("the lost license was not written again: %v", err)
	}
}
