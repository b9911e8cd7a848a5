package signtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" driver, to hold the ledger's lock as another process would
)

// holdWriteLock takes the ledger's write lock through a connection of its
// own, as another olr-sign in the middle of a transaction holds it, until
// the test ends.
func holdWriteLock(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.ExecContext(context.Background(), "ROLLBACK") })
}

// TestReadersDoNotWaitForWriter: while another process holds the
// ledger's write lock, the commands that only read answer (they take no
// lock), and a command that writes waits, then says who holds the
// ledger and how long it waited.
func TestReadersDoNotWaitForWriter(t *testing.T) {
	e := newEnv(t, policyKeys)
	req, _ := e.request("req.olr", Request{Licensee: licensee, Key: "OEM-0001-AAAA", Machine: 1})
	if r := e.issue(req, "lic.olr"); r.code != 0 {
		t.Fatal(r)
	}
	holdWriteLock(t, e.ledger)

	for _, args := range [][]string{
		{"keys", "list", "--ledger", e.ledger},
		{"keys", "show", "--ledger", e.ledger, "OEM-0001-AAAA"},
		{"ledger", "verify", "--ledger", e.ledger},
		{"audit", "--ledger", e.ledger},
	} {
		r := e.run(args...)
		if r.code == 2 || strings.Contains(r.stderr, "locked") {
			t.Errorf("olr-sign %s while another holds the write lock: %v", strings.Join(args, " "), r)
		}
	}

	cmd := e.cmd("revoke", "--ledger", e.ledger, "--reason", "test", "00000000000000000000000000000000")
	cmd.Env = append(cmd.Env, "OLR_LEDGER_WAIT=100ms")
	r := runCmd(t, cmd)
	if r.code != 2 || !strings.Contains(r.stderr, "olr-sign: error: ledger: another olr-sign holds the ledger; waited ") ||
		!strings.Contains(r.stderr, "olr-sign: hint: try again when the other olr-sign is done") {
		t.Errorf("a writer while another holds the lock: %v", r)
	}
}

// TestReadOnlyCopy: a copy of the ledger that cannot be written (a 0444
// file in a 0555 directory, read by a user who owns neither) is checked,
// listed and audited; a command that writes says it cannot.
func TestReadOnlyCopy(t *testing.T) {
	e := newEnv(t, policyKeys)
	req, _ := e.request("req.olr", Request{Licensee: licensee, Key: "OEM-0001-AAAA", Machine: 1})
	if r := e.issue(req, "lic.olr"); r.code != 0 {
		t.Fatal(r)
	}
	// A directory others may enter, since the commands may run as nobody.
	dir, err := os.MkdirTemp("", "olr-ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.RemoveAll(dir) })
	data, err := os.ReadFile(e.ledger)
	if err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(dir, "ledger.db")
	if err := os.WriteFile(ro, data, 0o444); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Dir(signBin)} {
		if err := os.Chmod(p, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Chmod(filepath.Dir(signBin), 0o700) })

	run := func(args ...string) result {
		cmd := binCmd(e, signBin, args...)
		cmd.Dir = dir
		cmd.Env = cleanEnv(dir) // a home the reader may enter
		if os.Getuid() == 0 {
			// root writes anywhere: read as nobody, as on a read-only copy.
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		return runCmd(t, cmd)
	}
	if r := run("ledger", "verify", "--ledger", ro); r.code != 0 || !strings.Contains(r.stdout, "chain intact") {
		t.Errorf("ledger verify of a read-only copy: %v", r)
	}
	if r := run("keys", "list", "--ledger", ro); r.code != 0 || !strings.Contains(r.stdout, "OEM-0001-AAAA") {
		t.Errorf("keys list of a read-only copy: %v", r)
	}
	if r := run("audit", "--ledger", ro); r.code == 2 {
		t.Errorf("audit --ledger of a read-only copy: %v", r)
	}
	r := run("revoke", "--ledger", ro, "--reason", "test", "00000000000000000000000000000000")
	if r.code != 2 || !strings.Contains(r.stderr, "cannot be written") {
		t.Errorf("revoke on a read-only copy: %v", r)
	}
	if got, _ := os.ReadFile(ro); string(got) != string(data) {
		t.Error("the read-only copy changed")
	}
}

// TestDiskFull: a ledger whose disk fills up during an import records
// nothing, says the disk is full, and stays intact. The disk is a small
// tmpfs, which needs the privilege to mount one.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=512k"); err != nil {
		t.Skipf("cannot mount a small file system to fill (%v): needs CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	e := &env{t: t, dir: dir, ledger: filepath.Join(dir, "ledger.db")}
	e.must("ledger", "init", "--ledger", e.ledger)
	var keys []Key
	for i := range 5000 {
		keys = append(keys, Key{fmt.Sprintf("OEM-%06d-%s", i, strings.Repeat("X", 60)), licensee, "oem"})
	}
	csv := filepath.Join(t.TempDir(), "keys.csv")
	if err := WriteKeysCSV(csv, keys); err != nil {
		t.Fatal(err)
	}
	r := e.run("keys", "import", "--ledger", e.ledger, csv)
	if r.code != 2 || !strings.Contains(r.stderr, "the disk holding the ledger is full") ||
		!strings.Contains(r.stderr, "hint: nothing was recorded; free space") {
		t.Fatalf("import onto a full disk: %v", r)
	}
	if r := e.run("ledger", "verify", "--ledger", e.ledger); r.code != 0 || !strings.Contains(r.stdout, "0 audit records, chain intact") {
		t.Errorf("after the full disk: %v", r)
	}
}
