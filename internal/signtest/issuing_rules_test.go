package signtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/signer/ledger"
)

// weakMachine is a machine that reports only what every clone of its
// disk image shares: the machine-id and an IP address.
func weakMachine(class string) *fingerprint.Fingerprint {
	fp := &fingerprint.Fingerprint{Machine: fingerprint.MachineKind{Class: class}}
	fp.Add(fingerprint.KindMachineID, "0123456789abcdef0123456789abcdef", "/etc/machine-id", false)
	fp.Add(fingerprint.KindIP, "10.1.2.3", "iface:eth0", false)
	fp.Sort()
	return fp
}

// TestWeakFingerprint: a license bound only to the machine-id and IP
// addresses, or for a container, would install on every clone; issue
// refuses it (weak-fingerprint, exit 1, nothing written) unless the
// operator overrides with --allow-weak REASON, which the ledger records.
func TestWeakFingerprint(t *testing.T) {
	t.Parallel()
	container := Machine(7)
	container.Machine = fingerprint.MachineKind{Class: fingerprint.ClassContainer, Detail: "docker"}
	for _, tt := range []struct {
		name string
		fp   *fingerprint.Fingerprint
		want string
	}{
		{"machine-id and IP only", weakMachine(fingerprint.ClassVM), "the license would be bound only to ip and machine-id"},
		{"container", container, "the request comes from a container"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, policyKeys)
			req, reqID := e.request("req.olr", Request{Licensee: licensee, Key: "OEM-0001-AAAA", Fingerprint: tt.fp})
			r := e.issue(req, "lic.olr")
			if r.code != 1 || !strings.Contains(r.stderr, "refused: "+tt.want) ||
				!strings.Contains(r.stderr, "olr-sign: hint: ask the customer to make the request on the machine itself") {
				t.Fatalf("weak request: %v", r)
			}
			if _, err := os.Stat(filepath.Join(e.dir, "lic.olr")); err == nil {
				t.Fatal("a license was written for a refused request")
			}
			if r := e.issue(req, "lic.olr", "--allow-weak", " "); r.code != 2 || !strings.Contains(r.stderr, "--allow-weak needs a reason") {
				t.Errorf("an empty reason: %v", r)
			}
			if r := e.issue(req, "lic.olr", "--allow-weak", "lab machine, ticket 4711"); r.code != 0 {
				t.Fatalf("with the override: %v", r)
			}
			var found bool
			e.view(func(tx *ledger.Tx) error {
				return tx.Audit(func(rec *ledger.AuditRecord) error {
					if rec.Action == "override.weak-fingerprint" && rec.Subject == "OEM-0001-AAAA" &&
						strings.Contains(string(rec.Details), `"reason":"lab machine, ticket 4711"`) &&
						strings.Contains(string(rec.Details), reqID) {
						found = true
					}
					return nil
				})
			})
			if !found {
				t.Error("the override is not in the ledger's audit log")
			}
		})
	}
	t.Run("without a ledger", func(t *testing.T) {
		e := newEnv(t, policyKeys)
		req, _ := e.request("req.olr", Request{Licensee: licensee, Key: "OEM-0001-AAAA", Fingerprint: weakMachine(fingerprint.ClassBareMetal)})
		if r := e.run("issue", "--no-ledger", "-i", vendorKey, "-m", "obm=1", req, "-o", "lic.olr"); r.code != 1 || !strings.Contains(r.stderr, "weak") {
			t.Errorf("--no-ledger, weak: %v", r)
		}
		r := e.run("issue", "--no-ledger", "-i", vendorKey, "-m", "obm=1", "--allow-weak", "lab", req, "-o", "lic.olr")
		if r.code != 0 || !strings.Contains(r.stderr, "warning: --allow-weak without a ledger: the override is not recorded anywhere") {
			t.Errorf("--no-ledger --allow-weak: %v", r)
		}
	})
}

// TestReplayMeansTheSameRequest: a request answered before gets its
// license again only when it is the same request; another request that
// reuses its ID (another machine, licensee or key) is refused.
func TestReplayMeansTheSameRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, policyKeys)
	first := Request{Licensee: licensee, Key: "OEM-0001-AAAA", Machine: 1}
	req, id := e.request("first.olr", first)
	if r := e.issue(req, "first.license.olr"); r.code != 0 {
		t.Fatal(r)
	}
	again, _ := e.request("again.olr", Request{Licensee: licensee, Key: "OEM-0001-AAAA", Machine: 1, ID: id})
	if r := e.issue(again, "again.license.olr"); r.code != 0 || !strings.Contains(r.stderr, "replayed license") {
		t.Fatalf("the same request again: %v", r)
	}
	if string(e.read("again.license.olr")) != string(e.read("first.license.olr")) {
		t.Error("a replay got other license bytes")
	}
	for _, tt := range []struct {
		name string
		req  Request
	}{
		{"another machine", Request{Licensee: licensee, Key: "OEM-0001-AAAA", Machine: 2, ID: id}},
		{"another licensee", Request{Licensee: "Someone Else Ltd", Key: "OEM-0001-AAAA", Machine: 1, ID: id}},
		{"another key", Request{Licensee: licensee, Key: "OEM-0002-BBBB", Machine: 1, ID: id}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := e.request("reused.olr", tt.req)
			r := e.issue(path, "reused.license.olr")
			if r.code != 1 || !strings.Contains(r.stderr, "refused: request "+id+" was answered before") ||
				!strings.Contains(r.stderr, "a request ID is used once") {
				t.Errorf("%v", r)
			}
			if _, err := os.Stat(filepath.Join(e.dir, "reused.license.olr")); err == nil {
				t.Error("a license was written")
			}
		})
	}
	e.view(func(tx *ledger.Tx) error {
		if ls, _ := tx.Licenses("OEM-0002-BBBB"); len(ls) != 0 {
			t.Errorf("key 2 got %d licenses", len(ls))
		}
		return nil
	})
}

// TestConcurrentBatchesOneDirectory: a second batch into a directory
// another batch is writing into stops at once with a message, and the
// first finishes with every license; neither removes the other's files.
func TestConcurrentBatchesOneDirectory(t *testing.T) {
	t.Parallel()
	keys := make([]Key, 20)
	for i := range keys {
		keys[i] = Key{fmt.Sprintf("OEM-B%04d", i), licensee, "oem"}
	}
	e := newEnv(t, keys)
	in, out := filepath.Join(e.dir, "in"), filepath.Join(e.dir, "out")
	if err := mkdir(in); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		e.request(filepath.Join("in", fmt.Sprintf("r%02d.olr", i)), Request{Licensee: licensee, Key: k.Key, Machine: 300 + i})
	}
	// The first batch locks the directory, then waits for the ledger,
	// which the test holds, so that the second surely meets it at work.
	release := holdWriteLockUntil(t, e.ledger)
	first := e.batchCmd(in, out)
	first.Env = append(first.Env, "OLR_LEDGER_WAIT=2m")
	var firstOut strings.Builder
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait, without taking it, until the first batch holds the lock.
	deadline := time.Now().Add(2 * time.Minute)
	for !flocked(t, out) {
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatalf("the first batch never locked %s: %s", out, firstOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd := e.batchCmd(in, out)
	cmd.Env = append(cmd.Env, "OLR_LEDGER_WAIT=50ms")
	second := runCmd(t, cmd)
	if second.code != 2 || !strings.Contains(second.stderr, "olr-sign: error: -o "+out+": another olr-sign batch is writing into this directory") ||
		!strings.Contains(second.stderr, "olr-sign: hint: wait for it to finish, or write into another directory") {
		t.Errorf("the second batch: %v", second)
	}
	release()
	if err := first.Wait(); err != nil {
		t.Fatalf("the first batch: %v\n%s", err, firstOut.String())
	}
	if !strings.Contains(firstOut.String(), "20 issued") {
		t.Errorf("the first batch: %s", firstOut.String())
	}
	lics, others, err := LicenseFiles(out)
	if err != nil || len(lics) != 20 || len(others) != 0 {
		t.Errorf("out holds %d licenses and %v (%v)", len(lics), others, err)
	}
}

// flocked reports whether a process holds a flock on the directory dir,
// from the kernel's list of locks (Linux), without taking it.
func flocked(t *testing.T, dir string) bool {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no inode numbers on this system")
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Skipf("cannot read the kernel's locks: %v", err)
	}
	suffix := fmt.Sprintf(":%d ", st.Ino)
	for _, line := range strings.Split(string(locks), "\n") {
		if strings.Contains(line, "FLOCK") && strings.Contains(line+" ", suffix) {
			return true
		}
	}
	return false
}

// holdWriteLockUntil is holdWriteLock that the test releases itself.
func holdWriteLockUntil(t *testing.T, path string) (release func()) {
	t.Helper()
	l, err := ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan struct{})
	done := make(chan struct{})
	go func() {
		l.Update(context.Background(), "test", func(tx *ledger.Tx) error {
			close(held)
			<-done
			return nil
		})
	}()
	<-held
	return func() { close(done); l.Close() }
}
