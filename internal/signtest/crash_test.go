package signtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// The crash batch: 200 requests for 180 keys. Keys 0..179 each from
// their own machine; keys 0..14 asked again from the same machine (a
// re-issue each); keys 20..24 asked from a second machine (refused).
const (
	crashKeys     = 180
	crashReissue  = 15
	crashRefused  = 5
	crashRequests = crashKeys + crashReissue + crashRefused
)

func crashKey(i int) string { return fmt.Sprintf("OEM-K%04d", i) }

// crashBatch writes the crash batch's requests into dir and returns the
// request ID of each file name.
func crashBatch(t testing.TB, dir string) map[string]string {
	t.Helper()
	type job struct {
		name string
		r    Request
	}
	var jobs []job
	for i := range crashKeys {
		jobs = append(jobs, job{fmt.Sprintf("a-%04d.olr", i), Request{Licensee: licensee, Key: crashKey(i), Machine: i}})
	}
	for i := range crashReissue {
		jobs = append(jobs, job{fmt.Sprintf("b-%04d.olr", i), Request{Licensee: licensee, Key: crashKey(i), Machine: i}})
	}
	for i := range crashRefused {
		jobs = append(jobs, job{fmt.Sprintf("c-%04d.olr", i), Request{Licensee: licensee, Key: crashKey(20 + i), Machine: 1000 + i}})
	}
	ids := make(map[string]string, len(jobs))
	var mu sync.Mutex
	writeAll(t, len(jobs), func(i int) error {
		id, err := jobs[i].r.Write(filepath.Join(dir, jobs[i].name), vendorRcpt)
		mu.Lock()
		ids[jobs[i].name] = id
		mu.Unlock()
		return err
	})
	return ids
}

// writeAll runs fn(0..n-1) on all cores.
func writeAll(t testing.TB, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func crashEnv(t testing.TB) *env {
	keys := make([]Key, crashKeys)
	for i := range keys {
		keys[i] = Key{crashKey(i), licensee, "oem"}
	}
	return newEnv(t, keys)
}

// TestBatchKilled kills olr-sign issue --batch with SIGKILL at random
// moments, checks what it left after each kill, and completes the batch.
func TestBatchKilled(t *testing.T) { onEngines(t, testBatchKilled) }

func testBatchKilled(t *testing.T) {
	t.Parallel()
	in := t.TempDir()
	ids := crashBatch(t, in)
	rounds, killsPerRound, wantKills := 13, 2, 20
	if testing.Short() {
		rounds, wantKills = 4, 6
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	kills, finished := 0, 0
	var atCount []int
	for round := range rounds {
		e := crashEnv(t)
		out := filepath.Join(e.dir, "out")
		for k, landed := 0, 0; landed < killsPerRound && k < 3*killsPerRound; k++ {
			// Half the kills wait for a random number of new license
			// files, half for a random time (which may fall in start-up).
			have, _, _ := LicenseFiles(out)
			left := crashRequests - crashRefused - len(have)
			var n int
			var d time.Duration
			if (round+k)%2 == 0 && left > 1 {
				n = len(have) + 1 + rng.IntN(left-1)
			} else {
				d = time.Duration(1+rng.IntN(150)) * time.Millisecond
			}
			killed, count := e.killBatch(t, in, out, n, d)
			if killed {
				landed++
				kills++
				atCount = append(atCount, count)
			} else {
				finished++
			}
			e.checkOut(t, out, ids)
		}
		r := e.batch(in, out)
		if r.code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("%d refused, 0 errors", crashRefused)) {
			t.Fatalf("round %d: the completing run: %v", round, r)
		}
		e.checkOut(t, out, ids)
		e.checkComplete(t, out, ids)
	}
	t.Logf("%d kills (with %v license files on disk), %d runs finished before their kill", kills, atCount, finished)
	if kills < wantKills {
		t.Errorf("only %d kills landed, want %d", kills, wantKills)
	}
}

func (e *env) batchCmd(in, out string) *exec.Cmd {
	return e.cmd("issue", "-i", vendorKey, "--ledger", e.ledger, "--operator", "factory", "--batch", in, "-o", out)
}

func (e *env) batch(in, out string) result {
	e.t.Helper()
	return runCmd(e.t, e.batchCmd(in, out))
}

// killBatch starts a batch and kills it with SIGKILL once out holds n
// license files, or after d. It reports whether the kill came before the
// batch ended, and how many license files there were then.
func (e *env) killBatch(t testing.TB, in, out string, n int, d time.Duration) (bool, int) {
	t.Helper()
	cmd := e.batchCmd(in, out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(d)
	for {
		select {
		case err := <-exited:
			// Finished first: fine, but no kill.
			var ee *exec.ExitError
			if err != nil && (!errors.As(err, &ee) || ee.ExitCode() > 1) {
				t.Fatalf("batch failed: %v\n%s", err, stderr.String())
			}
			lics, _, _ := LicenseFiles(out)
			return false, len(lics)
		default:
		}
		lics, _, _ := LicenseFiles(out)
		if (d > 0 && !time.Now().Before(deadline)) || (d == 0 && len(lics) >= n) {
			cmd.Process.Signal(syscall.SIGKILL)
			err := <-exited
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return true, len(lics)
				}
			}
			return false, len(lics) // it ended just before the signal
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// checkOut checks what a batch left, killed or not: the ledger's chain
// holds; every license file is whole, signed, answers the request of its
// name, and is exactly what the ledger recorded; anything else in out is
// a hidden temporary file.
func (e *env) checkOut(t testing.TB, out string, ids map[string]string) {
	t.Helper()
	if r := e.run("ledger", "verify", "--ledger", e.ledger); r.code != 0 {
		t.Fatalf("ledger verify after the kill: %v", r)
	}
	lics, others, err := LicenseFiles(out)
	if errors.Is(err, os.ErrNotExist) {
		return // killed before it made the directory
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range others {
		if b := filepath.Base(o); !strings.HasPrefix(b, ".") || !strings.Contains(b, ".tmp") {
			t.Errorf("unexpected file %s in the output directory", b)
		}
	}
	e.view(func(tx *ledger.Tx) error {
		for _, path := range lics {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			l, err := olr.ParseLicense(data, vendorTrust)
			if err != nil {
				t.Errorf("%s: partial or invalid license: %v", filepath.Base(path), err)
				continue
			}
			name := strings.TrimSuffix(filepath.Base(path), ".license.olr") + ".olr"
			if l.RequestID != ids[name] {
				t.Errorf("%s answers request %s, not %s's", filepath.Base(path), l.RequestID, name)
			}
			il, err := tx.License(l.ID)
			if err != nil {
				t.Errorf("%s: license %s is not in the ledger: %v", filepath.Base(path), l.ID, err)
				continue
			}
			if !bytes.Equal(il.File, data) || il.RequestID != l.RequestID {
				t.Errorf("%s differs from the ledger's record", filepath.Base(path))
			}
		}
		return nil
	})
}

// checkComplete checks a completed batch: every answerable request has
// its license file; each key has exactly one active activation; no
// request was answered twice; the refused requests got nothing.
func (e *env) checkComplete(t testing.TB, out string, ids map[string]string) {
	t.Helper()
	lics, _, err := LicenseFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := crashRequests - crashRefused; len(lics) != want {
		t.Errorf("%d license files, want %d", len(lics), want)
	}
	for i := range crashRefused {
		if _, err := os.Stat(filepath.Join(out, fmt.Sprintf("c-%04d.license.olr", i))); err == nil {
			t.Errorf("refused request c-%04d has a license", i)
		}
	}
	known := map[string]bool{}
	for _, id := range ids {
		known[id] = true
	}
	e.view(func(tx *ledger.Tx) error {
		perRequest := map[string]int{}
		total := 0
		for i := range crashKeys {
			ls, err := tx.Licenses(crashKey(i))
			if err != nil {
				return err
			}
			want := 1
			if i < crashReissue {
				want = 2
			}
			if len(ls) != want {
				t.Errorf("key %d: %d licenses, want %d", i, len(ls), want)
			}
			for _, l := range ls {
				perRequest[l.RequestID]++
				if !known[l.RequestID] {
					t.Errorf("key %d: license %s answers an unknown request", i, l.ID)
				}
			}
			total += len(ls)
			acts, err := tx.Activations(crashKey(i))
			if err != nil {
				return err
			}
			active := 0
			for _, a := range acts {
				if a.State == ledger.StateActive {
					active++
				}
			}
			if active != 1 {
				t.Errorf("key %d: %d active activations", i, active)
			}
		}
		for id, n := range perRequest {
			if n != 1 {
				t.Errorf("request %s answered %d times", id, n)
			}
		}
		if want := crashRequests - crashRefused; total != want {
			t.Errorf("%d licenses in the ledger, want %d", total, want)
		}
		return nil
	})
}
