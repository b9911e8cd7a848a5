package ledger

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	// ErrNotFound is returned when a key, license or activation does not
	// exist.
	ErrNotFound = errors.New("ledger: not found")
	// ErrAlreadyActive is returned by Activate when the key already has an
	// active activation: one key, one machine.
	ErrAlreadyActive = errors.New("ledger: key already has an active activation")
	// ErrNotActive is returned when an operation needs an active license or
	// activation and there is none.
	ErrNotActive = errors.New("ledger: not active")
	// ErrDuplicate is returned when a license ID or request ID is already
	// recorded.
	ErrDuplicate = errors.New("ledger: already recorded")
	// ErrReadOnly is returned by a mutating Tx method inside View.
	ErrReadOnly = errors.New("ledger: write in a read-only transaction")
	// ErrSchemaTooNew is returned by Open for a ledger written by a newer
	// version of olr.
	ErrSchemaTooNew = errors.New("ledger: database schema is newer than this program")
	// ErrNotLedger is returned by Open for an SQLite database that is not
	// an olr ledger.
	ErrNotLedger = errors.New("ledger: not an olr ledger database")
)

// ChainError reports a problem found by Verify. Seq names the audit
// record at fault (0 when the problem is a data row that no audit record
// describes).
type ChainError struct {
	Seq     int64
	Problem string
}

func (e *ChainError) Error() string {
	if e.Seq == 0 {
		return "ledger: " + e.Problem
	}
	return fmt.Sprintf("ledger: audit record %d: %s", e.Seq, e.Problem)
}

// ValidationError reports a value the ledger refuses. Field names the
// field; Record locates the value in an import file ("line 3", "record
// 2"), empty when the value came from a caller.
type ValidationError struct {
	Record string
	Field  string
	Err    error
}

func (e *ValidationError) Error() string {
	s := "ledger: "
	if e.Record != "" {
		s += e.Record + ": "
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Err.Error()
}

func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Err: fmt.Errorf(format, args...)}
}

// sqliteCode returns the primary SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

func isBusy(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

func sqliteConstraint(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT }
