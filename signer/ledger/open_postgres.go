package ledger

import (
	"context"
	"fmt"

	"github.com/olr-dev/olr/signer/ledger/postgres"
)

// openPostgres opens the ledger in the PostgreSQL database at the
// postgres:// URL location, creating its schema in a database that has
// none, and migrating an older one (see package postgres).
func openPostgres(location string, opts []Option) (*Ledger, error) {
	ctx := context.Background()
	e, err := postgres.Open(ctx, location, postgres.Options{ApplicationName: "olr-sign"})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l := newLedger(e, e.DB(), e.Location())
	for _, o := range opts {
		o(l)
	}
	if err := migratePostgres(ctx, e); err != nil {
		e.Close()
		return nil, err
	}
	return l, nil
}

// migratePostgres brings the schema up to date in one transaction, under
// the schema lock, so that two processes opening a new database at once
// do not both make it.
func migratePostgres(ctx context.Context, e *postgres.Engine) error {
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
