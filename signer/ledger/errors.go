package ledger

import (
	"errors"
	"fmt"
	"time"

	"github.com/olr-dev/olr/signer/ledger/postgres"
	"github.com/olr-dev/olr/signer/ledger/sqlite"
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
	// ErrNotInitialised is returned by Open and OpenReadOnly for a file
	// that holds no ledger: empty, or truncated to nothing. Only Create
	// makes a ledger.
	ErrNotInitialised = errors.New("ledger: not an initialised olr ledger")
	// ErrBusy is wrapped by a *BusyError.
	ErrBusy = errors.New("ledger: another olr-sign holds the ledger")
	// ErrDiskFull is wrapped by errors from a write that failed because
	// the disk holding the ledger is full.
	ErrDiskFull = errors.New("ledger: the disk holding the ledger is full")
	// ErrCannotWrite is wrapped by errors from a write to a ledger whose
	// file or file system is read-only.
	ErrCannotWrite = errors.New("ledger: the ledger cannot be written (a read-only file, directory or mount, or a database role or server that only reads)")
)

// BusyError reports that the ledger's write lock stayed with another
// process for as long as Update waits.
type BusyError struct {
	Waited time.Duration
	Err    error // the last error from the database
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("ledger: another olr-sign holds the ledger; waited %d s", int(e.Waited.Round(time.Second).Seconds()))
}

func (e *BusyError) Unwrap() []error { return []error{ErrBusy, e.Err} }

// describe wraps the database errors an operator can act on with a
// sentinel whose message says what to do about them.
func describe(err error) error {
	switch {
	case errors.Is(err, ErrDiskFull), errors.Is(err, ErrCannotWrite):
		return err // described already
	case sqlite.IsDiskFull(err), postgres.IsDiskFull(err):
		return fmt.Errorf("%w (%w)", ErrDiskFull, err)
	case sqlite.IsReadOnly(err):
		return fmt.Errorf("%w (%w)", ErrCannotWrite, err)
	case sqlite.IsNotADatabase(err):
		return fmt.Errorf("%w: the file is not an SQLite database (%w)", ErrNotLedger, err)
	case sqlite.IsBusy(err):
		return fmt.Errorf("%w (%w)", ErrBusy, err)
	}
	return err
}

// describeWrite is describe for an error from inside a transaction,
// which may already carry the sentinel.
func describeWrite(err error) error {
	if errors.Is(err, ErrDiskFull) || errors.Is(err, ErrCannotWrite) {
		return err
	}
	if sqlite.IsDiskFull(err) || sqlite.IsReadOnly(err) || postgres.IsDiskFull(err) {
		return describe(err)
	}
	if postgres.IsReadOnly(err) {
		return fmt.Errorf("%w (%w)", ErrCannotWrite, err)
	}
	return err
}

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
