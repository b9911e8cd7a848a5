package signer

import (
	"context"
	"crypto/ed25519"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/internal/gctune"
	"github.com/olr-dev/olr/olr"
)

// The benchmarks of batch issuing. Their files go to b.TempDir(), under
// $TMPDIR: point it at a tmpfs (/dev/shm) to measure the code alone, at
// a disk to measure the durability too. Both run with the garbage
// collector set as olr-sign issue --batch sets it (gctune.Batch), so that
// the bound gains from it what the batch does. -count does not interleave two
// benchmarks (it runs one N times, then the other): run each pair
// alternately, one -test.count 1 at a time (BENCHMARKS.md shows how).

// BenchmarkBatchIssue is batch issuing as olr-sign issue --batch runs it:
// b.N hybrid-encrypted requests in a directory, a durable ledger (SQLite
// file, WAL, synchronous=FULL) and license files made durable with one
// sync per transaction. Compare licenses/s with BenchmarkBatchBound.
func BenchmarkBatchIssue(b *testing.B) { benchBatch(b, "", false) }

// BenchmarkBatchIssueSyncEach is BenchmarkBatchIssue with the former
// durability scheme: each license file fsynced before its rename, the
// directory at the end.
func BenchmarkBatchIssueSyncEach(b *testing.B) { benchBatch(b, "", true) }

// benchBatch runs one batch of b.N first activations on the ledger at
// location ("": an SQLite file in b.TempDir()).
func benchBatch(b *testing.B, location string, syncEach bool) {
	e := newBatchEnvAt(b, b.N, location)
	e.requests(b, b.N)
	batch := e.batch()
	batch.syncEach = syncEach
	defer gctune.Batch()()
	b.ReportAllocs()
	runtime.GC() // the setup's garbage is not the batch's
	b.ResetTimer()
	cpu := cpuTime()
	res, err := batch.Run(context.Background(), e.in, e.out)
	if err != nil {
		b.Fatal(err)
	}
	cpu = cpuTime() - cpu
	b.StopTimer()
	if res.Issued != b.N || res.Written != b.N {
		b.Fatalf("got %+v", res)
	}
	reportRate(b, cpu)
}

// BenchmarkBatchBound is the bare cryptography of one request, on a pool
// of GOMAXPROCS workers: age decryption of a hybrid (ML-KEM-768 + X25519)
// request and one Ed25519 signature. No batch can beat it.
func BenchmarkBatchBound(b *testing.B) {
	e := newBatchEnv(b, 0)
	const distinct = 64
	reqs := make([][]byte, distinct)
	for i := range reqs {
		req, err := olr.NewRequest(testProduct, testLicensee, batchKey(i), "host", "test", machine(i), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if reqs[i], err = olr.EncryptRequest(req, []age.Recipient{e.rcpt}, true); err != nil {
			b.Fatal(err)
		}
	}
	msg := make([]byte, 1200) // the size of a license body
	ids := []age.Identity{e.keys.Identity}
	defer gctune.Batch()()
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()
	cpu := cpuTime()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if _, err := olr.DecryptRequest(reqs[i%distinct], ids); err != nil {
					b.Error(err)
					return
				}
				ed25519.Sign(e.keys.Signing, msg)
			}
		}()
	}
	wg.Wait()
	cpu = cpuTime() - cpu
	b.StopTimer()
	reportRate(b, cpu)
}

// reportRate reports licenses/s, and the CPU time per license (user and
// system, on all threads), which depends less on the machine's other
// work than the wall time does.
func reportRate(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "licenses/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/license")
	}
}
