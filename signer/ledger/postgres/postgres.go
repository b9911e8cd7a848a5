package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Timeouts of a ledger connection.
const (
	// ConnectTimeout bounds connecting to the server when the URL does
	// not say (connect_timeout): a wrong host must not hang olr-sign.
	ConnectTimeout = 15 * time.Second
	// LockTimeout is how long a write transaction waits for the ledger's
	// write lock before the server gives up (SQLSTATE 55P03) and the
	// ledger tries again, as SQLite's busy timeout does.
	LockTimeout = 10 * time.Second
	// IdleInTransactionTimeout makes the server end a session that sits
	// in a transaction doing nothing (an olr-sign stopped or cut off from
	// the network while holding the write lock), so that the other
	// writers are not blocked for good.
	IdleInTransactionTimeout = time.Minute
)

// schemaLockID is the advisory lock taken while migrating the schema
// ("olrL", as the SQLite engine's application id). Write transactions
// lock the audit head's row instead (BeginWrite).
const schemaLockID = 0x6f6c724c

// Engine is an open connection pool to a PostgreSQL database that holds
// (or will hold) a ledger.
type Engine struct {
	db       *sql.DB
	location string
}

// Options configure Open.
type Options struct {
	// ReadOnly makes every transaction of the session read-only
	// (default_transaction_read_only), for ledger verify and audits with
	// a role that may only read.
	ReadOnly bool
	// ApplicationName shows in pg_stat_activity when the URL does not
	// set application_name.
	ApplicationName string
}

// Open connects to the database at the postgres:// URL location. The
// password comes from the URL, PGPASSWORD or the password file
// (PGPASSFILE, ~/.pgpass), as for libpq; errors never include it.
// Open checks that the server answers; it neither reads nor changes the
// schema.
func Open(ctx context.Context, location string, opts Options) (*Engine, error) {
	redacted := Redact(location)
	if !IsURL(location) {
		return nil, fmt.Errorf("%s: not a postgres:// URL", redacted)
	}
	cfg, err := pgx.ParseConfig(location)
	if err != nil {
		// pgx redacts the password in its ParseConfigError; the message
		// still quotes the URL, so give only what is wrong with it.
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			err = pe.Unwrap()
		}
		return nil, fmt.Errorf("%s: %v", redacted, redactErr(err, location))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = ConnectTimeout
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["search_path"] = Schema
	cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(LockTimeout.Milliseconds(), 10)
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(IdleInTransactionTimeout.Milliseconds(), 10)
	if opts.ReadOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok && opts.ApplicationName != "" {
		cfg.RuntimeParams["application_name"] = opts.ApplicationName
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)+2))
	e := &Engine{db: db, location: redacted}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, e.wrap(err)
	}
	return e, nil
}

// wrap prefixes err with the redacted location, and makes sure the
// password appears nowhere in it.
func (e *Engine) wrap(err error) error {
	return fmt.Errorf("%s: %v", e.location, err)
}

// redactErr removes the password of location from err's text, should a
// lower layer have quoted it.
func redactErr(err error, location string) error {
	cfg, perr := pgconn.ParseConfig(location)
	msg := err.Error()
	if perr == nil && cfg.Password != "" && strings.Contains(msg, cfg.Password) {
		return errors.New(strings.ReplaceAll(msg, cfg.Password, "xxxxx"))
	}
	return err
}

// DB returns the connection pool.
func (e *Engine) DB() *sql.DB { return e.db }

// Location returns the URL without its password, for messages.
func (e *Engine) Location() string { return e.location }

// Close closes the pool.
func (e *Engine) Close() error { return e.db.Close() }

// BeginRead starts a read-only transaction that sees one snapshot of the
// ledger throughout (REPEATABLE READ), so that Verify never sees half of
// another process's commit.
func (e *Engine) BeginRead(ctx context.Context) (*sql.Tx, error) {
	return e.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
}

// BeginWrite starts a read-write transaction and takes the ledger's
// write lock: the row lock of the audit head, which every write
// transaction takes first, so writers run one after the other in every
// process on every host, as SQLite's BEGIN IMMEDIATE makes them. The
// transaction is READ COMMITTED: each statement after the lock sees
// everything committed before it was granted. Readers are not blocked.
//
// Locking the head needs UPDATE on audit_head, which a role that may
// only read lacks: it cannot stall the writers.
func (e *Engine) BeginWrite(ctx context.Context) (*sql.Tx, error) {
	tx, err := e.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, err
	}
	var seq int64
	err = tx.QueryRowContext(ctx, "SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE").Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		err = errors.New("the audit head is missing (run olr-sign ledger verify)")
	}
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// BeginSchema starts a transaction for reading and migrating the schema,
// under an advisory lock so that two processes opening a new database at
// once do not both create the tables.
func (e *Engine) BeginSchema(ctx context.Context) (*sql.Tx, error) {
	tx, err := e.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLockID)); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// Version returns the schema version the database records, 0 for a
// database without the ledger's schema. foreign is not empty when the
// schema olr exists but is not a ledger's, and says why.
func (e *Engine) Version(ctx context.Context, tx *sql.Tx) (version int, foreign string, err error) {
	var hasSchema, hasMeta bool
	if err := tx.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1), to_regclass($2) IS NOT NULL",
		Schema, Schema+".ledger_schema").Scan(&hasSchema, &hasMeta); err != nil {
		return 0, "", err
	}
	if !hasMeta {
		if hasSchema {
			var n int
			if err := tx.QueryRowContext(ctx,
				"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
				Schema).Scan(&n); err != nil {
				return 0, "", err
			}
			if n != 0 {
				return 0, fmt.Sprintf("schema %s has tables but no ledger_schema table", Schema), nil
			}
		}
		return 0, "", nil
	}
	var app string
	err = tx.QueryRowContext(ctx, "SELECT application, version FROM ledger_schema WHERE id = 1").Scan(&app, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "ledger_schema is empty", nil
	}
	if err != nil {
		return 0, "", err
	}
	if app != Application {
		return 0, fmt.Sprintf("ledger_schema names the application %q", app), nil
	}
	return version, "", nil
}

// Steps returns the number of schema steps this code knows.
func (e *Engine) Steps() int { return len(Migrations) }

// Migrate applies the steps after version from, and records the new
// version, in tx (from BeginSchema).
func (e *Engine) Migrate(ctx context.Context, tx *sql.Tx, from int) error {
	if from == 0 {
		if _, err := tx.ExecContext(ctx, bootstrap); err != nil {
			return fmt.Errorf("creating schema %s: %w", Schema, err)
		}
	}
	for i := from; i < len(Migrations); i++ {
		if _, err := tx.ExecContext(ctx, Migrations[i]); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	_, err := tx.ExecContext(ctx, "UPDATE ledger_schema SET version = $1 WHERE id = 1", len(Migrations))
	return err
}

// MissingGuard returns the name of the first guard trigger that is
// missing or disabled, or "" when all are in place.
func (e *Engine) MissingGuard(ctx context.Context, tx *sql.Tx) (string, error) {
	for _, g := range Guards {
		var ok bool
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (
	SELECT 1 FROM pg_trigger t
	JOIN pg_class c ON c.oid = t.tgrelid
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = $1 AND c.relname = $2 AND t.tgname = $3 AND t.tgenabled <> 'D')`,
			Schema, g.Table, g.Name).Scan(&ok)
		if err != nil {
			return "", err
		}
		if !ok {
			return g.Name, nil
		}
	}
	return "", nil
}

// ResetSequences moves the identity sequences past the largest ID in
// their tables, after rows were copied in with their IDs.
func (e *Engine) ResetSequences(ctx context.Context, tx *sql.Tx, tables []string) error {
	for _, t := range tables {
		// setval(…, max, true) makes the next ID max+1; an empty table
		// starts again at 1.
		q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), coalesce(max(id), 0) + 1, false) FROM %[1]s", pgx.Identifier{t}.Sanitize())
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("resetting the IDs of %s: %w", t, err)
		}
	}
	return nil
}

// sqlState returns the SQLSTATE code of err, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// IsRetryable reports whether a transaction that failed with err may be
// run again from the start: the server aborted it to serialise it
// (40001), broke a deadlock (40P01), or it waited for the write lock
// longer than LockTimeout (55P03).
func IsRetryable(err error) bool {
	switch sqlState(err) {
	case "40001", "40P01", "55P03":
		return true
	}
	return false
}

// IsConstraint reports whether err is an integrity constraint violation
// (SQLSTATE class 23): a unique index, a foreign key, a check, or a
// guard trigger.
func IsConstraint(err error) bool { return strings.HasPrefix(sqlState(err), "23") }

// IsDiskFull reports whether err says the server's disk is full (53100).
func IsDiskFull(err error) bool { return sqlState(err) == "53100" }

// IsReadOnly reports whether err refused a write because the session may
// only read: a read-only transaction, as on a standby server or in a
// database set to default_transaction_read_only (25006), or a role not
// granted the write (42501), as the ledger's read-only audit role is.
func IsReadOnly(err error) bool {
	s := sqlState(err)
	return s == "25006" || s == "42501"
}

// Retryable is IsRetryable, for the ledger's engine interface.
func (e *Engine) Retryable(err error) bool { return IsRetryable(err) }

// Constraint is IsConstraint, for the ledger's engine interface.
func (e *Engine) Constraint(err error) bool { return IsConstraint(err) }
