package ledger

import (
	"context"
	"database/sql"

	"github.com/olr-dev/olr/signer/ledger/postgres"
	"github.com/olr-dev/olr/signer/ledger/sqlite"
)

// Engine is a database that holds a ledger: what differs between SQLite
// (a file: the default, nothing to install) and PostgreSQL (a postgres://
// URL: a ledger that several olr-sign processes on several hosts share).
// Everything else — the statements of every operation, the rules the
// ledger enforces, the audit chain and Verify — is this package's, the
// same on both, so that a ledger verifies the same, and keeps every hash
// when copied (Copy), whichever engine holds it.
//
// Statements are written once, in SQLite's dialect with ? placeholders,
// using only what both engines understand (RETURNING, ON CONFLICT,
// partial indexes, savepoints); Rebind turns them into the engine's form.
// Each engine's schema steps are its own (DDL differs), but step N makes
// the same tables and columns on both, and a row reads back as the same
// Go values (int64, string, []byte, nil) on both.
type Engine interface {
	// Location names the ledger in messages: the file's absolute path,
	// or the URL without its password.
	Location() string
	// BeginRead starts a read-only transaction that sees one snapshot
	// throughout and never waits for a writer.
	BeginRead(ctx context.Context) (*sql.Tx, error)
	// BeginWrite starts a read-write transaction that holds the ledger's
	// write lock from its first statement: no other writer, in any
	// process on any host, runs until it ends.
	BeginWrite(ctx context.Context) (*sql.Tx, error)
	// Rebind returns query in the engine's placeholder syntax.
	Rebind(query string) string
	// MissingGuard returns the first guard trigger that is missing or
	// disabled, "" when all are in place.
	MissingGuard(ctx context.Context, tx *sql.Tx) (string, error)
	// ResetSequences moves the ID sequences of tables past the IDs in
	// them, after rows were copied in with their IDs.
	ResetSequences(ctx context.Context, tx *sql.Tx, tables []string) error
	// Retryable reports whether a transaction that failed with err may
	// be run again: the write lock stayed busy, or the database aborted
	// the transaction to serialise it.
	Retryable(err error) bool
	// Constraint reports whether err is a constraint violation.
	Constraint(err error) bool
}

var (
	_ Engine = (*sqlite.Engine)(nil)
	_ Engine = (*postgres.Engine)(nil)
)

// isConstraint reports whether err is a constraint violation on either
// engine.
func isConstraint(err error) bool {
	return sqlite.IsConstraint(err) || postgres.IsConstraint(err)
}

// SchemaVersion is the schema version this code writes: the number of
// schema steps, the same on both engines.
func SchemaVersion() int { return len(sqlite.Migrations) }

// IsPostgresURL reports whether location names a PostgreSQL ledger (a
// postgres:// or postgresql:// URL) rather than an SQLite file.
func IsPostgresURL(location string) bool { return postgres.IsURL(location) }

// Redacted returns location as messages may show it: a file's path as
// it is, a URL without its password.
func Redacted(location string) string {
	if postgres.IsURL(location) {
		return postgres.Redact(location)
	}
	return location
}
