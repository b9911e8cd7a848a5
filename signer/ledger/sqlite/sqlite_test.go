package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func openTest(t *testing.T, path string, opts Options) *Engine {
	t.Helper()
	e, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// migrate applies the steps after the file's version, as the ledger
// does, and returns the state it started from.
func migrate(t *testing.T, e *Engine) State {
	t.Helper()
	ctx := context.Background()
	tx, err := e.BeginSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	st, err := e.State(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Migrate(ctx, tx, st.Version); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return st
}

// migrated returns an engine on a new file with the schema in place.
func migrated(t *testing.T) (*Engine, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	e, err := Create(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if st := migrate(t, e); !st.Empty() {
		t.Fatalf("a new file: %+v, want it empty", st)
	}
	return e, path
}

// inRead returns what f reads in a read transaction of e.
func inRead[T any](t *testing.T, e *Engine, f func(context.Context, *sql.Tx) (T, error)) T {
	t.Helper()
	ctx := context.Background()
	tx, err := e.BeginRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	v, err := f(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func state(t *testing.T, e *Engine) State         { return inRead(t, e, e.State) }
func missingGuard(t *testing.T, e *Engine) string { return inRead(t, e, e.MissingGuard) }

// TestCreate: Create makes the file and its directory private, in WAL
// mode, never over an existing file; Migrate gives it every step and
// every guard.
func TestCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "ledger.db")
	ctx := context.Background()
	e, err := Create(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, %v; want 0700", fi.Mode(), err)
	}
	if e.Location() != path {
		t.Errorf("Location = %q, want %q", e.Location(), path)
	}
	var mode string
	if err := e.DB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v", mode, err)
	}
	migrate(t, e)
	if st := state(t, e); st.Version != e.Steps() || st.Version != len(Migrations) || st.ApplicationID != ApplicationID || st.Objects == 0 {
		t.Errorf("after migrating: %+v", st)
	}
	if g := missingGuard(t, e); g != "" {
		t.Errorf("guard %q missing", g)
	}
	// Every trigger the schema makes is a guard that Verify checks.
	var triggers int
	if err := e.DB().QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'").Scan(&triggers); err != nil || triggers != len(Guards) {
		t.Errorf("%d triggers, %d guards (%v)", triggers, len(Guards), err)
	}

	if _, err := Create(ctx, path, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over a ledger: %v, want fs.ErrExist", err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, empty, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an empty file: %v, want fs.ErrExist", err)
	}
}

// TestMigrateFromOlderStep: a file at an older step gets the steps after
// it, and ends where a new one does.
func TestMigrateFromOlderStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	ctx := context.Background()
	e, err := Create(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tx, err := e.BeginSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{Migrations[0], "PRAGMA user_version = 1", "PRAGMA application_id = " + strconv.Itoa(ApplicationID)} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if st := migrate(t, e); st.Version != 1 || st.ApplicationID != ApplicationID {
		t.Fatalf("before migrating: %+v", st)
	}
	if st := state(t, e); st.Version != len(Migrations) {
		t.Errorf("after migrating: %+v", st)
	}
	if g := missingGuard(t, e); g != "" {
		t.Errorf("guard %q missing", g)
	}
}

// TestInspect: Inspect reads what a file says about itself and writes
// nothing to it, not even to an empty file.
func TestInspect(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := Inspect(ctx, empty, Options{}); err != nil || !st.Empty() {
		t.Errorf("an empty file: %+v, %v", st, err)
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Errorf("the empty file was written to: %v, %v", fi, err)
	}
	if _, err := os.Stat(empty + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Inspect left a WAL file: %v", err)
	}

	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte("not a database, but text that is long enough to have a header\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(ctx, garbage, Options{}); !IsNotADatabase(err) {
		t.Errorf("a file that is not a database: %v, want IsNotADatabase", err)
	}
	if _, err := Open(ctx, garbage, Options{ReadOnly: true}); !IsNotADatabase(err) {
		t.Errorf("Open of a file that is not a database: %v, want IsNotADatabase", err)
	}

	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE customers (name TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if st, err := Inspect(ctx, other, Options{}); err != nil || st != (State{Objects: 1}) {
		t.Errorf("another program's database: %+v, %v", st, err)
	}

	_, path := migrated(t)
	if st, err := Inspect(ctx, path, Options{}); err != nil || st.Version != len(Migrations) || st.ApplicationID != ApplicationID {
		t.Errorf("a ledger: %+v, %v", st, err)
	}
}

// TestGuards: the guard triggers refuse what olr never does, with a
// constraint error, and MissingGuard sees a dropped one.
func TestGuards(t *testing.T) {
	e, _ := migrated(t)
	ctx := context.Background()
	db := e.DB()
	if _, err := db.ExecContext(ctx, "INSERT INTO crl_counter VALUES (1, 5)"); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"DELETE FROM audit_head",
		"UPDATE crl_counter SET number = 4",
		"INSERT INTO sold_keys VALUES ('K', 'L', 'retail', 'p', '{}', '[]', NULL, NULL, 't', 't')",
		"INSERT INTO activations (license_key, fingerprint, license_id, request_id, state, created) VALUES ('nope', '{}', 'L', 'R', 'active', 't')",
	} {
		_, err := db.ExecContext(ctx, stmt)
		if !IsConstraint(err) || !e.Constraint(err) || IsBusy(err) {
			t.Errorf("%s: want a constraint error, got %v", stmt, err)
		}
		if strings.HasPrefix(stmt, "DELETE") || strings.HasPrefix(stmt, "UPDATE") {
			if err == nil || !strings.Contains(err.Error(), "olr ledger: ") {
				t.Errorf("%s: want a guard's refusal, got %v", stmt, err)
			}
		}
	}
	if _, err := db.ExecContext(ctx, "DROP TRIGGER pools_fixed"); err != nil {
		t.Fatal(err)
	}
	if g := missingGuard(t, e); g != "pools_fixed" {
		t.Errorf("a dropped guard: MissingGuard = %q", g)
	}
}

// TestWriteLock: a writer takes the lock when its transaction begins; a
// second writer, in another pool as another process has, fails with a
// retryable busy error once its timeout is over, and a reader is not
// blocked meanwhile.
func TestWriteLock(t *testing.T) {
	first, path := migrated(t)
	second := openTest(t, path, Options{BusyTimeout: 50 * time.Millisecond})
	ctx := context.Background()
	tx, err := first.BeginWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE audit_head SET seq = 7 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	_, err = second.BeginWrite(ctx)
	if !IsBusy(err) || !second.Retryable(err) || IsConstraint(err) {
		t.Fatalf("a second writer: %v, want a retryable busy error", err)
	}
	rtx, err := second.BeginRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seq int64
	if err := rtx.QueryRowContext(ctx, "SELECT seq FROM audit_head WHERE id = 1").Scan(&seq); err != nil || seq != 0 {
		t.Fatalf("a reader during a write: seq %d, %v", seq, err)
	}
	rtx.Rollback()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx2, err := second.BeginWrite(ctx)
	if err != nil {
		t.Fatalf("a writer after the first committed: %v", err)
	}
	defer tx2.Rollback()
	if err := tx2.QueryRowContext(ctx, "SELECT seq FROM audit_head WHERE id = 1").Scan(&seq); err != nil || seq != 7 {
		t.Fatalf("the second writer saw seq %d, %v; want 7 (the first's commit)", seq, err)
	}
}

// TestReadOnly: a read-only engine opens while a writer holds the lock,
// reads, and writes nothing.
func TestReadOnly(t *testing.T) {
	w, path := migrated(t)
	ctx := context.Background()
	tx, err := w.BeginWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ro := openTest(t, path, Options{ReadOnly: true, BusyTimeout: 50 * time.Millisecond})
	if st := state(t, ro); st.Version != len(Migrations) {
		t.Errorf("read-only state: %+v", st)
	}
	_, err = ro.DB().ExecContext(ctx, "INSERT INTO crl_counter VALUES (1, 1)")
	if !IsReadOnly(err) {
		t.Errorf("a write through a read-only engine: %v, want IsReadOnly", err)
	}
}

// TestDiskFull: a write that finds no room is told apart from other
// failures. The database's page limit stands in for the disk.
func TestDiskFull(t *testing.T) {
	e, _ := migrated(t)
	ctx := context.Background()
	conn, err := e.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pages int
	if err := conn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA max_page_count = "+strconv.Itoa(pages)); err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(ctx, "INSERT INTO pools (name, created) VALUES ('p', ?)", strings.Repeat("x", 1<<20))
	if !IsDiskFull(err) || IsReadOnly(err) || IsBusy(err) {
		t.Errorf("a write beyond the page limit: %v, want IsDiskFull", err)
	}
	for _, err := range []error{nil, errors.New("disk full"), fs.ErrPermission} {
		if IsDiskFull(err) || IsBusy(err) || IsConstraint(err) || IsReadOnly(err) || IsNotADatabase(err) {
			t.Errorf("%v classified as an SQLite error", err)
		}
	}
}

func TestRebindLeavesQuery(t *testing.T) {
	const q = "SELECT ?, ?2 FROM audit WHERE subject = '?'"
	if got := (&Engine{}).Rebind(q); got != q {
		t.Errorf("Rebind = %q", got)
	}
}
