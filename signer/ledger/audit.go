package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Domain-separation labels of the two hashes; see the package doc.
const (
	recordHashLabel = "olr-ledger-audit-v1"
	rowHashLabel    = "olr-ledger-row-v1"
)

// timeLayout is how every time is stored: UTC, always nine fraction
// digits, so the text sorts in time order and hashes the same everywhere.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// dateLayout is how calendar dates (expiry, maintenance) are stored.
const dateLayout = "2006-01-02"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeLayout, s) }

// appendField appends the length-prefixed encoding of b: its length as
// an 8-byte big-endian integer, then the bytes.
func appendField(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(b)))
	return append(dst, b...)
}

// RecordHash computes the hash of an audit record from its fields as
// stored. It is exported so that tools and tests can re-check a chain;
// the package doc gives the encoding.
func RecordHash(seq int64, timeText, operator, action, subject string, details []byte, prevHash [32]byte) [32]byte {
	var seqb [8]byte
	binary.BigEndian.PutUint64(seqb[:], uint64(seq))
	b := appendField(nil, []byte(recordHashLabel))
	b = appendField(b, seqb[:])
	b = appendField(b, []byte(timeText))
	b = appendField(b, []byte(operator))
	b = appendField(b, []byte(action))
	b = appendField(b, []byte(subject))
	b = appendField(b, details)
	b = appendField(b, prevHash[:])
	return sha256.Sum256(b)
}

// auditedTable describes a data table whose rows the audit log vouches
// for: every row's content hash is in the latest audit record that wrote
// it, so editing a row behind olr's back is detected by Verify.
type auditedTable struct {
	name string
	pk   string
	cols string // every column, in declaration order
}

var auditedTables = []auditedTable{
	{"sold_keys", "license_key", "license_key, licensee, type, product, modules, languages, expires, maintenance, created, updated"},
	{"issued_licenses", "license_id", "license_id, license_key, request_id, file, issued, operator, status"},
	{"activations", "id", "id, license_key, fingerprint, license_id, request_id, state, created, ended"},
	{"transfers", "id", "id, license_key, from_license, to_license, time, operator, reason"},
	{"revocations", "license_id", "license_id, reason, time, operator"},
	{"crl_counter", "id", "id, number"},
	{"accounts", "name", "name, role, password_hash, disabled, created, updated"},
	{"pools", "name", "name, licensee, product, created"},
	{"pool_keys", "license_key", "license_key, pool, role, added, released"},
}

func tableSpec(name string) auditedTable {
	for _, t := range auditedTables {
		if t.name == name {
			return t
		}
	}
	panic("ledger: unknown audited table " + name)
}

// rowHash hashes one row's column values as returned by the driver.
func rowHash(table string, vals []any) ([32]byte, error) {
	b := appendField(nil, []byte(rowHashLabel))
	b = appendField(b, []byte(table))
	for _, v := range vals {
		switch v := v.(type) {
		case nil:
			b = append(b, 0)
		case int64:
			b = append(b, 1)
			b = appendField(b, strconv.AppendInt(nil, v, 10))
		case string:
			b = append(b, 2)
			b = appendField(b, []byte(v))
		case []byte:
			b = append(b, 3)
			b = appendField(b, v)
		default:
			return [32]byte{}, fmt.Errorf("unexpected column type %T", v)
		}
	}
	return sha256.Sum256(b), nil
}

// rowRef names a data row and its content hash inside audit details.
type rowRef struct {
	Table  string `json:"table"`
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
}

// rowKey identifies a row to be referenced from the audit log.
type rowKey struct {
	table string
	id    any // string or int64, the primary key
}

func idText(id any) string {
	switch id := id.(type) {
	case int64:
		return strconv.FormatInt(id, 10)
	case string:
		return id
	}
	panic(fmt.Sprintf("ledger: bad row id type %T", id))
}

// scanRowValues reads the current values of one row.
func scanRowValues(rows interface{ Scan(...any) error }, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return vals, nil
}

func columnCount(cols string) int {
	n := 1
	for _, c := range cols {
		if c == ',' {
			n++
		}
	}
	return n
}

// refRow reads a row as it now stands and returns its reference for the
// audit details.
func (tx *Tx) refRow(k rowKey) (rowRef, error) {
	t := tableSpec(k.table)
	row := tx.queryRow("SELECT "+t.cols+" FROM "+t.name+" WHERE "+t.pk+" = ?", k.id)
	vals, err := scanRowValues(row, columnCount(t.cols))
	if err != nil {
		return rowRef{}, fmt.Errorf("ledger: reading %s row for the audit log: %w", t.name, err)
	}
	return makeRowRef(t.name, k.id, vals)
}

// makeRowRef returns the reference of a row whose column values (in the
// order of auditedTables, as the driver returns them) are vals: from a
// SELECT, or from the RETURNING clause of the statement that wrote the
// row, which gives the same values without reading the row again.
func makeRowRef(table string, id any, vals []any) (rowRef, error) {
	h, err := rowHash(table, vals)
	if err != nil {
		return rowRef{}, fmt.Errorf("ledger: %s: %w", table, err)
	}
	return rowRef{Table: table, ID: idText(id), SHA256: hex.EncodeToString(h[:])}, nil
}

// audit appends one record to the log and moves the head, in the
// caller's transaction. details must marshal to a JSON object; the rows
// named are hashed as they stand now and listed under "rows".
func (tx *Tx) audit(action, subject string, details map[string]any, rows ...rowKey) error {
	return tx.auditRefs(action, subject, details, nil, rows...)
}

// auditRefs is audit with the references of rows the caller has just
// written (and hashed from the values the database returned) listed
// first, then the rows named, read now.
func (tx *Tx) auditRefs(action, subject string, details map[string]any, known []rowRef, rows ...rowKey) error {
	if details == nil {
		details = map[string]any{}
	}
	if len(known)+len(rows) > 0 {
		refs := make([]rowRef, 0, len(known)+len(rows))
		refs = append(refs, known...)
		for _, k := range rows {
			r, err := tx.refRow(k)
			if err != nil {
				return err
			}
			refs = append(refs, r)
		}
		details["rows"] = refs
	}
	dj, err := json.Marshal(details) // map keys come out sorted
	if err != nil {
		return fmt.Errorf("ledger: encoding audit details: %w", err)
	}
	head, err := tx.auditHead()
	if err != nil {
		return err
	}
	seq := head.Seq + 1
	ts := formatTime(tx.now)
	h := RecordHash(seq, ts, tx.operator, action, subject, dj, head.Hash)
	hh := hex.EncodeToString(h[:])
	if _, err := tx.exec(
		"INSERT INTO audit (seq, time, operator, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		seq, ts, tx.operator, action, subject, string(dj), hex.EncodeToString(head.Hash[:]), hh); err != nil {
		return fmt.Errorf("ledger: appending to the audit log: %w", err)
	}
	tx.head = &AuditHead{Seq: seq, Hash: h}
	return nil
}

// auditHead returns the head as this transaction last wrote it, reading
// it only the first time. The write transaction holds the ledger's write
// lock, so nobody else moves the head meanwhile; atomic forgets a head
// that a rolled-back method wrote.
func (tx *Tx) auditHead() (AuditHead, error) {
	if tx.head != nil {
		return *tx.head, nil
	}
	h, err := tx.readHead()
	if err != nil {
		return h, err
	}
	tx.head, tx.headRead = &h, &h
	return h, nil
}

// moveHead writes the head this transaction's audit records lead to into
// the head table, once, before the commit, checking that the table
// still holds the head the transaction started from.
func (tx *Tx) moveHead() error {
	if tx.head == nil || tx.headRead == nil || *tx.head == *tx.headRead {
		return nil
	}
	res, err := tx.exec("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ?",
		tx.head.Seq, hex.EncodeToString(tx.head.Hash[:]), tx.headRead.Seq, hex.EncodeToString(tx.headRead.Hash[:]))
	if err != nil {
		return fmt.Errorf("ledger: moving the audit head: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errors.New("ledger: audit head moved during the transaction")
	}
	return nil
}

// Head returns the latest audit record's sequence number and hash: in a
// transaction that appended records, the head it moves the log to when
// it commits; otherwise as recorded in the head table.
func (tx *Tx) Head() (AuditHead, error) {
	if tx.head != nil && tx.headRead != nil && *tx.head != *tx.headRead {
		return *tx.head, nil
	}
	return tx.readHead()
}

// readHead reads the head table.
func (tx *Tx) readHead() (AuditHead, error) {
	var h AuditHead
	var hs string
	if err := tx.queryRow("SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&h.Seq, &hs); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return h, &ChainError{Problem: "the audit head is missing"}
		}
		return h, fmt.Errorf("ledger: reading the audit head: %w", err)
	}
	hb, ok := decodeHash(hs)
	if !ok {
		return h, &ChainError{Problem: "the audit head hash is malformed"}
	}
	h.Hash = hb
	return h, nil
}

// decodeHash accepts exactly 64 lowercase hex digits.
func decodeHash(s string) ([32]byte, bool) {
	var h [32]byte
	if len(s) != 64 {
		return h, false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, false
		}
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err == nil
}

// Audit calls fn for each audit record in sequence order, stopping at
// the first error fn returns. It does not check the chain; Verify does.
func (tx *Tx) Audit(fn func(*AuditRecord) error) error {
	rows, err := tx.query("SELECT seq, time, operator, action, subject, details, prev_hash, hash FROM audit ORDER BY seq")
	if err != nil {
		return fmt.Errorf("ledger: reading the audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, _, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: reading the audit log: %w", err)
	}
	return nil
}

// scanAudit reads one audit row; it also returns the stored time text,
// which is what the hash covers.
func scanAudit(rows *sql.Rows) (*AuditRecord, string, error) {
	var r AuditRecord
	var ts, details, prev, hash string
	if err := rows.Scan(&r.Seq, &ts, &r.Operator, &r.Action, &r.Subject, &details, &prev, &hash); err != nil {
		return nil, "", fmt.Errorf("ledger: reading the audit log: %w", err)
	}
	r.Details = json.RawMessage(details)
	var ok1, ok2 bool
	r.PrevHash, ok1 = decodeHash(prev)
	r.Hash, ok2 = decodeHash(hash)
	if !ok1 || !ok2 {
		return nil, "", &ChainError{Seq: r.Seq, Problem: "malformed hash (edited?)"}
	}
	t, err := parseTime(ts)
	if err != nil {
		return nil, "", &ChainError{Seq: r.Seq, Problem: "malformed time (edited?)"}
	}
	r.Time = t
	return &r, ts, nil
}

// Verify checks the whole ledger: the audit chain from the first record
// to the head (no record edited, reordered, deleted or cut off the end),
// that every data row is the one its latest audit record describes, and
// that the guard triggers are in place. It returns a *ChainError naming
// the first problem found, or nil.
//
// The chain carries no secret, so someone able to write the file could
// cut records off the end and move the head back, restore an older copy,
// or rewrite the chain entirely and recompute every hash. Anchors noted
// earlier outside the ledger (Ledger.Head, AuditHead.String) rule that
// out up to the moment they were noted: each anchor's record must still
// be in the chain with the same hash.
func (l *Ledger) Verify(ctx context.Context, anchors ...Anchor) error {
	return l.View(ctx, func(tx *Tx) error {
		if err := tx.verify(); err != nil {
			return err
		}
		head, err := tx.Head()
		if err != nil {
			return err
		}
		for _, a := range anchors {
			if err := tx.checkAnchor(a, head); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkAnchor checks that the verified chain, whose head is head, holds
// the record a names with a hash that a's hash begins.
func (tx *Tx) checkAnchor(a Anchor, head AuditHead) error {
	if a.Seq < 1 || len(a.Hash) == 0 || len(a.Hash) > 32 {
		return fmt.Errorf("ledger: anchor %s is malformed", a)
	}
	if a.Seq > head.Seq {
		return &ChainError{Seq: a.Seq, Problem: fmt.Sprintf("named by anchor %s, is missing: the log ends at record %d (records deleted from the end, or an older copy of the ledger restored)", a, head.Seq)}
	}
	var hs string
	if err := tx.queryRow("SELECT hash FROM audit WHERE seq = ?", a.Seq).Scan(&hs); err != nil {
		return fmt.Errorf("ledger: reading the audit log: %w", err)
	}
	if h, _ := decodeHash(hs); !bytes.HasPrefix(h[:], a.Hash) {
		return &ChainError{Seq: a.Seq, Problem: fmt.Sprintf("hash differs from anchor %s noted earlier (the log was rewritten, or this is another ledger)", a)}
	}
	return nil
}

type rowSeen struct {
	seq  int64
	hash string
	seen bool
}

func (tx *Tx) verify() error {
	head, err := tx.Head()
	if err != nil {
		return err
	}
	rows, err := tx.query("SELECT seq, time, operator, action, subject, details, prev_hash, hash FROM audit ORDER BY seq")
	if err != nil {
		return fmt.Errorf("ledger: reading the audit log: %w", err)
	}
	defer rows.Close()

	refs := map[string]*rowSeen{} // table + "\x00" + id -> latest reference
	var prev [32]byte
	var last int64
	for rows.Next() {
		r, ts, err := scanAudit(rows)
		if err != nil {
			return err
		}
		switch {
		case r.Seq <= 0:
			return &ChainError{Seq: r.Seq, Problem: "sequence number is not positive (edited?)"}
		case r.Seq == last+2:
			return &ChainError{Seq: r.Seq, Problem: fmt.Sprintf("follows record %d: record %d is missing (deleted?)", last, last+1)}
		case r.Seq != last+1:
			return &ChainError{Seq: r.Seq, Problem: fmt.Sprintf("follows record %d: records %d to %d are missing (deleted?)", last, last+1, r.Seq-1)}
		}
		if RecordHash(r.Seq, ts, r.Operator, r.Action, r.Subject, r.Details, r.PrevHash) != r.Hash {
			return &ChainError{Seq: r.Seq, Problem: "hash does not match its content (edited?)"}
		}
		if r.PrevHash != prev {
			return &ChainError{Seq: r.Seq, Problem: fmt.Sprintf("does not chain to record %d (records reordered, or one replaced?)", last)}
		}
		var d struct {
			Rows []rowRef `json:"rows"`
		}
		if err := json.Unmarshal(r.Details, &d); err != nil {
			return &ChainError{Seq: r.Seq, Problem: "details are not a JSON object"}
		}
		for _, ref := range d.Rows {
			refs[ref.Table+"\x00"+ref.ID] = &rowSeen{seq: r.Seq, hash: ref.SHA256}
		}
		prev, last = r.Hash, r.Seq
		if last%1024 == 0 {
			if err := tx.ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: reading the audit log: %w", err)
	}
	rows.Close()

	switch {
	case head.Seq > last:
		return &ChainError{Seq: last + 1, Problem: fmt.Sprintf("missing: the log ends at record %d but its head is record %d (records deleted from the end?)", last, head.Seq)}
	case head.Seq < last:
		return &ChainError{Seq: head.Seq + 1, Problem: fmt.Sprintf("is past the head of the log, record %d (head edited?)", head.Seq)}
	case head.Hash != prev:
		return &ChainError{Seq: last, Problem: "hash differs from the head of the log (last record or head edited?)"}
	}

	for _, t := range auditedTables {
		if err := tx.verifyTable(t, refs); err != nil {
			return err
		}
	}
	var missing []*ChainError
	for k, s := range refs {
		if !s.seen {
			table, id, _ := strings.Cut(k, "\x00")
			missing = append(missing, &ChainError{Seq: s.seq, Problem: fmt.Sprintf("describes %s row %q, which is missing (deleted?)", table, id)})
		}
	}
	if len(missing) > 0 {
		slices.SortFunc(missing, func(a, b *ChainError) int { return int(a.Seq - b.Seq) })
		return missing[0]
	}

	g, err := tx.l.e.MissingGuard(tx.qctx, tx.tx)
	if err != nil {
		return fmt.Errorf("ledger: reading schema: %w", err)
	}
	if g != "" {
		return &ChainError{Problem: fmt.Sprintf("guard trigger %s is missing (schema edited?)", g)}
	}
	return nil
}

func (tx *Tx) verifyTable(t auditedTable, refs map[string]*rowSeen) error {
	rows, err := tx.query("SELECT " + t.cols + " FROM " + t.name + " ORDER BY " + t.pk)
	if err != nil {
		return fmt.Errorf("ledger: reading %s: %w", t.name, err)
	}
	defer rows.Close()
	n := columnCount(t.cols)
	for rows.Next() {
		vals, err := scanRowValues(rows, n)
		if err != nil {
			return fmt.Errorf("ledger: reading %s: %w", t.name, err)
		}
		var id string
		switch v := vals[0].(type) {
		case int64:
			id = strconv.FormatInt(v, 10)
		case string:
			id = v
		default:
			return &ChainError{Problem: fmt.Sprintf("%s has a row with a malformed key (edited?)", t.name)}
		}
		h, err := rowHash(t.name, vals)
		if err != nil {
			return &ChainError{Problem: fmt.Sprintf("%s row %q: %v (edited?)", t.name, id, err)}
		}
		s := refs[t.name+"\x00"+id]
		if s == nil {
			return &ChainError{Problem: fmt.Sprintf("%s row %q has no audit record (written outside olr?)", t.name, id)}
		}
		s.seen = true
		if hex.EncodeToString(h[:]) != s.hash {
			return &ChainError{Seq: s.seq, Problem: fmt.Sprintf("%s row %q does not match this record (edited?)", t.name, id)}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: reading %s: %w", t.name, err)
	}
	return nil
}
