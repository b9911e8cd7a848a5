package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/olr-dev/olr/olr"
)

// Quota is the number of units of a module that were sold, or Unlimited.
type Quota int64

// Unlimited is the quota of a module sold without a limit. It is written
// "unlimited" in import files and in the ledger.
const Unlimited = Quota(olr.Unlimited)

// String returns the decimal quota or "unlimited".
func (q Quota) String() string {
	if q == Unlimited {
		return "unlimited"
	}
	return strconv.FormatInt(int64(q), 10)
}

// MarshalJSON writes a number, or the string "unlimited".
func (q Quota) MarshalJSON() ([]byte, error) {
	if q == Unlimited {
		return []byte(`"unlimited"`), nil
	}
	if q < 0 {
		return nil, fmt.Errorf("ledger: negative quota %d", int64(q))
	}
	return strconv.AppendInt(nil, int64(q), 10), nil
}

// UnmarshalJSON accepts a non-negative integer or the string "unlimited".
func (q *Quota) UnmarshalJSON(b []byte) error {
	v, err := parseQuotaJSON(b)
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// parseQuotaJSON parses a quota in a JSON document: a number written as
// olr.ParseQuota accepts it, or the string "unlimited".
func parseQuotaJSON(b []byte) (Quota, error) {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, err
		}
		if s != "unlimited" {
			return 0, errors.New(`quota must be a number or "unlimited"`)
		}
		return Unlimited, nil
	}
	return parseQuota(string(b))
}

// parseQuota parses the text form with olr's rule.
func parseQuota(s string) (Quota, error) {
	q, err := olr.ParseQuota(s)
	return Quota(q), err
}

// SoldKey is a license key as sold: who bought it, what type it is and
// what it entitles. Licensee and Key are case sensitive and kept exactly.
type SoldKey struct {
	Key      string
	Licensee string
	Type     olr.LicenseType
	Product  string
	// Modules maps a module name (such as "obm", "vmware-vm", "m365") to
	// its quota. A nil map and an empty map mean the same.
	Modules map[string]Quota
	// Languages lists the supported UI languages (BCP 47 tags such as
	// "en", "zh-TW"), in the order sold.
	Languages []string
	// Expires and Maintenance are calendar dates (UTC midnight); the zero
	// time means none.
	Expires     time.Time
	Maintenance time.Time
	// Created and Updated are set by the ledger.
	Created time.Time
	Updated time.Time
}

// soldKeyJSON is the JSON form of a SoldKey: the fields of a JSON sales
// export (ImportJSON) under the same names, with the dates as
// YYYY-MM-DD, left out when none, and the times the ledger set.
type soldKeyJSON struct {
	Key         string           `json:"license_key"`
	Licensee    string           `json:"licensee"`
	Type        olr.LicenseType  `json:"type"`
	Product     string           `json:"product"`
	Modules     map[string]Quota `json:"modules"`
	Languages   []string         `json:"languages"`
	Expires     string           `json:"expires,omitempty"`
	Maintenance string           `json:"maintenance,omitempty"`
	Created     time.Time        `json:"created,omitzero"`
	Updated     time.Time        `json:"updated,omitzero"`
}

// MarshalJSON writes the key with the field names of a JSON sales
// export (license_key, licensee, type, product, modules, languages,
// expires, maintenance), plus created and updated once the ledger has
// set them.
func (k SoldKey) MarshalJSON() ([]byte, error) {
	j := soldKeyJSON{Key: k.Key, Licensee: k.Licensee, Type: k.Type, Product: k.Product,
		Modules: nonNilModules(k.Modules), Languages: k.Languages, Created: k.Created, Updated: k.Updated}
	if j.Languages == nil {
		j.Languages = []string{}
	}
	if !k.Expires.IsZero() {
		j.Expires = k.Expires.Format(dateLayout)
	}
	if !k.Maintenance.IsZero() {
		j.Maintenance = k.Maintenance.Format(dateLayout)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes. It checks the dates'
// form only: ImportJSON is the strict reader of keys from elsewhere.
func (k *SoldKey) UnmarshalJSON(b []byte) error {
	var j soldKeyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	exp, err := parseDate(j.Expires)
	if err != nil {
		return fmt.Errorf("expires: %w", err)
	}
	mnt, err := parseDate(j.Maintenance)
	if err != nil {
		return fmt.Errorf("maintenance: %w", err)
	}
	*k = SoldKey{Key: j.Key, Licensee: j.Licensee, Type: j.Type, Product: j.Product, Modules: j.Modules,
		Languages: j.Languages, Expires: exp, Maintenance: mnt, Created: j.Created, Updated: j.Updated}
	return nil
}

// SameSale reports whether k and o record the same sale, ignoring the
// times the ledger sets.
func (k *SoldKey) SameSale(o *SoldKey) bool {
	return k.Key == o.Key && k.Licensee == o.Licensee && k.Type == o.Type &&
		k.Product == o.Product && maps.Equal(k.Modules, o.Modules) &&
		slices.Equal(k.Languages, o.Languages) &&
		k.Expires.Equal(o.Expires) && k.Maintenance.Equal(o.Maintenance)
}

// changedFields names the fields that differ between k and o, for the
// audit record of an update.
func (k *SoldKey) changedFields(o *SoldKey) []string {
	var f []string
	if k.Licensee != o.Licensee {
		f = append(f, "licensee")
	}
	if k.Type != o.Type {
		f = append(f, "type")
	}
	if k.Product != o.Product {
		f = append(f, "product")
	}
	if !maps.Equal(k.Modules, o.Modules) {
		f = append(f, "modules")
	}
	if !slices.Equal(k.Languages, o.Languages) {
		f = append(f, "languages")
	}
	if !k.Expires.Equal(o.Expires) {
		f = append(f, "expires")
	}
	if !k.Maintenance.Equal(o.Maintenance) {
		f = append(f, "maintenance")
	}
	return f
}

// ActivationState is the life-cycle state of an activation.
type ActivationState string

// Activation states. A key has at most one active activation.
const (
	// StateActive: the key is in use on this machine.
	StateActive ActivationState = "active"
	// StateSuperseded: a newer license was issued for the same machine
	// (a re-request after a lost file).
	StateSuperseded ActivationState = "superseded"
	// StateTransferredAway: the key was moved to other hardware by an
	// explicit transfer.
	StateTransferredAway ActivationState = "transferred-away"
	// StateRevoked: the license of this activation was revoked.
	StateRevoked ActivationState = "revoked"
)

// Activation records that a key was activated on one machine.
type Activation struct {
	ID  int64  `json:"id"` // set by the ledger
	Key string `json:"license_key"`
	// Fingerprint is the JSON text of the machine's raw factors, as they
	// arrived in the encrypted request. The vendor may hold raw values;
	// they never leave the vendor in clear (licenses carry salted hashes).
	Fingerprint json.RawMessage `json:"fingerprint"`
	LicenseID   string          `json:"license_id"`
	RequestID   string          `json:"request_id"`
	State       ActivationState `json:"state"`
	Created     time.Time       `json:"created"`
	// Ended is when the activation stopped being active; zero while it is.
	Ended time.Time `json:"ended,omitzero"`
}

// LicenseStatus is the status of an issued license.
type LicenseStatus string

// Issued license statuses.
const (
	LicenseActive     LicenseStatus = "active"
	LicenseSuperseded LicenseStatus = "superseded"
	LicenseRevoked    LicenseStatus = "revoked"
)

// IssuedLicense is a signed license file the vendor handed out.
type IssuedLicense struct {
	ID  string `json:"license_id"`
	Key string `json:"license_key"`
	// RequestID is the ID of the request this license answers. It is
	// unique, so replaying a request finds the license already issued.
	RequestID string `json:"request_id"`
	// File is the license.olr exactly as issued.
	File     []byte        `json:"file,omitempty"`
	Issued   time.Time     `json:"issued"`   // set by the ledger
	Operator string        `json:"operator"` // set by the ledger
	Status   LicenseStatus `json:"status"`   // set by the ledger
}

// Transfer records the move of a key from one machine to another.
type Transfer struct {
	ID          int64     `json:"id"`
	Key         string    `json:"license_key"`
	FromLicense string    `json:"from_license"`
	ToLicense   string    `json:"to_license"`
	Time        time.Time `json:"time"`
	Operator    string    `json:"operator"`
	Reason      string    `json:"reason"`
}

// Revocation records that a license was revoked.
type Revocation struct {
	LicenseID string    `json:"license_id"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
	Operator  string    `json:"operator"`
}

// AuditRecord is one entry of the append-only audit log. See the package
// documentation for how Hash is computed.
type AuditRecord struct {
	Seq      int64
	Time     time.Time
	Operator string
	Action   string
	Subject  string
	Details  json.RawMessage
	PrevHash [32]byte
	Hash     [32]byte
}

// AuditHead is the latest audit record's sequence number and hash. Noting
// it outside the ledger (in a ticket, a mail, a second machine) lets a
// later Verify prove that nothing before it was rewritten.
type AuditHead struct {
	Seq  int64
	Hash [32]byte
}

// Audit actions. They are part of the log format: never rename them.
const (
	ActionKeyCreate = "key.create"
	ActionKeyUpdate = "key.update"
	ActionKeyImport = "keys.import"
	ActionActivate  = "activate"
	ActionSupersede = "supersede"
	ActionTransfer  = "transfer"
	ActionRevoke    = "revoke"
	ActionCRLNumber = "crl.number"
	// ActionAccountCreate and ActionAccountUpdate record changes to the
	// support desk's accounts.
	ActionAccountCreate = "account.create"
	ActionAccountUpdate = "account.update"
	// Pool actions: a pool made, a sold key converted into a pool's CALs,
	// a key issued from a pool, a pooled key's CALs given back.
	ActionPoolCreate  = "pool.create"
	ActionPoolAdd     = "pool.add"
	ActionPoolIssue   = "pool.issue"
	ActionPoolRelease = "pool.release"
)

// builtinActions are the actions the ledger writes itself; Tx.Log may not
// use them, so a free-form entry cannot pass for an activation.
var builtinActions = []string{
	ActionKeyCreate, ActionKeyUpdate, ActionKeyImport, ActionActivate,
	ActionSupersede, ActionTransfer, ActionRevoke, ActionCRLNumber,
	ActionAccountCreate, ActionAccountUpdate,
	ActionPoolCreate, ActionPoolAdd, ActionPoolIssue, ActionPoolRelease,
}
