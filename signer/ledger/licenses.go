package ledger

import (
	"database/sql"
	"errors"
	"fmt"
)

// Issued licenses: every license.olr handed out, never deleted; only its
// status changes (see activations.go and revocations.go).

var licenseCols = tableSpec("issued_licenses").cols

func scanLicense(row scanner) (*IssuedLicense, error) {
	var l IssuedLicense
	var issued, status string
	if err := row.Scan(&l.ID, &l.Key, &l.RequestID, &l.File, &issued, &l.Operator, &status); err != nil {
		return nil, err
	}
	l.Status = LicenseStatus(status)
	var err error
	if l.Issued, err = parseTime(issued); err != nil {
		return nil, fmt.Errorf("license issued time: %w", err)
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
	return queryAll(tx, "reading licenses", scanLicense,
		"SELECT "+licenseCols+" FROM issued_licenses WHERE license_key = ? ORDER BY issued, license_id", licenseKey)
}
