package ledger

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Activations: which machine each key is activated on, and how it got
// there (first activation, re-issue, transfer). The ledger enforces its
// storage invariants here: the key exists, at most one active activation
// per key, license and request IDs recorded once. Which of these writes
// a request deserves is decided by the issuing rules (package signer).

var activationCols = tableSpec("activations").cols

func scanActivation(row scanner) (*Activation, error) {
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
		return nil, fmt.Errorf("activation time: %w", err)
	}
	if ended.Valid {
		if a.Ended, err = parseTime(ended.String); err != nil {
			return nil, fmt.Errorf("activation end time: %w", err)
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
	return queryAll(tx, "reading activations", scanActivation,
		"SELECT "+activationCols+" FROM activations WHERE license_key = ? ORDER BY id", licenseKey)
}

// KeyState is what the ledger records about one license key and one
// request, read together for an issuing decision.
type KeyState struct {
	// Sold is the key as sold; nil if it was never sold.
	Sold *SoldKey
	// Answer is the license already issued for the request ID, whatever
	// its key and status now, and AnswerActivation the activation
	// recorded with it (the fingerprint the request carried); both nil
	// if the request was never answered.
	Answer           *IssuedLicense
	AnswerActivation *Activation
	// Active is the key's active activation and ActiveLicense its
	// license; both nil when the key is active on no machine.
	Active        *Activation
	ActiveLicense *IssuedLicense
	// Pool is the key's pool membership; nil when it is in no pool.
	Pool *PoolMember
}

// keyStateQuery reads, in one statement, the sale of key ?1, its pool
// membership, the license answering request ?2 and the key's active
// license: what an issuing decision needs, for the common case (a first
// activation) without another statement.
var keyStateQuery = `SELECT ` + soldKeyColsOf + `, pk.pool, pk.role, pk.added, pk.released,
	(SELECT license_id FROM issued_licenses WHERE request_id = ?2),
	(SELECT license_id FROM activations WHERE license_key = ?1 AND state = 'active')
FROM (SELECT 1) AS one
LEFT JOIN sold_keys sk ON sk.license_key = ?1
LEFT JOIN pool_keys pk ON pk.license_key = ?1`

// KeyState reads what the ledger records about licenseKey and requestID.
func (tx *Tx) KeyState(licenseKey, requestID string) (*KeyState, error) {
	var kr keyRow
	var pool, role, added, released, answer, active sql.NullString
	dest := append(kr.dest(), &pool, &role, &added, &released, &answer, &active)
	if err := tx.queryRow(keyStateQuery, licenseKey, requestID).Scan(dest...); err != nil {
		return nil, fmt.Errorf("ledger: reading the key's state: %w", err)
	}
	var st KeyState
	var err error
	if st.Sold, err = kr.soldKey(); err != nil {
		return nil, fmt.Errorf("ledger: reading key: %w", err)
	}
	if answer.Valid {
		if st.Answer, err = tx.License(answer.String); err != nil {
			return nil, err
		}
		if st.AnswerActivation, err = tx.ActivationByLicense(answer.String); err != nil {
			return nil, err
		}
	}
	if st.Sold == nil {
		return &st, nil
	}
	if pool.Valid {
		st.Pool = &PoolMember{Key: licenseKey, Pool: pool.String}
		if err := st.Pool.set(role.String, added.String, released); err != nil {
			return nil, fmt.Errorf("ledger: reading pool key: %w", err)
		}
	}
	if active.Valid {
		if st.ActiveLicense, err = tx.License(active.String); err != nil {
			return nil, err
		}
		if st.Active, err = tx.ActivationByLicense(active.String); err != nil {
			return nil, err
		}
	}
	return &st, nil
}

// Activate records that the key in a was activated on the machine in
// a.Fingerprint, with the license lic issued for it, and audits both in
// one record. The key must exist (ErrNotFound) and have no active
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

// checkActivation checks the values of a new activation and its license
// and fills in what the caller may leave empty.
func checkActivation(a *Activation, lic *IssuedLicense) error {
	if a == nil || lic == nil {
		return errors.New("ledger: an activation needs an Activation and an IssuedLicense")
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
		return invalid("license_key", "the license and the activation name different keys")
	case a.LicenseID != lic.ID:
		return invalid("license_id", "the activation names another license")
	case a.RequestID != lic.RequestID:
		return invalid("request_id", "the activation and the license answer different requests")
	}
	if err := checkText("license_key", a.Key, maxKeyLen, false); err != nil {
		return err
	}
	if err := checkID("license_id", lic.ID); err != nil {
		return err
	}
	if err := checkID("request_id", lic.RequestID); err != nil {
		return err
	}
	if len(lic.File) == 0 || len(lic.File) > maxLicenseFileBytes {
		return invalid("license_file", "must be 1 to %d bytes", maxLicenseFileBytes)
	}
	return checkFingerprint(a.Fingerprint)
}

// insertActivation checks and inserts a new license and its activation,
// without auditing (the caller writes one record for the whole change).
func (tx *Tx) insertActivation(a *Activation, lic *IssuedLicense) ([]rowRef, error) {
	if err := checkActivation(a, lic); err != nil {
		return nil, err
	}
	// The license goes in only if the key's invariants hold, checked by
	// the same statement: the key was sold, has no active activation, and
	// is neither a pool's source nor a released pool key. When nothing
	// goes in, activationRefusal says which; an ID recorded before is a
	// constraint violation.
	//
	// The audit record hashes each row from the values the statement
	// bound, in the table's column order, one slice for both: the tables
	// store values as given (STRICT tables on SQLite, typed columns on
	// PostgreSQL), as Verify checks by hashing them as stored. Reading
	// the rows back (RETURNING every column) cost more than both inserts'
	// own work apart from the database's.
	now := formatTime(tx.now)
	licVals := []any{lic.ID, lic.Key, lic.RequestID, lic.File, now, tx.operator, string(LicenseActive)}
	res, err := tx.exec(`INSERT INTO issued_licenses (`+licenseCols+`)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
WHERE EXISTS (SELECT 1 FROM sold_keys WHERE license_key = ?2)
AND NOT EXISTS (SELECT 1 FROM activations WHERE license_key = ?2 AND state = 'active')
AND NOT EXISTS (SELECT 1 FROM pool_keys WHERE license_key = ?2 AND (role = 'source' OR released IS NOT NULL))`,
		licVals...)
	if err != nil {
		return nil, constraintError("recording license", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("ledger: recording license: %w", err)
	} else if n == 0 {
		return nil, tx.activationRefusal(a.Key)
	}
	// The columns of activations: id (the database's), these, and ended.
	actVals := []any{nil, a.Key, string(a.Fingerprint), lic.ID, lic.RequestID, string(StateActive), now, nil}
	if err := tx.queryRow("INSERT INTO activations (license_key, fingerprint, license_id, request_id, state, created) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
		actVals[1:7]...).Scan(&a.ID); err != nil {
		return nil, constraintError("recording activation", err)
	}
	actVals[0] = a.ID
	licRef, err := makeRowRef("issued_licenses", lic.ID, licVals)
	if err != nil {
		return nil, err
	}
	actRef, err := makeRowRef("activations", a.ID, actVals)
	if err != nil {
		return nil, err
	}
	a.State, a.Created, a.Ended = StateActive, tx.now, time.Time{}
	lic.Status, lic.Issued, lic.Operator = LicenseActive, tx.now, tx.operator
	return []rowRef{licRef, actRef}, nil
}

// activationRefusal says why the key may not be activated: it was never
// sold, it is active, or its CALs are a pool's.
func (tx *Tx) activationRefusal(licenseKey string) error {
	var exists, active, pooled bool
	if err := tx.queryRow(`SELECT
	EXISTS (SELECT 1 FROM sold_keys WHERE license_key = ?1),
	EXISTS (SELECT 1 FROM activations WHERE license_key = ?1 AND state = 'active'),
	EXISTS (SELECT 1 FROM pool_keys WHERE license_key = ?1 AND (role = 'source' OR released IS NOT NULL))`,
		licenseKey).Scan(&exists, &active, &pooled); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	switch {
	case !exists:
		return notFound("license key")
	case active:
		return ErrAlreadyActive
	case pooled:
		// Its CALs are a pool's (a source), or back in the pool (released).
		return fmt.Errorf("%w: a pool's source or released key does not activate", ErrPooled)
	}
	return errors.New("ledger: recording license: refused, for no reason found")
}

// constraintError maps a constraint violation to the sentinel a caller
// can test: a unique ID recorded before (ErrDuplicate), or the index that
// allows one active activation per key (ErrAlreadyActive: the explicit
// checks should have refused it first).
func constraintError(what string, err error) error {
	if !isConstraint(err) {
		return fmt.Errorf("ledger: %s: %w", what, err)
	}
	// SQLite names the index's column, PostgreSQL the index.
	if msg := err.Error(); strings.Contains(msg, "activations.license_key") || strings.Contains(msg, "activations_one_active") {
		return fmt.Errorf("%w (%s: %v)", ErrAlreadyActive, what, err)
	}
	return fmt.Errorf("%w (%s: %v)", ErrDuplicate, what, err)
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
// are recorded as by Activate, with a transfer record, all audited as one
// record. reason is required. With revokeOld, the old license is then
// revoked as by Revoke (a second audit record), so that it goes on the
// next revocation list.
func (tx *Tx) Transfer(reason string, a *Activation, lic *IssuedLicense, revokeOld bool) (t *Transfer, err error) {
	err = tx.atomic(func() (err error) {
		if t, err = tx.transfer(reason, a, lic); err != nil || !revokeOld {
			return err
		}
		_, err = tx.revoke(t.FromLicense, "key transferred to new hardware: "+reason)
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

func scanTransfer(row scanner) (*Transfer, error) {
	var t Transfer
	var ts string
	if err := row.Scan(&t.ID, &t.Key, &t.FromLicense, &t.ToLicense, &ts, &t.Operator, &t.Reason); err != nil {
		return nil, err
	}
	var err error
	if t.Time, err = parseTime(ts); err != nil {
		return nil, fmt.Errorf("transfer time: %w", err)
	}
	return &t, nil
}

// Transfers returns the key's transfers, oldest first.
func (tx *Tx) Transfers(licenseKey string) ([]Transfer, error) {
	return queryAll(tx, "reading transfers", scanTransfer,
		"SELECT "+tableSpec("transfers").cols+" FROM transfers WHERE license_key = ? ORDER BY id", licenseKey)
}
