package pgtest

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestDatabasesAreSeparate: each NewDatabase is empty, whatever another
// test put in its own.
func TestDatabasesAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("two databases with one URL %s", a)
	}
	ctx := context.Background()
	if _, err := connect(t, a).Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := connect(t, b).QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a table made in one test's database is visible in another's")
	}
}

// TestServerIsNotRoot: PostgreSQL refuses root, so when the tests run as
// root the server must run as another user; otherwise as this one.
func TestServerIsNotRoot(t *testing.T) {
	t.Parallel()
	conn := connect(t, NewDatabase(t))
	var pid int
	if err := conn.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("cannot read the backend's uid: %v", err)
	}
	var uid string
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid = f[1]
		}
	}
	want := strconv.Itoa(os.Geteuid())
	if os.Geteuid() == 0 {
		if uid == "0" || uid == "" {
			t.Fatalf("the server runs as uid %q", uid)
		}
	} else if uid != want {
		t.Fatalf("the server runs as uid %s, want %s", uid, want)
	}
}

// TestPasswordOverTCP: over TCP the server asks for a password, which a
// client gives through PGPASSWORD; a wrong one is refused.
func TestPasswordOverTCP(t *testing.T) {
	c := Shared(t)
	db, err := c.NewDB()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(db, "CREATE ROLE clerk LOGIN PASSWORD 'correct horse'"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Setenv("PGPASSWORD", "wrong")
	if conn, err := pgx.Connect(ctx, c.TCPURL(db, "clerk")); err == nil {
		conn.Close(ctx)
		t.Fatal("a wrong password was accepted")
	} else if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("want invalid_password (28P01), got %v", err)
	}
	t.Setenv("PGPASSWORD", "correct horse")
	var user string
	if err := connect(t, c.TCPURL(db, "clerk")).QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		t.Fatal(err)
	}
	if user != "clerk" {
		t.Fatalf("connected as %q", user)
	}
}

// TestPsql: psql runs a script and stops at the first error.
func TestPsql(t *testing.T) {
	t.Parallel()
	url := NewDatabase(t)
	c := Shared(t)
	out, err := c.Psql(url, "CREATE TABLE t (x int);\nINSERT INTO t VALUES (41), (1);\nSELECT sum(x) FROM t;\n")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "42" {
		t.Fatalf("psql printed %q", out)
	}
	out, err = c.Psql(url, "INSERT INTO missing VALUES (1);\nINSERT INTO t VALUES (100);\n")
	if err == nil || !strings.Contains(out, `relation "missing" does not exist`) {
		t.Fatalf("want psql's error, got %v: %s", err, out)
	}
	if out, _ := c.Psql(url, "SELECT sum(x) FROM t;"); strings.TrimSpace(out) != "42" {
		t.Fatalf("psql went on after an error: sum is %s", out)
	}
}

// TestStartStop: a durable cluster of its own starts, and Stop ends the
// server and removes its directory.
func TestStartStop(t *testing.T) {
	Shared(t) // skips (or fails in CI) when PostgreSQL is missing
	c, err := Start(Options{Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	dir, server := c.dir, c.server
	out, err := c.Psql(c.URL("postgres"), "SHOW fsync;")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "on" {
		t.Errorf("a durable cluster has fsync %s", out)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster's directory is still there: %v", err)
	}
	if server.ProcessState == nil {
		t.Error("the server has not exited")
	}
	if err := c.Stop(); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}
