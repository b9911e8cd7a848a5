package ledger

import (
	"context"
	"database/sql"
)

// sqliteEngine is the SQLite engine: a file opened by Open with WAL,
// synchronous=FULL and BEGIN IMMEDIATE for writers.
type sqliteEngine struct {
	db   *sql.DB
	path string
}

func (e sqliteEngine) Location() string { return e.path }

// BeginRead starts a deferred, read-only transaction: under WAL it sees
// one snapshot and never blocks the writer.
func (e sqliteEngine) BeginRead(ctx context.Context) (*sql.Tx, error) {
	return e.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

// BeginWrite starts a BEGIN IMMEDIATE transaction (see Open's _txlock),
// which takes SQLite's write lock up front.
func (e sqliteEngine) BeginWrite(ctx context.Context) (*sql.Tx, error) {
	return e.db.BeginTx(ctx, nil)
}

func (sqliteEngine) Rebind(query string) string { return query }

func (sqliteEngine) MissingGuard(ctx context.Context, tx *sql.Tx) (string, error) {
	for _, name := range guardTriggers {
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
func (sqliteEngine) ResetSequences(context.Context, *sql.Tx, []string) error { return nil }

func (sqliteEngine) Retryable(err error) bool  { return isBusy(err) }
func (sqliteEngine) Constraint(err error) bool { return sqliteConstraint(err) }
