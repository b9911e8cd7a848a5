package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrOfflineNotAllowed is returned by Activate and Transfer for a key
// whose type does not allow offline activation (anything but OEM).
var ErrOfflineNotAllowed = errors.New("ledger: offline activation is only for OEM keys")

// Tx is a ledger transaction, from Ledger.Update or Ledger.View. It must
// not be used after the function it was passed to returns.
type Tx struct {
	ctx context.Context
	// qctx is ctx without its cancellation, for the statements: with a
	// context that can be cancelled, database/sql and the driver start a
	// goroutine per statement to watch it. The transaction checks ctx
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
	head *AuditHead
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
	return tx.tx.ExecContext(tx.qctx, query, args...)
}

func (tx *Tx) queryRow(query string, args ...any) *sql.Row {
	if st := tx.stmt(query); st != nil {
		return st.QueryRowContext(tx.qctx, args...)
	}
	return tx.tx.QueryRowContext(tx.qctx, query, args...)
}

func (tx *Tx) query(query string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(query); st != nil {
		return st.QueryContext(tx.qctx, args...)
	}
	return tx.tx.QueryContext(tx.qctx, query, args...)
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

// atomic runs one mutating method under a savepoint, so that a method
// that fails halfway leaves nothing behind even if the caller ignores the
// error and commits: no data row ever changes without its audit record.
func (tx *Tx) atomic(fn func() error) error {
	if err := tx.writable(); err != nil {
		return err
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
			tx.head = nil // read it again
		}
		return err
	}
	if _, err := tx.exec("RELEASE ledger_op"); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

func notFound(what string) error { return fmt.Errorf("%w: %s", ErrNotFound, what) }

// ---- sold keys

const keyCols = "license_key, licensee, type, product, modules, languages, expires, maintenance, created, updated"

func scanKey(row interface{ Scan(...any) error }) (*SoldKey, error) {
	var k SoldKey
	var typ, modules, languages, created, updated string
	var expires, maintenance sql.NullString
	if err := row.Scan(&k.Key, &k.Licensee, &typ, &k.Product, &modules, &languages, &expires, &maintenance, &created, &updated); err != nil {
		return nil, err
	}
	k.Type = LicenseType(typ)
	if err := json.Unmarshal([]byte(modules), &k.Modules); err != nil {
		return nil, fmt.Errorf("ledger: key modules: %w", err)
	}
	if err := json.Unmarshal([]byte(languages), &k.Languages); err != nil {
		return nil, fmt.Errorf("ledger: key languages: %w", err)
	}
	var err error
	if k.Expires, err = parseDate(expires.String); err != nil {
		return nil, fmt.Errorf("ledger: key expiry: %w", err)
	}
	if k.Maintenance, err = parseDate(maintenance.String); err != nil {
		return nil, fmt.Errorf("ledger: key maintenance date: %w", err)
	}
	if k.Created, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("ledger: key created time: %w", err)
	}
	if k.Updated, err = parseTime(updated); err != nil {
		return nil, fmt.Errorf("ledger: key updated time: %w", err)
	}
	return &k, nil
}

// Key returns the sold key, compared exactly (case sensitive). It
// returns an error wrapping ErrNotFound if the key was never sold.
func (tx *Tx) Key(licenseKey string) (*SoldKey, error) {
	return keyResult(scanKey(tx.queryRow(keyQuery, licenseKey)))
}

const keyQuery = "SELECT " + keyCols + " FROM sold_keys WHERE license_key = ?"

// Key returns the sold key as the ledger records it now, as Tx.Key does
// but without a transaction of its own: one statement sees one
// consistent state, which is all a single read needs.
func (l *Ledger) Key(ctx context.Context, licenseKey string) (*SoldKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	qctx := context.WithoutCancel(ctx) // no watcher goroutine (see Tx.qctx)
	st, err := l.stmt(qctx, keyQuery)
	if err != nil {
		return nil, fmt.Errorf("ledger: reading key: %w", err)
	}
	return keyResult(scanKey(st.QueryRowContext(qctx, licenseKey)))
}

func keyResult(k *SoldKey, err error) (*SoldKey, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("license key")
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading key: %w", err)
	}
	return k, nil
}

// Keys returns every sold key, ordered by key.
func (tx *Tx) Keys() ([]SoldKey, error) {
	rows, err := tx.query("SELECT " + keyCols + " FROM sold_keys ORDER BY license_key")
	if err != nil {
		return nil, fmt.Errorf("ledger: reading keys: %w", err)
	}
	defer rows.Close()
	var out []SoldKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("ledger: reading keys: %w", err)
		}
		out = append(out, *k)
	}
	return out, rows.Err()
}

// PutKey records a sold key, inserting it or updating what was sold
// (licensee, type, product, modules, languages, dates). Storing the same
// content again changes nothing and writes no audit record; changed
// reports whether anything was written. k.Created and k.Updated are set.
func (tx *Tx) PutKey(k *SoldKey) (changed bool, err error) {
	err = tx.atomic(func() (err error) {
		changed, err = tx.putKey(k)
		return err
	})
	return changed, err
}

func (tx *Tx) putKey(k *SoldKey) (changed bool, err error) {
	if err := validateKey(k); err != nil {
		return false, err
	}
	old, err := tx.Key(k.Key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if old != nil && old.sameContent(k) {
		k.Created, k.Updated = old.Created, old.Updated
		return false, nil
	}
	modules, err := json.Marshal(nonNilModules(k.Modules))
	if err != nil {
		return false, fmt.Errorf("ledger: encoding modules: %w", err)
	}
	langs := k.Languages
	if langs == nil {
		langs = []string{}
	}
	languages, err := json.Marshal(langs)
	if err != nil {
		return false, fmt.Errorf("ledger: encoding languages: %w", err)
	}
	now := formatTime(tx.now)
	ref := rowKey{"sold_keys", k.Key}
	if old == nil {
		_, err = tx.exec("INSERT INTO sold_keys ("+keyCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			k.Key, k.Licensee, string(k.Type), k.Product, string(modules), string(languages),
			formatDate(k.Expires), formatDate(k.Maintenance), now, now)
		if err != nil {
			return false, fmt.Errorf("ledger: recording key: %w", err)
		}
		k.Created, k.Updated = tx.now, tx.now
		return true, tx.audit(ActionKeyCreate, k.Key, map[string]any{"type": k.Type}, ref)
	}
	_, err = tx.exec(
		"UPDATE sold_keys SET licensee = ?, type = ?, product = ?, modules = ?, languages = ?, expires = ?, maintenance = ?, updated = ? WHERE license_key = ?",
		k.Licensee, string(k.Type), k.Product, string(modules), string(languages),
		formatDate(k.Expires), formatDate(k.Maintenance), now, k.Key)
	if err != nil {
		return false, fmt.Errorf("ledger: updating key: %w", err)
	}
	k.Created, k.Updated = old.Created, tx.now
	return true, tx.audit(ActionKeyUpdate, k.Key, map[string]any{"changed": old.changedFields(k)}, ref)
}

func nonNilModules(m map[string]Quota) map[string]Quota {
	if m == nil {
		return map[string]Quota{}
	}
	return m
}

// ImportResult says what an import changed. Each list holds license keys
// in the order of the import.
type ImportResult struct {
	Created   []string
	Updated   []string
	Unchanged []string
}

// ImportKeys records keys from a sales export (see ImportCSV and
// ImportJSON), all within the caller's transaction: if any key is
// refused, the Update fails and nothing is recorded. source labels the
// import in the audit log (such as the file name). Keys whose content is
// already recorded are left alone; when anything changed, a summary
// record follows the per-key records.
func (tx *Tx) ImportKeys(source string, keys []SoldKey) (res *ImportResult, err error) {
	err = tx.atomic(func() (err error) {
		res, err = tx.importKeys(source, keys)
		return err
	})
	return res, err
}

func (tx *Tx) importKeys(source string, keys []SoldKey) (*ImportResult, error) {
	if err := checkText("source", source, maxTextLen, true); err != nil {
		return nil, err
	}
	seen := make(map[string]int, len(keys))
	for i := range keys {
		if j, dup := seen[keys[i].Key]; dup {
			return nil, &ValidationError{Record: fmt.Sprintf("key %d", i+1), Field: "license_key", Err: fmt.Errorf("duplicate of key %d", j+1)}
		}
		seen[keys[i].Key] = i
	}
	res := &ImportResult{}
	for i := range keys {
		existed := true
		if _, err := tx.Key(keys[i].Key); errors.Is(err, ErrNotFound) {
			existed = false
		} else if err != nil {
			return nil, err
		}
		changed, err := tx.PutKey(&keys[i])
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) && ve.Record == "" {
				ve.Record = fmt.Sprintf("key %d", i+1)
			}
			return nil, err
		}
		switch {
		case !changed:
			res.Unchanged = append(res.Unchanged, keys[i].Key)
		case existed:
			res.Updated = append(res.Updated, keys[i].Key)
		default:
			res.Created = append(res.Created, keys[i].Key)
		}
	}
	if len(res.Created)+len(res.Updated) > 0 {
		err := tx.audit(ActionKeyImport, source, map[string]any{
			"created": len(res.Created), "updated": len(res.Updated), "unchanged": len(res.Unchanged),
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ---- issued licenses

const licenseCols = "license_id, license_key, request_id, file, issued, operator, status"

func scanLicense(row interface{ Scan(...any) error }) (*IssuedLicense, error) {
	var l IssuedLicense
	var issued, status string
	if err := row.Scan(&l.ID, &l.Key, &l.RequestID, &l.File, &issued, &l.Operator, &status); err != nil {
		return nil, err
	}
	l.Status = LicenseStatus(status)
	var err error
	if l.Issued, err = parseTime(issued); err != nil {
		return nil, fmt.Errorf("ledger: license issued time: %w", err)
	}
	return &l, nil
}

func (tx *Tx) queryLicense(where string, arg any) (*IssuedLicense, error) {
	l, err := scanLicense(tx.queryRow("SELECT "+licenseCols+" FROM issued_licenses WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("license")
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading license: %w", err)
	}
	return l, nil
}

// License returns the issued license with this ID (ErrNotFound).
func (tx *Tx) License(licenseID string) (*IssuedLicense, error) {
	return tx.queryLicense("license_id = ?", licenseID)
}

// LicenseByRequest returns the license issued in answer to a request
// (ErrNotFound if none), whatever its status now, so that a replayed
// request gets the same license back instead of a second activation.
func (tx *Tx) LicenseByRequest(requestID string) (*IssuedLicense, error) {
	return tx.queryLicense("request_id = ?", requestID)
}

// Licenses returns every license issued for a key, oldest first.
func (tx *Tx) Licenses(licenseKey string) ([]IssuedLicense, error) {
	rows, err := tx.query("SELECT "+licenseCols+" FROM issued_licenses WHERE license_key = ? ORDER BY issued, license_id", licenseKey)
	if err != nil {
		return nil, fmt.Errorf("ledger: reading licenses: %w", err)
	}
	defer rows.Close()
	var out []IssuedLicense
	for rows.Next() {
		l, err := scanLicense(rows)
		if err != nil {
			return nil, fmt.Errorf("ledger: reading licenses: %w", err)
		}
		out = append(out, *l)
	}
	return out, rows.Err()
}

// ---- activations

const activationCols = "id, license_key, fingerprint, license_id, request_id, state, created, ended"

func scanActivation(row interface{ Scan(...any) error }) (*Activation, error) {
	var a Activation
	var fp, state, created string
	var ended sql.NullString
	if err := row.Scan(&a.ID, &a.Key, &fp, &a.LicenseID, &a.RequestID, &state, &created, &ended); err != nil {
		return nil, err
	}
	a.Fingerprint = json.RawMessage(fp)
	a.State = ActivationState(state)
	var err error
	if a.Created, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("ledger: activation time: %w", err)
	}
	if ended.Valid {
		if a.Ended, err = parseTime(ended.String); err != nil {
			return nil, fmt.Errorf("ledger: activation end time: %w", err)
		}
	}
	return &a, nil
}

func (tx *Tx) queryActivation(where string, arg any) (*Activation, error) {
	a, err := scanActivation(tx.queryRow("SELECT "+activationCols+" FROM activations WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("activation")
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading activation: %w", err)
	}
	return a, nil
}

// ActiveActivation returns the key's active activation, or an error
// wrapping ErrNotFound if the key is not active on any machine.
func (tx *Tx) ActiveActivation(licenseKey string) (*Activation, error) {
	return tx.queryActivation("license_key = ? AND state = 'active'", licenseKey)
}

// ActivationByLicense returns the activation a license was issued for.
func (tx *Tx) ActivationByLicense(licenseID string) (*Activation, error) {
	return tx.queryActivation("license_id = ?", licenseID)
}

// Activations returns the key's activation history, oldest first.
func (tx *Tx) Activations(licenseKey string) ([]Activation, error) {
	rows, err := tx.query("SELECT "+activationCols+" FROM activations WHERE license_key = ? ORDER BY id", licenseKey)
	if err != nil {
		return nil, fmt.Errorf("ledger: reading activations: %w", err)
	}
	defer rows.Close()
	var out []Activation
	for rows.Next() {
		a, err := scanActivation(rows)
		if err != nil {
			return nil, fmt.Errorf("ledger: reading activations: %w", err)
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// Activate records that the key in a was activated on the machine in
// a.Fingerprint, with the license lic issued for it, and audits both in
// one record. The key must exist, be an OEM key and have no active
// activation (ErrAlreadyActive: one key, one machine); the license and
// request IDs must be new (ErrDuplicate).
//
// The caller sets a.Key, a.Fingerprint, lic.ID, lic.RequestID and
// lic.File; a.LicenseID, a.RequestID and lic.Key may be left empty and
// are then filled in. The ledger sets the IDs, times, states and the
// operator on both values.
func (tx *Tx) Activate(a *Activation, lic *IssuedLicense) error {
	return tx.atomic(func() error { return tx.activate(a, lic) })
}

func (tx *Tx) activate(a *Activation, lic *IssuedLicense) error {
	refs, err := tx.insertActivation(a, lic)
	if err != nil {
		return err
	}
	return tx.auditRefs(ActionActivate, a.Key,
		map[string]any{"license_id": lic.ID, "request_id": lic.RequestID, "activation_id": a.ID}, refs)
}

// insertActivation checks and inserts a new license and its activation,
// without auditing (the caller writes one record for the whole change).
func (tx *Tx) insertActivation(a *Activation, lic *IssuedLicense) ([]rowRef, error) {
	if a == nil || lic == nil {
		return nil, errors.New("ledger: Activate needs an activation and a license")
	}
	if lic.Key == "" {
		lic.Key = a.Key
	}
	if a.LicenseID == "" {
		a.LicenseID = lic.ID
	}
	if a.RequestID == "" {
		a.RequestID = lic.RequestID
	}
	switch {
	case lic.Key != a.Key:
		return nil, invalid("license_key", "the license and the activation name different keys")
	case a.LicenseID != lic.ID:
		return nil, invalid("license_id", "the activation names another license")
	case a.RequestID != lic.RequestID:
		return nil, invalid("request_id", "the activation and the license answer different requests")
	}
	if err := checkText("license_key", a.Key, maxKeyLen, false); err != nil {
		return nil, err
	}
	if err := checkID("license_id", lic.ID); err != nil {
		return nil, err
	}
	if err := checkID("request_id", lic.RequestID); err != nil {
		return nil, err
	}
	if len(lic.File) == 0 || len(lic.File) > maxLicenseFileBytes {
		return nil, invalid("license_file", "must be 1 to %d bytes", maxLicenseFileBytes)
	}
	if err := checkFingerprint(a.Fingerprint); err != nil {
		return nil, err
	}

	// The key's type, whether it is active, and whether the IDs are new,
	// in one statement.
	var typ sql.NullString
	var active bool
	var n int
	if err := tx.queryRow(`SELECT
	(SELECT type FROM sold_keys WHERE license_key = ?1),
	EXISTS (SELECT 1 FROM activations WHERE license_key = ?1 AND state = 'active'),
	(SELECT count(*) FROM issued_licenses WHERE license_id = ?2 OR request_id = ?3) +
	(SELECT count(*) FROM activations WHERE license_id = ?2 OR request_id = ?3)`,
		a.Key, lic.ID, lic.RequestID).Scan(&typ, &active, &n); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	switch {
	case !typ.Valid:
		return nil, notFound("license key")
	case !LicenseType(typ.String).OfflineActivation():
		return nil, fmt.Errorf("%w (this key is %s)", ErrOfflineNotAllowed, typ.String)
	case active:
		return nil, ErrAlreadyActive
	case n != 0:
		return nil, fmt.Errorf("%w: license ID or request ID", ErrDuplicate)
	}

	// RETURNING gives the rows as written, for their audit hashes.
	now := formatTime(tx.now)
	licT, actT := tableSpec("issued_licenses"), tableSpec("activations")
	licVals, err := scanRowValues(tx.queryRow("INSERT INTO issued_licenses ("+licenseCols+") VALUES (?, ?, ?, ?, ?, ?, 'active') RETURNING "+licT.cols,
		lic.ID, lic.Key, lic.RequestID, lic.File, now, tx.operator), columnCount(licT.cols))
	if err != nil {
		return nil, tx.constraintError("recording license", err)
	}
	actVals, err := scanRowValues(tx.queryRow(
		"INSERT INTO activations (license_key, fingerprint, license_id, request_id, state, created) VALUES (?, ?, ?, ?, 'active', ?) RETURNING "+actT.cols,
		a.Key, string(a.Fingerprint), lic.ID, lic.RequestID, now), columnCount(actT.cols))
	if err != nil {
		return nil, tx.constraintError("recording activation", err)
	}
	id, ok := actVals[0].(int64)
	if !ok {
		return nil, fmt.Errorf("ledger: recording activation: id is %T", actVals[0])
	}
	a.ID = id
	licRef, err := makeRowRef(licT.name, lic.ID, licVals)
	if err != nil {
		return nil, err
	}
	actRef, err := makeRowRef(actT.name, a.ID, actVals)
	if err != nil {
		return nil, err
	}
	a.State, a.Created, a.Ended = StateActive, tx.now, time.Time{}
	lic.Status, lic.Issued, lic.Operator = LicenseActive, tx.now, tx.operator
	return []rowRef{licRef, actRef}, nil
}

// constraintError maps a constraint violation that slipped past the
// explicit checks (it should not) to the sentinel a caller can test.
func (tx *Tx) constraintError(what string, err error) error {
	if isConstraint(err) {
		return fmt.Errorf("%w (%s: %v)", ErrAlreadyActive, what, err)
	}
	return fmt.Errorf("ledger: %s: %w", what, err)
}

// endLicense moves an active license to status and its activation (if
// still active) to state. It returns the activation ID touched, or 0.
func (tx *Tx) endLicense(licenseID string, status LicenseStatus, state ActivationState) (int64, error) {
	now := formatTime(tx.now)
	if _, err := tx.exec("UPDATE issued_licenses SET status = ? WHERE license_id = ?", string(status), licenseID); err != nil {
		return 0, fmt.Errorf("ledger: updating license: %w", err)
	}
	var id int64
	err := tx.queryRow(
		"UPDATE activations SET state = ?, ended = ? WHERE license_id = ? AND state = 'active' RETURNING id",
		string(state), now, licenseID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: updating activation: %w", err)
	}
	return id, nil
}

// Supersede marks an active license superseded, and its activation too:
// the machine asked again (a lost file) and gets a new license, which the
// caller records with Activate in the same transaction.
func (tx *Tx) Supersede(licenseID string) error {
	return tx.atomic(func() error { return tx.supersede(licenseID) })
}

func (tx *Tx) supersede(licenseID string) error {
	lic, err := tx.License(licenseID)
	if err != nil {
		return err
	}
	if lic.Status != LicenseActive {
		return fmt.Errorf("%w: license is %s", ErrNotActive, lic.Status)
	}
	aid, err := tx.endLicense(licenseID, LicenseSuperseded, StateSuperseded)
	if err != nil {
		return err
	}
	rows := []rowKey{{"issued_licenses", licenseID}}
	if aid != 0 {
		rows = append(rows, rowKey{"activations", aid})
	}
	return tx.audit(ActionSupersede, licenseID, map[string]any{"license_key": lic.Key}, rows...)
}

// Transfer moves a key to new hardware: the key's active activation
// becomes transferred-away and its license superseded, then a and lic
// are recorded as by Activate, with a transfer record; all audited as one
// record. reason is required. The old license is not revoked: call Revoke
// as well to put it on the revocation list.
func (tx *Tx) Transfer(reason string, a *Activation, lic *IssuedLicense) (t *Transfer, err error) {
	err = tx.atomic(func() (err error) {
		t, err = tx.transfer(reason, a, lic)
		return err
	})
	return t, err
}

func (tx *Tx) transfer(reason string, a *Activation, lic *IssuedLicense) (*Transfer, error) {
	if err := checkText("reason", reason, maxTextLen, false); err != nil {
		return nil, err
	}
	if a == nil || lic == nil {
		return nil, errors.New("ledger: Transfer needs an activation and a license")
	}
	old, err := tx.ActiveActivation(a.Key)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: the key has no active activation to transfer", ErrNotActive)
	}
	if err != nil {
		return nil, err
	}
	if _, err := tx.endLicense(old.LicenseID, LicenseSuperseded, StateTransferredAway); err != nil {
		return nil, err
	}
	// The rows are hashed below, in the order the record always listed
	// them.
	if _, err := tx.insertActivation(a, lic); err != nil {
		return nil, err
	}
	t := &Transfer{Key: a.Key, FromLicense: old.LicenseID, ToLicense: lic.ID, Time: tx.now, Operator: tx.operator, Reason: reason}
	if err := tx.queryRow(
		"INSERT INTO transfers (license_key, from_license, to_license, time, operator, reason) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
		t.Key, t.FromLicense, t.ToLicense, formatTime(tx.now), tx.operator, reason).Scan(&t.ID); err != nil {
		return nil, fmt.Errorf("ledger: recording transfer: %w", err)
	}
	err = tx.audit(ActionTransfer, a.Key,
		map[string]any{"from_license": t.FromLicense, "to_license": t.ToLicense, "request_id": lic.RequestID, "reason": reason},
		rowKey{"issued_licenses", old.LicenseID}, rowKey{"activations", old.ID},
		rowKey{"issued_licenses", lic.ID}, rowKey{"activations", a.ID}, rowKey{"transfers", t.ID})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Transfers returns the key's transfers, oldest first.
func (tx *Tx) Transfers(licenseKey string) ([]Transfer, error) {
	rows, err := tx.query("SELECT id, license_key, from_license, to_license, time, operator, reason FROM transfers WHERE license_key = ? ORDER BY id", licenseKey)
	if err != nil {
		return nil, fmt.Errorf("ledger: reading transfers: %w", err)
	}
	defer rows.Close()
	var out []Transfer
	for rows.Next() {
		var t Transfer
		var ts string
		if err := rows.Scan(&t.ID, &t.Key, &t.FromLicense, &t.ToLicense, &ts, &t.Operator, &t.Reason); err != nil {
			return nil, fmt.Errorf("ledger: reading transfers: %w", err)
		}
		if t.Time, err = parseTime(ts); err != nil {
			return nil, fmt.Errorf("ledger: transfer time: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ---- revocations

// Revoke revokes an issued license (whatever its status, unless already
// revoked: ErrDuplicate), ends its activation if it was active, and
// records the revocation for the next CRL. reason is required.
func (tx *Tx) Revoke(licenseID, reason string) (r *Revocation, err error) {
	err = tx.atomic(func() (err error) {
		r, err = tx.revoke(licenseID, reason)
		return err
	})
	return r, err
}

func (tx *Tx) revoke(licenseID, reason string) (*Revocation, error) {
	if err := checkText("reason", reason, maxTextLen, false); err != nil {
		return nil, err
	}
	lic, err := tx.License(licenseID)
	if err != nil {
		return nil, err
	}
	if lic.Status == LicenseRevoked {
		return nil, fmt.Errorf("%w: license already revoked", ErrDuplicate)
	}
	aid, err := tx.endLicense(licenseID, LicenseRevoked, StateRevoked)
	if err != nil {
		return nil, err
	}
	r := &Revocation{LicenseID: licenseID, Reason: reason, Time: tx.now, Operator: tx.operator}
	if _, err := tx.exec("INSERT INTO revocations (license_id, reason, time, operator) VALUES (?, ?, ?, ?)",
		licenseID, reason, formatTime(tx.now), tx.operator); err != nil {
		return nil, fmt.Errorf("ledger: recording revocation: %w", err)
	}
	rows := []rowKey{{"issued_licenses", licenseID}, {"revocations", licenseID}}
	if aid != 0 {
		rows = append(rows, rowKey{"activations", aid})
	}
	if err := tx.audit(ActionRevoke, licenseID, map[string]any{"license_key": lic.Key, "reason": reason}, rows...); err != nil {
		return nil, err
	}
	return r, nil
}

// Revocations returns every revocation, in the order they were made.
func (tx *Tx) Revocations() ([]Revocation, error) {
	rows, err := tx.query("SELECT license_id, reason, time, operator FROM revocations ORDER BY time, license_id")
	if err != nil {
		return nil, fmt.Errorf("ledger: reading revocations: %w", err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var r Revocation
		var ts string
		if err := rows.Scan(&r.LicenseID, &r.Reason, &ts, &r.Operator); err != nil {
			return nil, fmt.Errorf("ledger: reading revocations: %w", err)
		}
		if r.Time, err = parseTime(ts); err != nil {
			return nil, fmt.Errorf("ledger: revocation time: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// NextCRLNumber returns a CRL number larger than any returned before
// (1, 2, 3, ...), so machines can refuse an older revocation list. The
// number is consumed, and audited, even if the caller then fails.
func (tx *Tx) NextCRLNumber() (n uint64, err error) {
	err = tx.atomic(func() (err error) {
		n, err = tx.nextCRLNumber()
		return err
	})
	return n, err
}

func (tx *Tx) nextCRLNumber() (uint64, error) {
	var n int64
	if err := tx.queryRow(
		"INSERT INTO crl_counter (id, number) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET number = number + 1 RETURNING number").Scan(&n); err != nil {
		return 0, fmt.Errorf("ledger: next CRL number: %w", err)
	}
	if err := tx.audit(ActionCRLNumber, "crl", map[string]any{"number": n}, rowKey{"crl_counter", int64(1)}); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// Log appends a free-form record to the audit log, for events the policy
// wants on record that change no table (a refused request, a license
// re-sent for a replayed request). action must be lower-case letters,
// digits, '.' and '-', and not one of the ledger's own actions; details
// must marshal to a JSON object (nil for none).
func (tx *Tx) Log(action, subject string, details map[string]any) error {
	return tx.atomic(func() error { return tx.log(action, subject, details) })
}

func (tx *Tx) log(action, subject string, details map[string]any) error {
	if err := checkModuleName(action); err != nil || slices.Contains(builtinActions, action) {
		return invalid("action", "%q is not a valid action for Log", printable(action))
	}
	if err := checkText("subject", subject, maxTextLen, true); err != nil {
		return err
	}
	if _, ok := details["rows"]; ok {
		return invalid("details", `"rows" is reserved for the ledger`)
	}
	d := make(map[string]any, len(details))
	for k, v := range details {
		d[k] = v
	}
	return tx.audit(action, subject, d)
}
