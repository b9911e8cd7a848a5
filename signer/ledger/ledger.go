package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

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
	// busyTimeout is how long one statement of an SQLite ledger waits
	// for another process's lock (see WithBusyTimeout); 0 for the
	// engine's default.
	busyTimeout time.Duration
	readOnly    bool
}

// Option configures Open.
type Option func(*Ledger)

// WithClock makes the ledger take the time from now instead of
// time.Now; for tests and reproducible vectors.
func WithClock(now func() time.Time) Option {
	return func(l *Ledger) { l.now = now }
}

// WithBusyTimeout sets how long a statement waits for another process's
// write lock before Update tries again (it tries busyRetries more times,
// then gives up with a *BusyError). The default is sqlite.BusyTimeout,
// 10 s. A PostgreSQL ledger waits postgres.LockTimeout instead.
func WithBusyTimeout(d time.Duration) Option {
	return func(l *Ledger) {
		if d > 0 {
			l.busyTimeout = d
		}
	}
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

// Open opens the existing ledger at path (a file, or a postgres:// URL)
// for reading and writing, and brings an older schema up to date. It
// never makes a new ledger: a missing file is an error wrapping
// fs.ErrNotExist, and a file or database that does not hold an
// initialised olr ledger (empty, truncated, another database) is refused
// with ErrNotInitialised or ErrNotLedger, so that a damaged ledger is
// never silently replaced by an empty one that has forgotten every
// activation. Create makes a new ledger.
//
// An SQLite ledger runs in WAL mode with synchronous=FULL, so a committed
// activation survives a power cut, and with a busy timeout, so a second
// olr-sign process waits for the first instead of failing.
func Open(path string, opts ...Option) (*Ledger, error) {
	return open(path, modeWrite, opts)
}

// Create makes a new, empty ledger at path and opens it: a file (and its
// parent directory, mode 0700), refusing a path that exists, even as an
// empty file (an error wrapping fs.ErrExist); or the schema in a
// PostgreSQL database that has none. The file is created with mode 0600:
// it holds customers' raw hardware identifiers.
func Create(path string, opts ...Option) (*Ledger, error) {
	return open(path, modeCreate, opts)
}

// OpenReadOnly opens the existing ledger at path for reading only: it
// takes no write lock, so it works while another olr-sign writes, and on
// a copy that cannot be written (a 0400 file, a read-only mount). Its
// schema must be this program's; Update returns ErrReadOnly.
func OpenReadOnly(path string, opts ...Option) (*Ledger, error) {
	return open(path, modeReadOnly, opts)
}

type openMode int

const (
	modeWrite openMode = iota
	modeCreate
	modeReadOnly
)

func open(path string, mode openMode, opts []Option) (*Ledger, error) {
	if path == "" {
		return nil, errors.New("ledger: empty path")
	}
	if postgres.IsURL(path) {
		return openPostgres(path, mode, opts)
	}
	return openSQLite(path, mode, opts)
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
	if l.readOnly {
		return ErrReadOnly
	}
	start := time.Now()
	select {
	case l.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.writer }()

	var err error
	for attempt := 0; ; attempt++ {
		err = l.run(ctx, operator, true, fn)
		if err == nil || !l.e.Retryable(err) {
			return err
		}
		if attempt == busyRetries {
			return &BusyError{Waited: time.Since(start), Err: err}
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
		if write {
			err = describeWrite(err) // a PostgreSQL server may refuse the write lock to a read-only session
		}
		return fmt.Errorf("ledger: begin: %w", describe(err))
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
		return describeWrite(err)
	}
	if err := ctx.Err(); err != nil {
		return err // rolled back by the deferred function
	}
	if !write {
		done = true
		return stx.Rollback()
	}
	if tx.broken != nil {
		return tx.broken // rolled back by the deferred function
	}
	if err := tx.moveHead(); err != nil {
		return err
	}
	done = true
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("ledger: commit: %w", describe(err))
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
