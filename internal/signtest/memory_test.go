package signtest

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// maxBatchRSS bounds the peak resident memory of olr-sign issue --batch
// over 10,000 requests, on either ledger engine.
const maxBatchRSS = 50 << 20

// TestBatchMemory runs olr-sign issue --batch over 10,000 requests and
// reads the child's peak RSS from the kernel: it must stay under 50 MiB,
// whatever the number of requests, since every stage of the batch is
// joined by a bounded channel; on an SQLite ledger and on PostgreSQL.
func TestBatchMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 requests: skipped with -short")
	}
	t.Parallel()
	const n = 10_000
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = Key{fmt.Sprintf("OEM-M%06d", i), licensee, "oem"}
	}
	// The same requests for both engines, made once.
	in := t.TempDir()
	start := time.Now()
	writeAll(t, n, func(i int) error {
		_, err := Request{Licensee: licensee, Key: keys[i].Key, Machine: i}.Write(filepath.Join(in, fmt.Sprintf("r-%06d.olr", i)), vendorRcpt)
		return err
	})
	t.Logf("%d requests made in %v", n, time.Since(start).Round(time.Millisecond))
	// One engine after the other, so that the two batches do not
	// compete for the machine.
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { batchMemory(t, keys, in) })
	}
}

func batchMemory(t *testing.T, keys []Key, in string) {
	n := len(keys)
	e := newEnv(t, keys)
	out := filepath.Join(e.dir, "out")
	cmd := e.batchCmd(in, out)
	start := time.Now()
	r := runCmd(t, cmd)
	took := time.Since(start)
	if r.code != 0 || !strings.Contains(r.stderr, fmt.Sprintf("%d issued", n)) {
		t.Fatalf("batch: %v", r)
	}
	lics, others, err := LicenseFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(lics) != n || len(others) != 0 {
		t.Fatalf("%d license files and %d others, want %d and none", len(lics), len(others), n)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage on this system")
	}
	rss := ru.Maxrss * 1024 // KiB on Linux
	t.Logf("olr-sign issue --batch: %d requests in %v (%.0f licenses/s), peak RSS %.1f MiB (user %v, system %v)",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), float64(rss)/(1<<20),
		time.Duration(ru.Utime.Nano()).Round(time.Millisecond), time.Duration(ru.Stime.Nano()).Round(time.Millisecond))
	if rss >= maxBatchRSS {
		t.Errorf("peak RSS %d MiB, want under %d MiB", rss>>20, maxBatchRSS>>20)
	}
	if r := e.run("ledger", "verify", "--ledger", e.ledger); r.code != 0 {
		t.Fatalf("ledger verify: %v", r)
	}
}
