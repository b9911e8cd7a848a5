package ledger

import (
	"fmt"
	"slices"
)

// Revocations, the CRL counter that numbers the signed revocation lists,
// and the free-form records the issuing rules log.

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
	return queryAll(tx, "reading revocations", scanRevocation,
		"SELECT license_id, reason, time, operator FROM revocations ORDER BY time, license_id")
}

func scanRevocation(row scanner) (*Revocation, error) {
	var r Revocation
	var ts string
	if err := row.Scan(&r.LicenseID, &r.Reason, &ts, &r.Operator); err != nil {
		return nil, err
	}
	var err error
	if r.Time, err = parseTime(ts); err != nil {
		return nil, fmt.Errorf("revocation time: %w", err)
	}
	return &r, nil
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
		"INSERT INTO crl_counter (id, number) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET number = crl_counter.number + 1 RETURNING number").Scan(&n); err != nil {
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
	if !validAction(action) || slices.Contains(builtinActions, action) {
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

// validAction reports whether action can name a Log record: 1 to 64
// lower-case ASCII letters, digits, '.' and '-', starting with a letter.
func validAction(action string) bool {
	if action == "" || len(action) > 64 {
		return false
	}
	for i, c := range []byte(action) {
		ok := 'a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '.')
		if !ok {
			return false
		}
	}
	return true
}
