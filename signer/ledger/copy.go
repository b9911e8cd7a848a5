package ledger

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
)

// ErrNotEmpty is returned by Copy when the target ledger already holds
// records.
var ErrNotEmpty = errors.New("ledger: the target ledger is not empty")

// auditTable describes the audit log for Copy: its rows are copied as
// they are, like the data tables'.
var auditTable = auditedTable{"audit", "seq", "seq, time, operator, action, subject, details, prev_hash, hash"}

// copyTables are the tables Copy copies, parents before children.
func copyTables() []auditedTable {
	return append(append([]auditedTable{}, auditedTables...), auditTable)
}

// CopyResult says what Copy copied.
type CopyResult struct {
	Rows map[string]int64 // rows copied per table
	Head AuditHead        // the audit head of both ledgers
}

// Copy copies the whole ledger src into dst, which must be empty (no
// audit record and no row in any table: ErrNotEmpty), on the same engine
// or another: every row of every table with its values unchanged, the
// audit log and its head, so that dst's chain is src's hash for hash and
// anchors noted on src hold on dst. It reads src in one snapshot and
// writes dst in one transaction, which it verifies (the chain, and each
// table read back equal to src's) before committing: the copy is whole,
// or dst is left as it was.
func Copy(ctx context.Context, dst, src *Ledger) (*CopyResult, error) {
	if dst.Path() == src.Path() {
		return nil, errors.New("ledger: copying a ledger onto itself")
	}
	var res *CopyResult
	err := src.View(ctx, func(stx *Tx) error {
		if err := stx.verify(); err != nil {
			return fmt.Errorf("%s: %w", src.Path(), err)
		}
		return dst.Update(ctx, "ledger-copy", func(dtx *Tx) (err error) {
			res, err = copyInto(dtx, stx)
			return err
		})
	})
	return res, err
}

func copyInto(dtx, stx *Tx) (*CopyResult, error) {
	if err := dtx.checkEmpty(); err != nil {
		return nil, err
	}
	res := &CopyResult{Rows: map[string]int64{}}
	for _, t := range copyTables() {
		n, err := copyTable(dtx, stx, t)
		if err != nil {
			return nil, err
		}
		res.Rows[t.name] = n
	}
	head, err := stx.Head()
	if err != nil {
		return nil, err
	}
	if _, err := dtx.exec("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", head.Seq, fmt.Sprintf("%x", head.Hash)); err != nil {
		return nil, fmt.Errorf("ledger: copying the audit head: %w", err)
	}
	dtx.head = nil
	res.Head = head
	if err := dtx.l.e.ResetSequences(dtx.qctx, dtx.tx, []string{"activations", "transfers"}); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	// Read the copy back: every table must be what was read from src, row
	// for row, and its chain must verify. src is read last here, so that
	// its transaction never sits idle long (PostgreSQL ends a session idle
	// in a transaction after a minute).
	for _, t := range copyTables() {
		a, err := tableDigest(stx, t)
		if err != nil {
			return nil, err
		}
		b, err := tableDigest(dtx, t)
		if err != nil {
			return nil, err
		}
		if a != b {
			return nil, fmt.Errorf("ledger: the copy of table %s differs from the original", t.name)
		}
	}
	if err := dtx.verify(); err != nil {
		return nil, fmt.Errorf("ledger: the copy does not verify: %w", err)
	}
	return res, nil
}

// checkEmpty returns ErrNotEmpty unless the ledger has no audit record
// and no row in any table.
func (tx *Tx) checkEmpty() error {
	h, err := tx.Head()
	if err != nil {
		return err
	}
	if h.Seq != 0 {
		return fmt.Errorf("%w (%d audit records)", ErrNotEmpty, h.Seq)
	}
	for _, t := range copyTables() {
		var n int64
		if err := tx.queryRow("SELECT count(*) FROM " + t.name).Scan(&n); err != nil {
			return fmt.Errorf("ledger: reading %s: %w", t.name, err)
		}
		if n != 0 {
			return fmt.Errorf("%w (%d rows in %s)", ErrNotEmpty, n, t.name)
		}
	}
	return nil
}

// copyTable inserts every row of table t of stx into dtx.
func copyTable(dtx, stx *Tx, t auditedTable) (int64, error) {
	rows, err := stx.query("SELECT " + t.cols + " FROM " + t.name + " ORDER BY " + t.pk)
	if err != nil {
		return 0, fmt.Errorf("ledger: reading %s: %w", t.name, err)
	}
	defer rows.Close()
	ncol := columnCount(t.cols)
	ph := make([]string, ncol)
	for i := range ph {
		ph[i] = "?"
	}
	insert := "INSERT INTO " + t.name + " (" + t.cols + ") VALUES (" + strings.Join(ph, ", ") + ")"
	var n int64
	for rows.Next() {
		vals, err := scanRowValues(rows, ncol)
		if err != nil {
			return n, fmt.Errorf("ledger: reading %s: %w", t.name, err)
		}
		if _, err := dtx.exec(insert, vals...); err != nil {
			return n, fmt.Errorf("ledger: copying %s: %w", t.name, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("ledger: reading %s: %w", t.name, err)
	}
	return n, nil
}

// tableDigest hashes every row of table t in primary key order.
func tableDigest(tx *Tx, t auditedTable) ([32]byte, error) {
	rows, err := tx.query("SELECT " + t.cols + " FROM " + t.name + " ORDER BY " + t.pk)
	if err != nil {
		return [32]byte{}, fmt.Errorf("ledger: reading %s: %w", t.name, err)
	}
	defer rows.Close()
	h := sha256.New()
	ncol := columnCount(t.cols)
	for rows.Next() {
		vals, err := scanRowValues(rows, ncol)
		if err != nil {
			return [32]byte{}, fmt.Errorf("ledger: reading %s: %w", t.name, err)
		}
		rh, err := rowHash(t.name, vals)
		if err != nil {
			return [32]byte{}, fmt.Errorf("ledger: %s: %w", t.name, err)
		}
		h.Write(rh[:])
	}
	if err := rows.Err(); err != nil {
		return [32]byte{}, fmt.Errorf("ledger: reading %s: %w", t.name, err)
	}
	return [32]byte(h.Sum(nil)), nil
}
