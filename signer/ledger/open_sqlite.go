package ledger

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/olr-dev/olr/signer/ledger/sqlite"
)

// openSQLite opens the ledger in the SQLite file at path: with Create,
// making the file and its schema; otherwise refusing a file that holds
// no ledger, as an empty or truncated one, before anything is written to
// it, and migrating an older one, except read-only.
func openSQLite(path string, mode openMode, opts []Option) (*Ledger, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l := newLedger(nil, nil, abs)
	l.readOnly = mode == modeReadOnly
	for _, o := range opts {
		o(l)
	}
	ctx := context.Background()
	sopts := sqlite.Options{ReadOnly: l.readOnly, BusyTimeout: l.busyTimeout}
	var e *sqlite.Engine
	if mode == modeCreate {
		if e, err = sqlite.Create(ctx, abs, sopts); err != nil {
			return nil, sqliteError(err)
		}
		if err := migrateSQLite(ctx, e, true); err != nil {
			e.Close()
			sqlite.Remove(abs)
			return nil, err
		}
	} else {
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: %s is not a regular file", ErrNotLedger, abs)
		}
		if mode == modeWrite {
			// Look before writing anything: opening for writing puts
			// the file in WAL mode, which writes a header into an empty
			// file.
			st, err := sqlite.Inspect(ctx, abs, sopts)
			if err != nil {
				return nil, sqliteError(err)
			}
			if err := checkState(st); err != nil {
				return nil, err
			}
		}
		if e, err = sqlite.Open(ctx, abs, sopts); err != nil {
			return nil, sqliteError(err)
		}
		if err := prepareSQLite(ctx, e, mode); err != nil {
			e.Close()
			return nil, err
		}
	}
	l.e, l.db = e, e.DB()
	return l, nil
}

// prepareSQLite checks the schema of an existing ledger; a writer
// migrates an older one.
func prepareSQLite(ctx context.Context, e *sqlite.Engine, mode openMode) error {
	tx, err := e.BeginRead(ctx)
	if err != nil {
		return sqliteError(err)
	}
	st, err := e.State(ctx, tx)
	tx.Rollback()
	if err != nil {
		return sqliteError(err)
	}
	if err := checkState(st); err != nil {
		return err
	}
	switch {
	case st.Version == e.Steps():
		return nil
	case mode == modeReadOnly:
		return fmt.Errorf("ledger: schema version %d is older than this program's %d: open the ledger once with a command that writes to it, to migrate it", st.Version, e.Steps())
	}
	return migrateSQLite(ctx, e, false)
}

// checkState says whether the file is an olr ledger this program can
// use: an initialised ledger of this schema version or an older one. An
// empty database (a 0-byte file, one truncated to its header) is not a
// new ledger: only Create makes one.
func checkState(st sqlite.State) error {
	switch {
	case st.Empty():
		return fmt.Errorf("%w: the file holds no ledger (empty or truncated)", ErrNotInitialised)
	case st.ApplicationID == 0 && st.Version == 0:
		return fmt.Errorf("%w (it has tables but no olr application id)", ErrNotLedger)
	case st.ApplicationID != sqlite.ApplicationID:
		return fmt.Errorf("%w (application id %#x)", ErrNotLedger, st.ApplicationID)
	case st.Version == 0:
		return fmt.Errorf("%w: the olr ledger was never given a schema (version 0)", ErrNotInitialised)
	case st.Version > len(sqlite.Migrations):
		return fmt.Errorf("%w: schema version %d, this program knows up to %d; use a newer olr-sign",
			ErrSchemaTooNew, st.Version, len(sqlite.Migrations))
	}
	return nil
}

// migrateSQLite brings the schema up to date in one write transaction,
// so a crash or a second process never sees half a migration; with
// create, it first gives an empty database the whole schema. The
// version is read again under the write lock, since another process may
// have migrated meanwhile.
func migrateSQLite(ctx context.Context, e *sqlite.Engine, create bool) error {
	tx, err := e.BeginSchema(ctx)
	if err != nil {
		return fmt.Errorf("ledger: starting migration: %w", describe(err))
	}
	defer tx.Rollback()
	st, err := e.State(ctx, tx)
	if err != nil {
		return sqliteError(err)
	}
	if create {
		if !st.Empty() {
			return fmt.Errorf("%w: the file is not empty", fs.ErrExist)
		}
	} else if err := checkState(st); err != nil {
		return err
	}
	if st.Version == e.Steps() {
		return nil
	}
	if err := e.Migrate(ctx, tx, st.Version); err != nil {
		return sqliteError(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: committing migration: %w", describe(err))
	}
	return nil
}

// sqliteError gives an error from package sqlite the sentinel that says
// what to do about it (describe), or else the package's prefix.
func sqliteError(err error) error {
	if d := describe(err); d != err {
		return d
	}
	return fmt.Errorf("ledger: %w", err)
}
