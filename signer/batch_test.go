package signer

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// machine returns the fingerprint of test machine i: unique MAC,
// machine-id, product UUID, board serial and disk.
func machine(i int) *fingerprint.Fingerprint {
	fp := &fingerprint.Fingerprint{Machine: fingerprint.MachineKind{Class: fingerprint.ClassBareMetal}}
	fp.Add(fingerprint.KindMAC, fmt.Sprintf("3c:ec:ef:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff), "/sys/class/net/eno1/address", false)
	fp.Add(fingerprint.KindIP, fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff|1), "iface:eno1", false)
	fp.Add(fingerprint.KindMachineID, fmt.Sprintf("4f1c2d3e4a5b6c7d8e9f0a1b%08x", i), "/etc/machine-id", false)
	fp.Add(fingerprint.KindProductUUID, fmt.Sprintf("9d8c7b6a-5f4e-3d2c-1b0a-9988%08x", i), "/sys/class/dmi/id/product_uuid", false)
	fp.Add(fingerprint.KindBoardSerial, fmt.Sprintf("BSN-%08d", i), "/sys/class/dmi/id/board_serial", false)
	fp.Add(fingerprint.KindDiskSerial, fmt.Sprintf("S4EWNX0R%08d", i), "/sys/block/nvme0n1/device/serial", false)
	fp.Sort()
	return fp
}

const (
	testLicensee = "Acme Manufacturing Ltd"
	testProduct  = "backup-server"
)

func batchKey(i int) string { return fmt.Sprintf("OEM-%08d", i) }

// batchEnv is a vendor key, a ledger of n OEM keys sold, and a directory
// for requests.
type batchEnv struct {
	keys   *Keys
	ledger *ledger.Ledger
	rcpt   age.Recipient
	in     string
	out    string
}

func newBatchEnv(tb testing.TB, n int) *batchEnv {
	tb.Helper()
	return newBatchEnvAt(tb, n, "")
}

// newBatchEnvAt is newBatchEnv with the ledger at location ("": a file
// in a temporary directory).
func newBatchEnvAt(tb testing.TB, n int, location string) *batchEnv {
	tb.Helper()
	k, err := GenerateKeys(true, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	rcpts, err := olr.ParseRecipients(k.Recipient)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	if location == "" {
		location = filepath.Join(dir, "ledger.db")
	}
	l, err := ledger.Create(location)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	for i := 0; i < n; i += 1000 {
		var sold []ledger.SoldKey
		for j := i; j < min(i+1000, n); j++ {
			sold = append(sold, ledger.SoldKey{Key: batchKey(j), Licensee: testLicensee, Type: olr.TypeOEM,
				Product: testProduct, Modules: map[string]ledger.Quota{"obm": 50, "mobile": ledger.Unlimited}, Languages: []string{"en"}})
		}
		err := l.Update(context.Background(), "test", func(tx *ledger.Tx) error {
			_, err := tx.ImportKeys("test", sold)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	e := &batchEnv{keys: k, ledger: l, rcpt: rcpts[0], in: filepath.Join(dir, "in"), out: filepath.Join(dir, "out")}
	if err := os.Mkdir(e.in, 0o755); err != nil {
		tb.Fatal(err)
	}
	return e
}

// request writes an encrypted request for key from machine m into the
// batch directory as name.
func (e *batchEnv) request(tb testing.TB, name, key string, m int) {
	tb.Helper()
	if err := e.writeRequest(name, key, m); err != nil {
		tb.Fatal(err)
	}
}

func (e *batchEnv) writeRequest(name, key string, m int) error {
	req, err := olr.NewRequest(testProduct, testLicensee, key, fmt.Sprintf("host-%d", m), "test", machine(m), time.Now())
	if err != nil {
		return err
	}
	data, err := olr.EncryptRequest(req, []age.Recipient{e.rcpt}, true)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(e.in, name), data, 0o644)
}

// requests writes n requests, one per key and machine, on all cores.
func (e *batchEnv) requests(tb testing.TB, n int) {
	tb.Helper()
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, runtime.GOMAXPROCS(0))
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := e.writeRequest(fmt.Sprintf("req-%06d.olr", i), batchKey(i), i); err != nil {
					errs <- err // t.Fatal belongs to the test's goroutine
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

func (e *batchEnv) batch() *Batch {
	return &Batch{Issuer: &Issuer{Keys: e.keys, Ledger: e.ledger}, Operator: "factory"}
}

func TestBatch(t *testing.T) {
	e := newBatchEnv(t, 40)
	e.requests(t, 30)
	e.request(t, "unknown.olr", "OEM-NOT-SOLD", 100)
	e.request(t, "second-machine.olr", batchKey(3), 101) // key 3 is req-000003's
	e.request(t, "same-machine.olr", batchKey(4), 4)     // a lost file
	os.WriteFile(filepath.Join(e.in, "garbage.olr"), []byte("not a request\n"), 0o644)
	os.WriteFile(filepath.Join(e.in, "notes.txt"), []byte("ignored\n"), 0o644)

	b := e.batch()
	b.TxSize = 7 // several transactions, one partial
	var calls atomic.Int64
	b.Progress = func(done, total int) {
		calls.Add(1)
		if total != 34 || done > total {
			t.Errorf("progress %d/%d", done, total)
		}
	}
	res, err := b.Run(context.Background(), e.in, e.out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 34 || res.Issued != 30 || res.Reissued != 1 || res.Replayed != 0 || res.Written != 31 {
		t.Errorf("got %+v", res)
	}
	if calls.Load() != 34 {
		t.Errorf("progress called %d times, want 34", calls.Load())
	}
	rules, byRule := res.RefusedByRule()
	if strings.Join(rules, " ") != "one-key-one-machine unknown-key" ||
		byRule["one-key-one-machine"][0].File != "second-machine.olr" || byRule["unknown-key"][0].File != "unknown.olr" {
		t.Errorf("refused: %v %v", rules, byRule)
	}
	if len(res.Errors) != 1 || res.Errors[0].File != "garbage.olr" {
		t.Errorf("errors: %v", res.Errors)
	}
	if _, err := os.Stat(filepath.Join(e.out, "second-machine.license.olr")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused request has a license file: %v", err)
	}
	// Every license verifies, and is the ledger's answer to its request.
	trust := e.keys.Trust()
	files := licenseFiles(t, e.out)
	if len(files) != 31 {
		t.Fatalf("%d license files, want 31", len(files))
	}
	first := map[string][]byte{}
	for _, f := range files {
		data, _ := os.ReadFile(filepath.Join(e.out, f))
		first[f] = data
		l, err := olr.ParseLicense(data, trust)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		e.ledger.View(context.Background(), func(tx *ledger.Tx) error {
			il, err := tx.LicenseByRequest(l.RequestID)
			if err != nil || !bytes.Equal(il.File, data) || il.Operator != "factory" {
				t.Errorf("%s: not the ledger's license (%v)", f, err)
			}
			return nil
		})
	}
	// req-000004 was superseded by same-machine (recorded after it, in
	// file order: "req-" < "same-").
	e.ledger.View(context.Background(), func(tx *ledger.Tx) error {
		ls, _ := tx.Licenses(batchKey(4))
		if len(ls) != 2 || ls[0].Status != ledger.LicenseSuperseded || ls[1].Status != ledger.LicenseActive {
			t.Errorf("key 4 licenses: %+v", ls)
		}
		return nil
	})

	// Run again after losing files as a power cut before the sync may
	// lose them (gone, empty, cut short): everything is a replay, the lost
	// files come back byte for byte, nothing else is written.
	os.Remove(filepath.Join(e.out, "req-000007.license.olr"))
	os.WriteFile(filepath.Join(e.out, "req-000008.license.olr"), nil, 0o644)
	os.WriteFile(filepath.Join(e.out, "req-000009.license.olr"), first["req-000009.license.olr"][:100], 0o644)
	res, err = e.batch().Run(context.Background(), e.in, e.out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Issued != 0 || res.Reissued != 0 || res.Replayed != 31 || res.Written != 3 || len(res.Refused) != 2 {
		t.Errorf("re-run: %+v", res)
	}
	for f, data := range first {
		got, _ := os.ReadFile(filepath.Join(e.out, f))
		if !bytes.Equal(got, data) {
			t.Errorf("%s changed on re-run", f)
		}
	}
	if err := e.ledger.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A request copied under two names is answered once: the second copy is
// a replay of the first inside the same transaction.
func TestBatchDuplicateRequest(t *testing.T) {
	e := newBatchEnv(t, 1)
	e.request(t, "a.olr", batchKey(0), 0)
	data, _ := os.ReadFile(filepath.Join(e.in, "a.olr"))
	os.WriteFile(filepath.Join(e.in, "b.olr"), data, 0o644)
	res, err := e.batch().Run(context.Background(), e.in, e.out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Issued != 1 || res.Replayed != 1 {
		t.Fatalf("got %+v", res)
	}
	a, _ := os.ReadFile(filepath.Join(e.out, "a.license.olr"))
	b, _ := os.ReadFile(filepath.Join(e.out, "b.license.olr"))
	if !bytes.Equal(a, b) {
		t.Error("the two copies got different licenses")
	}
}

func TestBatchCancel(t *testing.T) {
	e := newBatchEnv(t, 50)
	e.requests(t, 50)
	ctx, cancel := context.WithCancel(context.Background())
	b := e.batch()
	b.TxSize = 5
	b.Progress = func(done, total int) {
		if done == 10 {
			cancel()
		}
	}
	_, err := b.Run(ctx, e.in, e.out)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	// Whatever was written is recorded; a new run completes the rest.
	res, err := e.batch().Run(context.Background(), e.in, e.out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Answered() != 50 || len(licenseFiles(t, e.out)) != 50 {
		t.Fatalf("after cancel and re-run: %+v", res)
	}
	var n int
	e.ledger.View(context.Background(), func(tx *ledger.Tx) error {
		for i := range 50 {
			ls, _ := tx.Licenses(batchKey(i))
			n += len(ls)
		}
		return nil
	})
	if n != 50 {
		t.Errorf("%d licenses issued for 50 requests", n)
	}
}

func TestLicenseName(t *testing.T) {
	for in, want := range map[string]string{"a.olr": "a.license.olr", "req.x.olr": "req.x.license.olr"} {
		if got := LicenseName(in); got != want {
			t.Errorf("LicenseName(%q) = %q", in, got)
		}
	}
	for name, want := range map[string]bool{"a.olr": true, "a.license.olr": false, ".a.olr": false, "a.olr.tmp1": false, "a.txt": false} {
		if IsRequestName(name) != want {
			t.Errorf("IsRequestName(%q) = %v", name, !want)
		}
	}
}

func licenseFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), LicenseExt) && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// A request that fails inside Record after Record has written (here: the
// same machine asks again, so the old license is superseded, then the
// ledger refuses the new activation: a trigger added by the test stands
// for any storage failure) must leave nothing behind: its transaction
// runs again without it, and the others in the transaction are recorded.
func TestBatchItemFailureRollsBack(t *testing.T) {
	e := newBatchEnv(t, 3)
	e.requests(t, 3)
	res, err := e.batch().Run(context.Background(), e.in, e.out)
	if err != nil || res.Issued != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	req, err := olr.NewRequest(testProduct, testLicensee, batchKey(0), "host-0", "test", machine(0), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", e.ledger.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER test_refuse BEFORE INSERT ON activations WHEN NEW.request_id = '` + req.ID +
		`' BEGIN SELECT RAISE(ABORT, 'test: the ledger refuses this fingerprint'); END`); err != nil {
		t.Fatal(err)
	}
	data, err := olr.EncryptRequest(req, []age.Recipient{e.rcpt}, true)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.in, "req-000000-again.olr"), data, 0o644)
	e.request(t, "req-000001-again.olr", batchKey(1), 1) // a good re-request in the same transaction

	res, err = e.batch().Run(context.Background(), e.in, e.out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Replayed != 3 || res.Reissued != 1 || len(res.Errors) != 1 || res.Errors[0].File != "req-000000-again.olr" {
		t.Fatalf("got %+v", res)
	}
	if !strings.Contains(res.Errors[0].Err.Error(), "fingerprint") {
		t.Errorf("error: %v", res.Errors[0].Err)
	}
	e.ledger.View(context.Background(), func(tx *ledger.Tx) error {
		ls, _ := tx.Licenses(batchKey(0))
		if len(ls) != 1 || ls[0].Status != ledger.LicenseActive {
			t.Errorf("key 0: the failed re-request left %s", statuses(ls))
		}
		ls, _ = tx.Licenses(batchKey(1))
		if len(ls) != 2 || ls[0].Status != ledger.LicenseSuperseded || ls[1].Status != ledger.LicenseActive {
			t.Errorf("key 1: %s", statuses(ls))
		}
		return nil
	})
	if _, err := db.Exec(`DROP TRIGGER test_refuse`); err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func statuses(ls []ledger.IssuedLicense) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.ID+" "+string(l.Status))
	}
	return strings.Join(s, ", ")
}

// A batch killed while writing leaves hidden temporary files in the
// output directory; the next run removes them, and nothing else.
func TestBatchRemovesStaleTemps(t *testing.T) {
	e := newBatchEnv(t, 2)
	e.requests(t, 2)
	os.MkdirAll(e.out, 0o755)
	stale := filepath.Join(e.out, ".req-000000.license.olr.tmp123456")
	keep := []string{".notes", "other.license.olr.tmp1", ".license.olr.tmp1x"}
	os.WriteFile(stale, []byte("partial"), 0o644)
	for _, k := range keep {
		os.WriteFile(filepath.Join(e.out, k), []byte("x"), 0o644)
	}
	res, err := e.batch().Run(context.Background(), e.in, e.out)
	if err != nil || res.Issued != 2 || res.Written != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file still there: %v", err)
	}
	for _, k := range keep {
		if _, err := os.Stat(filepath.Join(e.out, k)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	ents, _ := os.ReadDir(e.out)
	for _, de := range ents {
		if isStaleTemp(de.Name()) {
			t.Errorf("temporary file %s left after the batch", de.Name())
		}
	}
}
