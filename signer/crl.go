package signer

import (
	"slices"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// PublishCRL signs the revocation list of every license the ledger
// records as revoked, under the next list number, which it takes from the
// ledger in tx (a write transaction: the number is audited and never
// handed out twice). It returns the list and the revoked.olr bytes.
func PublishCRL(tx *ledger.Tx, k *Keys) (*olr.RevocationList, []byte, error) {
	revs, err := tx.Revocations()
	if err != nil {
		return nil, nil, err
	}
	n, err := tx.NextCRLNumber()
	if err != nil {
		return nil, nil, err
	}
	crl := &olr.RevocationList{KeyID: k.KeyID, Number: n, Issued: tx.Now().UTC().Truncate(time.Second)}
	for _, r := range revs {
		crl.Revoked = append(crl.Revoked, r.LicenseID)
	}
	slices.Sort(crl.Revoked)
	data, err := olr.SignRevocationList(crl, k.Signing)
	if err != nil {
		return nil, nil, err
	}
	return crl, data, nil
}
