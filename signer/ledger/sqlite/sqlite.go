package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// BusyTimeout is how long a statement waits, unless Options say
// otherwise, for another process's write lock before SQLite reports
// SQLITE_BUSY (IsBusy) and the ledger tries again. Issuing is
// interactive, so waiting a little is better than failing.
const BusyTimeout = 10 * time.Second

// Engine is an open SQLite database file that holds (or will hold) a
// ledger.
type Engine struct {
	db   *sql.DB
	path string
}

// Options configure Open and Create.
type Options struct {
	// ReadOnly opens the file for reading only: no statement may write
	// and no transaction takes the write lock, so the engine works while
	// another process writes, and on a file, directory or mount that
	// cannot be written.
	ReadOnly bool
	// BusyTimeout, when positive, replaces the package's BusyTimeout.
	BusyTimeout time.Duration
}

func (o Options) busyTimeout() string {
	d := BusyTimeout
	if o.BusyTimeout > 0 {
		d = o.BusyTimeout
	}
	return "busy_timeout(" + strconv.FormatInt(d.Milliseconds(), 10) + ")"
}

// Open opens the existing database file at path. It neither reads nor
// changes the schema (State and Migrate do), but a writer puts the file
// in WAL mode, which writes a header into an empty file: look at a file
// with Inspect before opening it for writing.
//
// A writer's settings are checked once connected (WAL, synchronous=FULL,
// foreign keys): a typo or a read-only file system must not silently
// give a weaker ledger.
func Open(ctx context.Context, path string, opts Options) (*Engine, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", opts.busyTimeout())
	q.Add("_pragma", "foreign_keys(1)")
	if opts.ReadOnly {
		// Statements may not write, and no transaction takes the write
		// lock. The file itself is opened for writing when it can be,
		// so that the last connection to close removes the WAL files as
		// a writer's does; else read-only (mode=ro), and as immutable
		// when not even the WAL's index can be made.
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		// Every read-write transaction is BEGIN IMMEDIATE: the write lock
		// is taken up front, so two processes checking "is this key
		// active?" cannot both see "no" and both activate. Read-only
		// transactions (BeginRead) stay deferred and never block writers
		// under WAL.
		q.Set("_txlock", "immediate")
	}
	db, err := openDB(ctx, abs, q)
	if err != nil && opts.ReadOnly && cannotOpenReadOnly(err) {
		q.Set("mode", "ro")
		if db, err = openDB(ctx, abs, q); err != nil && cannotOpenReadOnly(err) {
			// A WAL database whose -shm file cannot be made (a read-only
			// directory or mount) opens only as immutable: nobody can be
			// writing to it there.
			q.Set("immutable", "1")
			db, err = openDB(ctx, abs, q)
		}
	}
	if err != nil {
		return nil, err
	}
	if !opts.ReadOnly {
		if err := checkSettings(ctx, db); err != nil {
			db.Close()
			return nil, err
		}
	}
	return &Engine{db: db, path: abs}, nil
}

// Create makes a new, empty database file at path and opens it for
// writing, refusing a path that exists, even as an empty file (an error
// wrapping fs.ErrExist). Its directory is made with mode 0700 and the
// file with mode 0600 whatever the umask (SQLite gives the -wal and -shm
// files the same mode): a ledger holds customers' raw hardware
// identifiers. The schema is Migrate's to make.
func Create(ctx context.Context, path string, opts Options) (*Engine, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("creating directory: %w", err)
	}
	// Exclusively, so that an existing file is never taken over.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	opts.ReadOnly = false
	e, err := Open(ctx, abs, opts)
	if err != nil {
		Remove(abs)
		return nil, err
	}
	return e, nil
}

// Remove removes the database file at path and the -wal and -shm files
// SQLite keeps beside it: what Create made, when the ledger could not be
// made in it.
func Remove(path string) {
	os.Remove(path)
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
}

// Inspect reads the State of the database file at path through a
// read-only connection, writing nothing, so that a file that is not a
// ledger (an empty one above all) is left as it was.
func Inspect(ctx context.Context, path string, opts Options) (State, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return State{}, err
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", opts.busyTimeout())
	db, err := openDB(ctx, path, q)
	if err != nil && cannotOpenReadOnly(err) {
		q.Set("immutable", "1")
		db, err = openDB(ctx, path, q)
	}
	if err != nil {
		return State{}, err
	}
	defer db.Close()
	return readState(ctx, db)
}

func openDB(ctx context.Context, path string, q url.Values) (*sql.DB, error) {
	dsn := (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// Keep the connections (and so their prepared statements) of
	// readers working beside the writer, rather than closing all but two
	// and opening them again.
	db.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)+2))
	// Open is lazy: make one connection now, so that a file SQLite
	// cannot open is reported here, and read from it, so that a file
	// that is not a database is.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if _, err := readState(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkSettings makes sure the durability settings took effect.
func checkSettings(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var mode string
	var sync, fk int
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return err
	}
	if mode != "wal" || sync != 2 || fk != 1 {
		return fmt.Errorf("database settings not applied (journal_mode=%s synchronous=%d foreign_keys=%d)", mode, sync, fk)
	}
	return nil
}

// DB returns the connection pool.
func (e *Engine) DB() *sql.DB { return e.db }

// Location returns the file's absolute path, for messages.
func (e *Engine) Location() string { return e.path }

// Close closes the pool.
func (e *Engine) Close() error { return e.db.Close() }

// BeginRead starts a deferred, read-only transaction: under WAL it sees
// one snapshot and never blocks the writer.
func (e *Engine) BeginRead(ctx context.Context) (*sql.Tx, error) {
	return e.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

// BeginWrite starts a BEGIN IMMEDIATE transaction (see Open's _txlock),
// which takes SQLite's write lock up front: one writer at a time, in
// every process that has the file open.
func (e *Engine) BeginWrite(ctx context.Context) (*sql.Tx, error) {
	return e.db.BeginTx(ctx, nil)
}

// BeginSchema starts a transaction for reading and migrating the schema:
// a write transaction, so that two processes do not both migrate, and
// the version read in it is the one the migration starts from.
func (e *Engine) BeginSchema(ctx context.Context) (*sql.Tx, error) {
	return e.BeginWrite(ctx)
}

// Rebind returns query as it is: the ledger writes its statements in
// SQLite's form.
func (e *Engine) Rebind(query string) string { return query }

// MissingGuard returns the name of the first guard trigger that is
// missing, or "" when all are in place. (SQLite cannot disable a
// trigger; it can only be dropped.)
func (e *Engine) MissingGuard(ctx context.Context, tx *sql.Tx) (string, error) {
	for _, name := range Guards {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name = ?", name).Scan(&n); err != nil {
			return "", err
		}
		if n != 1 {
			return name, nil
		}
	}
	return "", nil
}

// ResetSequences does nothing: an AUTOINCREMENT column moves past an ID
// inserted explicitly by itself.
func (e *Engine) ResetSequences(context.Context, *sql.Tx, []string) error { return nil }

// Retryable is IsBusy, for the ledger's engine interface: the write lock
// stayed with another process longer than the busy timeout.
func (e *Engine) Retryable(err error) bool { return IsBusy(err) }

// Constraint is IsConstraint, for the ledger's engine interface.
func (e *Engine) Constraint(err error) bool { return IsConstraint(err) }
