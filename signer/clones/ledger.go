package clones

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/signer/ledger"
)

// AddLedger adds every activation the ledger records, active or ended,
// read in tx, and returns how many it read. source names each in the
// report. An activation whose recorded fingerprint is not a request's
// fingerprint (a damaged row, which ledger verify reports too) is listed
// among the failures, and the audit goes on.
func (a *Detector) AddLedger(tx *ledger.Tx, source func(ledger.Activation) string) (int, error) {
	keys, err := tx.Keys()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		acts, err := tx.Activations(k.Key)
		if err != nil {
			return n, err
		}
		for _, act := range acts {
			n++
			fp, err := ParseRecordedFingerprint(act.Fingerprint)
			if err != nil {
				a.Failed(source(act), err)
				continue
			}
			a.AddRecord(Record{Source: source(act), RequestID: act.RequestID, Key: act.Key,
				Licensee: k.Licensee, Created: act.Created, Fingerprint: *fp})
		}
	}
	return n, nil
}

// ParseRecordedFingerprint reads an activation's recorded fingerprint:
// the JSON of a request's fingerprint, with at least one factor.
func ParseRecordedFingerprint(data []byte) (*fingerprint.Fingerprint, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var fp fingerprint.Fingerprint
	if err := dec.Decode(&fp); err != nil {
		return nil, fmt.Errorf("the recorded fingerprint is not a request's fingerprint: %v", err)
	}
	if len(fp.Factors) == 0 {
		return nil, errors.New("the recorded fingerprint holds no factor")
	}
	return &fp, nil
}
