package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Tx is a ledger transaction, from Ledger.Update or Ledger.View. It must
// not be used after the function it was passed to returns.
//
// Its methods are grouped by table: keys.go (sold keys), licenses.go
// (issued licenses), activations.go (activations and transfers) and
// revocations.go (revocations, the CRL counter and free-form records).
type Tx struct {
	ctx context.Context
	// qctx is ctx without its cancellation: the transaction checks ctx
	// itself (see Ledger.run), and each statement is short.
	qctx     context.Context
	l        *Ledger
	tx       *sql.Tx
	operator string
	write    bool
	now      time.Time
	// stmts holds the ledger's prepared statements bound to this
	// transaction, so that each is bound once per transaction.
	stmts map[string]*sql.Stmt
	// head is the audit head as this transaction last wrote or read it
	// (nil: not known yet); audit uses it instead of reading it again.
	// headRead is the head as first read from the head table: the table
	// is moved from it to head once, before the commit (moveHead).
	head, headRead *AuditHead
	// broken is set when a failed method could not be rolled back to its
	// savepoint, or failed in an UpdateAll transaction: the transaction
	// must not commit.
	broken error
	// allOrNothing: an UpdateAll transaction.
	allOrNothing bool
}

// stmt returns the prepared statement for query bound to the
// transaction, or nil if it cannot be prepared (the caller then runs the
// query directly, which reports the error).
func (tx *Tx) stmt(query string) *sql.Stmt {
	if st, ok := tx.stmts[query]; ok {
		return st
	}
	ps, err := tx.l.stmt(tx.qctx, query)
	if err != nil {
		return nil
	}
	st := tx.tx.StmtContext(tx.qctx, ps)
	if tx.stmts == nil {
		tx.stmts = make(map[string]*sql.Stmt, 16)
	}
	tx.stmts[query] = st
	return st
}

func (tx *Tx) exec(query string, args ...any) (sql.Result, error) {
	if st := tx.stmt(query); st != nil {
		return st.ExecContext(tx.qctx, args...)
	}
	return tx.tx.ExecContext(tx.qctx, tx.l.e.Rebind(query), args...)
}

func (tx *Tx) queryRow(query string, args ...any) *sql.Row {
	if st := tx.stmt(query); st != nil {
		return st.QueryRowContext(tx.qctx, args...)
	}
	return tx.tx.QueryRowContext(tx.qctx, tx.l.e.Rebind(query), args...)
}

func (tx *Tx) query(query string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(query); st != nil {
		return st.QueryContext(tx.qctx, args...)
	}
	return tx.tx.QueryContext(tx.qctx, tx.l.e.Rebind(query), args...)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// queryAll runs query and scans every row with scan; what names the rows
// in an error ("reading keys").
func queryAll[T any](tx *Tx, what string, scan func(scanner) (*T, error), query string, args ...any) ([]T, error) {
	rows, err := tx.query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("ledger: %s: %w", what, err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: %s: %w", what, err)
	}
	return out, nil
}

// Operator returns the operator the transaction acts for ("" in View).
func (tx *Tx) Operator() string { return tx.operator }

// Now returns the transaction's time: every record written by the
// transaction carries it.
func (tx *Tx) Now() time.Time { return tx.now }

func (tx *Tx) writable() error {
	if !tx.write {
		return ErrReadOnly
	}
	return nil
}

// UpdateAll is Update for a caller that gives up on the first error a
// change returns: instead of rolling back to a savepoint of its own, a
// mutating method that fails fails the whole transaction, which commits
// nothing even if fn ignores the error. A savepoint costs two statements
// and, on SQLite, a copy of every page the method touches; batch issuing,
// which runs a failed transaction again without the request that failed,
// spares them.
func (l *Ledger) UpdateAll(ctx context.Context, operator string, fn func(*Tx) error) error {
	return l.Update(ctx, operator, func(tx *Tx) error {
		tx.allOrNothing = true
		return fn(tx)
	})
}

// atomic runs one mutating method under a savepoint, so that a method
// that fails halfway leaves nothing behind even if the caller ignores the
// error and commits: no data row ever changes without its audit record.
// In an UpdateAll transaction it runs without a savepoint, and a failure
// keeps the transaction from committing.
func (tx *Tx) atomic(fn func() error) error {
	if err := tx.writable(); err != nil {
		return err
	}
	if tx.broken != nil {
		return tx.broken
	}
	if tx.allOrNothing {
		if err := fn(); err != nil {
			tx.broken = fmt.Errorf("ledger: an earlier change in this transaction failed: %w", err)
			return err
		}
		return nil
	}
	if _, err := tx.exec("SAVEPOINT ledger_op"); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	head := tx.head
	if err := fn(); err != nil {
		// ROLLBACK TO keeps the savepoint open; RELEASE closes it.
		if _, rerr := tx.exec("ROLLBACK TO ledger_op"); rerr == nil {
			tx.exec("RELEASE ledger_op")
			tx.head = head // the audit records fn wrote are gone
		} else {
			tx.broken = fmt.Errorf("ledger: rolling back a failed change: %w", rerr)
		}
		return err
	}
	if _, err := tx.exec("RELEASE ledger_op"); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

func notFound(what string) error { return fmt.Errorf("%w: %s", ErrNotFound, what) }
