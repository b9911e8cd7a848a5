package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/olr-dev/olr/signer/ledger/postgres"
)

// Ledger is an open vendor ledger. It is safe for concurrent use by
// several goroutines, and several processes may open the same file.
type Ledger struct {
	e    Engine
	db   *sql.DB
	path string // the file, or the URL without its password
	now  func() time.Time
	// writer serialises Update calls of this process, so goroutines queue
	// here (honouring their contexts) instead of polling SQLite's lock.
	// Other processes are serialised by SQLite's write lock.
	writer chan struct{}

	// stmts caches prepared statements by query text: SQLite parses and
	// plans a statement once per connection instead of once per use
	// (database/sql prepares a *sql.Stmt again on each connection it
	// meets, and keeps it there).
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
}

// Option configures Open.
type Option func(*Ledger)

// WithClock makes the ledger take the time from now instead of
// time.Now; for tests and reproducible vectors.
func WithClock(now func() time.Time) Option {
	return func(l *Ledger) { l.now = now }
}

// DefaultPath returns where olr-sign keeps its ledger: $OLR_LEDGER if
// set, else $XDG_DATA_HOME/olr/ledger.db, else
// ~/.local/share/olr/ledger.db.
func DefaultPath() (string, error) {
	if p := os.Getenv("OLR_LEDGER"); p != "" {
		return p, nil
	}
	// The XDG spec says relative values are invalid and must be ignored.
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "olr", "ledger.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("ledger: no default location (set OLR_LEDGER): %w", err)
	}
	return filepath.Join(home, ".local", "share", "olr", "ledger.db"), nil
}

// Open opens the ledger at path, creating it (and its parent directory,
// mode 0700) if needed, and brings its schema up to date. The file is
// created with mode 0600: it holds customers' raw hardware identifiers.
//
// The database runs in WAL mode with synchronous=FULL, so a committed
// activation survives a power cut, and with a busy timeout, so a second
// olr-sign process waits for the first instead of failing.
func Open(path string, opts ...Option) (*Ledger, error) {
	if path == "" {
		return nil, errors.New("ledger: empty path")
	}
	if postgres.IsURL(path) {
		return openPostgres(path, opts)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: creating directory: %w", err)
	}
	// Create the file ourselves so its mode is 0600 whatever the umask;
	// SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	f.Close()

	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	// Every read-write transaction is BEGIN IMMEDIATE: the write lock is
	// taken up front, so two processes checking "is this key active?"
	// cannot both see "no" and both activate. Read-only transactions
	// (View) stay deferred and never block writers under WAL.
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	// Keep the connections (and so their prepared statements) of
	// readers working beside the writer, rather than closing all but two
	// and opening them again.
	db.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)+2))
	l := newLedger(sqliteEngine{db: db, path: abs}, db, abs)
	for _, o := range opts {
		o(l)
	}
	ctx := context.Background()
	if err := checkPragmas(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return l, nil
}

// checkPragmas makes sure the durability settings took effect: a DSN
// typo or a read-only file system must not silently give a weaker ledger.
func checkPragmas(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer conn.Close()
	var mode string
	var sync, fk int
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if mode != "wal" || sync != 2 || fk != 1 {
		return fmt.Errorf("ledger: database settings not applied (journal_mode=%s synchronous=%d foreign_keys=%d)", mode, sync, fk)
	}
	return nil
}

// newLedger returns a Ledger on engine e, whose pool is db.
func newLedger(e Engine, db *sql.DB, location string) *Ledger {
	return &Ledger{e: e, db: db, path: location, now: time.Now, writer: make(chan struct{}, 1), stmts: map[string]*sql.Stmt{}}
}

// Path returns the absolute path of the ledger file, or the URL of a
// PostgreSQL ledger without its password: what messages name it by.
func (l *Ledger) Path() string { return l.path }

// Close closes the database.
func (l *Ledger) Close() error {
	l.stmtMu.Lock()
	for q, st := range l.stmts {
		st.Close()
		delete(l.stmts, q)
	}
	l.stmtMu.Unlock()
	return l.db.Close()
}

// stmt returns the cached prepared statement for query, preparing it on
// first use. The query texts are constants of this package (or built from
// them), so the cache stays small.
func (l *Ledger) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	l.stmtMu.Lock()
	defer l.stmtMu.Unlock()
	if st, ok := l.stmts[query]; ok {
		return st, nil
	}
	st, err := l.db.PrepareContext(ctx, l.e.Rebind(query))
	if err != nil {
		return nil, err
	}
	l.stmts[query] = st
	return st, nil
}

// Update runs fn in one read-write transaction (BEGIN IMMEDIATE) and
// commits if fn returns nil and ctx is not done by then. Every change fn
// makes through the Tx is recorded in the audit log under operator, in
// the same transaction: it all happens, or none of it does. Cancelling
// ctx does not interrupt a statement already running (each is short);
// fn may check ctx between steps, and the commit does not happen.
//
// Only one Update runs at a time across all processes sharing the file;
// fn must not call Update itself (it would wait for itself), but may use
// View.
// When the write lock stays busy beyond the busy timeout, Update starts
// over (at most a few times), so fn may run more than once and must not
// have effects outside the Tx that matter if it does.
func (l *Ledger) Update(ctx context.Context, operator string, fn func(*Tx) error) error {
	if err := checkText("operator", operator, maxOperatorLen, false); err != nil {
		return err
	}
	select {
	case l.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.writer }()

	var err error
	for attempt := 0; ; attempt++ {
		err = l.run(ctx, operator, true, fn)
		if err == nil || !l.e.Retryable(err) || attempt == busyRetries {
			return err
		}
		// Back off a little so the other writer can finish its commit.
		select {
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// View runs fn in a read-only transaction that sees one consistent
// snapshot of the ledger. Mutating Tx methods return ErrReadOnly.
func (l *Ledger) View(ctx context.Context, fn func(*Tx) error) error {
	return l.run(ctx, "", false, fn)
}

func (l *Ledger) run(ctx context.Context, operator string, write bool, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The transaction and its statements run under ctx without its
	// cancellation (see Tx.qctx); ctx is checked before the commit
	// instead, so a cancelled Update still commits nothing.
	qctx := context.WithoutCancel(ctx)
	begin := l.e.BeginRead
	if write {
		begin = l.e.BeginWrite
	}
	stx, err := begin(qctx)
	if err != nil {
		return fmt.Errorf("ledger: begin: %w", err)
	}
	tx := &Tx{ctx: ctx, qctx: qctx, l: l, tx: stx, operator: operator, write: write, now: l.now().UTC()}
	done := false
	defer func() {
		// Also on a panic in fn: an open transaction would keep the
		// write lock and stall every other olr-sign.
		if !done {
			stx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // rolled back by the deferred function
	}
	done = true
	if !write {
		return stx.Rollback()
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("ledger: commit: %w", err)
	}
	return nil
}

// Head returns the latest audit record's sequence number and hash. Note
// it somewhere outside the ledger and pass it to a later Verify.
func (l *Ledger) Head(ctx context.Context) (AuditHead, error) {
	var h AuditHead
	err := l.View(ctx, func(tx *Tx) (err error) {
		h, err = tx.Head()
		return err
	})
	return h, err
}
