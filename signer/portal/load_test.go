package portal

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

// The load test: concurrent clients issuing through the JSON API of one
// desk on an SQLite ledger, over loopback, beside the command line's
// batch issuing on the same machine.

// loadClients is how many clients issue at once.
const loadClients = 16

// loadKey names the i-th key sold for the load.
func loadKey(i int) string { return fmt.Sprintf("OEM-LOAD-%06d", i) }

// loadEnv is a desk with n more OEM keys sold and a request for each,
// every one from its own machine.
func loadEnv(tb testing.TB, n int) (*env, [][]byte) {
	e := newEnvWith(tb, Config{})
	var sold []ledger.SoldKey
	for i := range n {
		sold = append(sold, ledger.SoldKey{Key: loadKey(i), Licensee: testLicensee, Type: olr.TypeOEM, Product: testProduct,
			Modules: map[string]ledger.Quota{"obm": 50}})
	}
	err := e.ledger.Update(context.Background(), "sales", func(tx *ledger.Tx) error {
		_, err := tx.ImportKeys("load", sold)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	reqs := make([][]byte, n)
	for i := range n {
		reqs[i] = e.request(testLicensee, loadKey(i), 1000+i)
	}
	return e, reqs
}

// loadResult is what one load run measured.
type loadResult struct {
	licenses  int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r *loadResult) perSecond() float64 { return float64(r.licenses) / r.elapsed.Seconds() }

// p99 is the 99th percentile latency of one issue call.
func (r *loadResult) p99() time.Duration {
	l := slices.Clone(r.latencies)
	slices.Sort(l)
	return l[min(len(l)-1, len(l)*99/100)]
}

// runLoad has loadClients signed-in clients issue every request through
// POST /api/issue, each taking the next request, and fails on any answer
// but a first activation. It is bounded by the requests given and by
// timeout.
func runLoad(tb testing.TB, e *env, reqs [][]byte, timeout time.Duration) *loadResult {
	clients := make([]*client, loadClients)
	for i := range clients {
		clients[i] = e.client().login("sam")
		clients[i].c.Timeout = timeout
	}
	var next int
	var mu sync.Mutex
	var failures []string
	res := &loadResult{}
	deadline := time.Now().Add(timeout)
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(reqs) || time.Now().After(deadline) {
					return
				}
				t0 := time.Now()
				resp, err := c.c.PostForm(e.ts.URL+"/api/issue", url.Values{"text": {string(reqs[i])}})
				d := time.Since(t0)
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case resp.StatusCode != http.StatusOK:
					failures = append(failures, fmt.Sprintf("request %d: %s", i, resp.Status))
				default:
					res.licenses++
					res.latencies = append(res.latencies, d)
				}
				mu.Unlock()
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if len(failures) > 0 {
		tb.Fatalf("%d of %d issue calls failed; first: %s", len(failures), len(reqs), failures[0])
	}
	if res.licenses != len(reqs) {
		tb.Fatalf("%d of %d licenses issued within %v", res.licenses, len(reqs), timeout)
	}
	if err := e.ledger.Verify(context.Background()); err != nil {
		tb.Fatalf("ledger verify after the load: %v", err)
	}
	return res
}

// TestLoad: 16 clients issue 128 licenses at once through the API of one
// desk; every call succeeds, the ledger holds one activation per key and
// verifies. The figures are logged; BenchmarkIssue measures them beside
// the batch.
func TestLoad(t *testing.T) {
	const n = 8 * loadClients
	e, reqs := loadEnv(t, n)
	res := runLoad(t, e, reqs, 5*time.Minute)
	var acts int
	e.ledger.View(context.Background(), func(tx *ledger.Tx) error {
		for i := range n {
			a, err := tx.Activations(loadKey(i))
			if err != nil {
				return err
			}
			acts += len(a)
		}
		return nil
	})
	if acts != n {
		t.Fatalf("%d activations for %d keys", acts, n)
	}
	t.Logf("%d clients, %d licenses in %v: %.0f licenses/s, p99 %v", loadClients, res.licenses, res.elapsed.Round(time.Millisecond), res.perSecond(), res.p99())
}

// BenchmarkIssue compares issuing through the desk's API, 16 clients at
// once, with batch issuing as olr-sign issue --batch does it (a directory
// of requests, licenses fsynced into another), on the same keys, ledger
// engine and machine. Each reports licenses/s; the desk also its p99
// latency per call.
func BenchmarkIssue(b *testing.B) {
	b.Run("desk-16-clients", func(b *testing.B) {
		e, reqs := loadEnv(b, b.N)
		b.ResetTimer()
		res := runLoad(b, e, reqs, 10*time.Minute)
		b.StopTimer()
		b.ReportMetric(res.perSecond(), "licenses/s")
		b.ReportMetric(float64(res.p99().Microseconds())/1000, "p99-ms")
	})
	b.Run("cli-batch", func(b *testing.B) {
		e, reqs := loadEnv(b, b.N)
		in, out := b.TempDir(), b.TempDir()
		for i, r := range reqs {
			if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("req-%06d.olr", i)), r, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		batch := &signer.Batch{Issuer: e.server.cfg.Issuer, Operator: "sam"}
		b.ResetTimer()
		start := time.Now()
		res, err := batch.Run(context.Background(), in, out)
		elapsed := time.Since(start)
		b.StopTimer()
		if err != nil || res.Issued != b.N {
			b.Fatalf("batch: %v %+v", err, res)
		}
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "licenses/s")
	})
}
