package ledger

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/olr-dev/olr/signer/ledger/postgres"
)

// openPostgres opens the ledger in the PostgreSQL database at the
// postgres:// URL location: with Create, making its schema in a database
// that has none; otherwise refusing a database without one, as Open
// refuses an empty file, and migrating an older one (see package
// postgres), except read-only.
func openPostgres(location string, mode openMode, opts []Option) (*Ledger, error) {
	ctx := context.Background()
	e, err := postgres.Open(ctx, location, postgres.Options{ApplicationName: "olr-sign"})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l := newLedger(e, e.DB(), e.Location())
	l.readOnly = mode == modeReadOnly
	for _, o := range opts {
		o(l)
	}
	if err := migratePostgres(ctx, e, mode); err != nil {
		e.Close()
		return nil, err
	}
	return l, nil
}

// migratePostgres brings the schema up to date in one transaction, under
// the schema lock, so that two processes opening a new database at once
// do not both make it.
func migratePostgres(ctx context.Context, e *postgres.Engine, mode openMode) error {
	tx, err := e.BeginSchema(ctx)
	if err != nil {
		return fmt.Errorf("ledger: %s: starting migration: %w", e.Location(), err)
	}
	defer tx.Rollback()
	version, foreign, err := e.Version(ctx, tx)
	if err != nil {
		return fmt.Errorf("ledger: %s: reading schema version: %w", e.Location(), err)
	}
	switch {
	case foreign != "":
		return fmt.Errorf("%w (%s: %s)", ErrNotLedger, e.Location(), foreign)
	case mode == modeCreate && version != 0:
		return fmt.Errorf("ledger: %s: %w: the database already holds a ledger", e.Location(), fs.ErrExist)
	case mode != modeCreate && version == 0:
		return fmt.Errorf("%w: %s holds no ledger (make one with Create)", ErrNotInitialised, e.Location())
	case mode == modeReadOnly && version < e.Steps():
		return fmt.Errorf("ledger: %s: schema version %d is older than this program's %d: open the ledger once with a command that writes to it, to migrate it", e.Location(), version, e.Steps())
	case version > e.Steps():
		return fmt.Errorf("%w: schema version %d, this program knows up to %d; use a newer olr-sign",
			ErrSchemaTooNew, version, e.Steps())
	case version == e.Steps():
		return nil
	}
	if err := e.Migrate(ctx, tx, version); err != nil {
		return fmt.Errorf("ledger: %s: migrating schema: %w", e.Location(), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: %s: committing migration: %w", e.Location(), err)
	}
	return nil
}
