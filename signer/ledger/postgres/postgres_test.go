package postgres

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/olr-dev/olr/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openTest(t *testing.T, url string, opts Options) *Engine {
	t.Helper()
	e, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// migrated returns an engine on a new database with the schema in place.
func migrated(t *testing.T) (*Engine, string) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	e := openTest(t, url, Options{})
	ctx := context.Background()
	tx, err := e.BeginSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	v, foreign, err := e.Version(ctx, tx)
	if err != nil || v != 0 || foreign != "" {
		t.Fatalf("a new database: version %d, foreign %q, %v", v, foreign, err)
	}
	if err := e.Migrate(ctx, tx, 0); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return e, url
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	e, _ := migrated(t)
	ctx := context.Background()
	tx, err := e.BeginSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	v, foreign, err := e.Version(ctx, tx)
	if err != nil || v != e.Steps() || foreign != "" {
		t.Fatalf("after migrating: version %d (want %d), foreign %q, %v", v, e.Steps(), foreign, err)
	}
	if g, err := e.MissingGuard(ctx, tx); err != nil || g != "" {
		t.Fatalf("guard %q missing (%v)", g, err)
	}
	// The text columns compare bytewise, as SQLite's do, whatever the
	// database's locale.
	var cols string
	if err := tx.QueryRowContext(ctx, `SELECT count(*)::text FROM information_schema.columns
		WHERE table_schema = $1 AND data_type = 'text' AND table_name <> 'ledger_schema' AND collation_name IS DISTINCT FROM 'C'`, Schema).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if cols != "0" {
		t.Errorf("%s text columns of the ledger are not in the C collation", cols)
	}
}

// TestForeignSchema: a schema olr that some other program made is not
// taken for an empty ledger.
func TestForeignSchema(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	if _, err := pgtest.Shared(t).Psql(url, "CREATE SCHEMA olr; CREATE TABLE olr.things (x int);"); err != nil {
		t.Fatal(err)
	}
	e := openTest(t, url, Options{})
	ctx := context.Background()
	tx, err := e.BeginSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, foreign, err := e.Version(ctx, tx); err != nil || !strings.Contains(foreign, "no ledger_schema") {
		t.Fatalf("foreign %q, %v", foreign, err)
	}
}

// TestGuards: the guard triggers refuse what olr never does, with an
// integrity error, and Verify's check sees a disabled one.
func TestGuards(t *testing.T) {
	t.Parallel()
	e, url := migrated(t)
	ctx := context.Background()
	for _, stmt := range []string{
		"UPDATE audit_head SET seq = 0",
		"DELETE FROM audit_head",
		"TRUNCATE audit_head",
		"TRUNCATE audit CASCADE",
		"INSERT INTO crl_counter VALUES (1, 5); UPDATE crl_counter SET number = 4",
	} {
		if stmt == "UPDATE audit_head SET seq = 0" {
			// Not guarded: moving the head is how every write ends.
			if _, err := e.DB().ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
			continue
		}
		_, err := e.DB().ExecContext(ctx, stmt)
		if !e.Constraint(err) || !strings.Contains(err.Error(), "olr ledger: ") {
			t.Errorf("%s: want a guard's refusal, got %v", stmt, err)
		}
	}
	c := pgtest.Shared(t)
	if _, err := c.Psql(url, "ALTER TABLE olr.audit DISABLE TRIGGER audit_no_delete;"); err != nil {
		t.Fatal(err)
	}
	tx, err := e.BeginRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if g, err := e.MissingGuard(ctx, tx); err != nil || g != "audit_no_delete" {
		t.Fatalf("a disabled guard: MissingGuard = %q, %v", g, err)
	}
}

// TestWriteLock: a second write transaction waits for the first to end,
// then sees what it committed; a reader is not blocked meanwhile.
func TestWriteLock(t *testing.T) {
	t.Parallel()
	e, url := migrated(t)
	second := openTest(t, url, Options{}) // another pool, as another process has
	ctx := context.Background()
	first, err := e.BeginWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.ExecContext(ctx, "UPDATE audit_head SET seq = 7 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	var pid int
	got := make(chan error, 1)
	var seen int64
	go func() {
		tx, err := second.BeginWrite(ctx)
		if err != nil {
			got <- err
			return
		}
		defer tx.Rollback()
		got <- tx.QueryRowContext(ctx, "SELECT seq FROM audit_head WHERE id = 1").Scan(&seen)
	}()
	// Wait until the second writer is blocked on the lock.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := e.DB().QueryRowContext(ctx,
			"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&pid)
		if err != nil {
			t.Fatal(err)
		}
		if pid == 1 {
			break
		}
		select {
		case err := <-got:
			t.Fatalf("the second writer did not wait for the first: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the second writer never waited for the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rtx, err := e.BeginRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var readerSeq int64
	if err := rtx.QueryRowContext(ctx, "SELECT seq FROM audit_head WHERE id = 1").Scan(&readerSeq); err != nil || readerSeq != 0 {
		t.Fatalf("a reader during a write: seq %d, %v", readerSeq, err)
	}
	rtx.Rollback()
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if seen != 7 {
		t.Fatalf("the second writer saw seq %d, want 7 (the first's commit)", seen)
	}
}

// TestReadOnly: a read-only engine writes nothing.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	_, url := migrated(t)
	e := openTest(t, url, Options{ReadOnly: true})
	_, err := e.DB().ExecContext(context.Background(), "INSERT INTO crl_counter VALUES (1, 1)")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "25006" {
		t.Fatalf("want read_only_sql_transaction (25006), got %v", err)
	}
}

// TestPasswordNeverShown: a wrong password, given in the URL, is in no
// error.
func TestPasswordNeverShown(t *testing.T) {
	c := pgtest.Shared(t)
	db, err := c.NewDB()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(db, "CREATE ROLE clerk LOGIN PASSWORD 'right-one'"); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(c.TCPURL(db, "clerk"), "clerk@", "clerk:Wr0ng-Secret@", 1)
	_, err = Open(context.Background(), url, Options{})
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if strings.Contains(err.Error(), "Wr0ng-Secret") || !strings.Contains(err.Error(), "clerk:xxxxx@") {
		t.Fatalf("the error shows the password, or not the redacted URL: %v", err)
	}
	_, err = Open(context.Background(), "postgres://clerk:Wr0ng-Secret@127.0.0.1:notaport/x", Options{})
	if err == nil || strings.Contains(err.Error(), "Wr0ng-Secret") {
		t.Fatalf("a bad URL: %v", err)
	}
	t.Setenv("PGPASSWORD", "right-one")
	openTest(t, c.TCPURL(db, "clerk"), Options{})
}

func TestRetryable(t *testing.T) {
	e := &Engine{}
	for code, want := range map[string]bool{"40001": true, "40P01": true, "55P03": true, "23505": false, "42P01": false} {
		err := &pgconn.PgError{Code: code}
		if e.Retryable(err) != want {
			t.Errorf("Retryable(%s) = %v", code, !want)
		}
	}
	if !e.Constraint(&pgconn.PgError{Code: "23505"}) || e.Constraint(&pgconn.PgError{Code: "40001"}) {
		t.Error("Constraint")
	}
}
