package signer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// MaxEntitlementSize bounds an entitlement file; a real one is a few
// hundred bytes.
const MaxEntitlementSize = 1 << 20

// EntitlementFile is the JSON file that says what was sold when a license
// is issued without a ledger (olr-sign issue --no-ledger --entitlement):
//
//	{"license_key": "OEM-7Q2D-K9XW-4M3T", "licensee": "Example Backup Ltd",
//	 "type": "oem", "product": "backup-server",
//	 "modules": {"obm": 50, "mobile": "unlimited"}, "languages": ["en"],
//	 "expires": "2027-12-31", "maintenance": "2026-12-31",
//	 "grace_days": 30, "require": ["tpm-ek"], "threshold": 60}
//
// Quotas follow olr's rule (olr.ParseQuota). The last three fields are the
// vendor's choices for the license rather than the sale (see Options).
type EntitlementFile struct {
	LicenseKey  string                  `json:"license_key,omitempty"`
	Licensee    string                  `json:"licensee,omitempty"`
	Type        string                  `json:"type"`
	Product     string                  `json:"product,omitempty"`
	Modules     map[string]ledger.Quota `json:"modules"`
	Languages   []string                `json:"languages,omitempty"`
	Expires     string                  `json:"expires,omitempty"`     // YYYY-MM-DD: valid through that day (UTC)
	Maintenance string                  `json:"maintenance,omitempty"` // YYYY-MM-DD
	GraceDays   *int                    `json:"grace_days,omitempty"`
	Require     []string                `json:"require,omitempty"` // factor kinds that must match
	Threshold   *int                    `json:"threshold,omitempty"`
}

// ParseEntitlement reads an entitlement file strictly: unknown fields and
// trailing data are refused.
func ParseEntitlement(r io.Reader) (*EntitlementFile, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxEntitlementSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxEntitlementSize {
		return nil, fmt.Errorf("entitlement is larger than %d bytes", MaxEntitlementSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f EntitlementFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("malformed entitlement: %v", err)
	}
	if dec.More() {
		return nil, errors.New("malformed entitlement: trailing data")
	}
	return &f, nil
}

// Entitlement returns what the file says was sold, checked as of now.
// The license type may be spelled as the price list does ("OEM",
// "Active Pool").
func (f *EntitlementFile) Entitlement(now time.Time) (*Entitlement, error) {
	typ, err := olr.ParseLicenseType(f.Type)
	if err != nil {
		return nil, err
	}
	e := &Entitlement{LicenseKey: f.LicenseKey, Licensee: f.Licensee, Type: typ, Product: f.Product,
		Modules: make(map[string]int64, len(f.Modules)), Languages: f.Languages}
	for name, q := range f.Modules {
		e.Modules[name] = int64(q)
	}
	for _, d := range []struct {
		name string
		text string
		t    *time.Time
	}{{"expires", f.Expires, &e.Expires}, {"maintenance", f.Maintenance, &e.Maintenance}} {
		if d.text == "" {
			continue
		}
		if *d.t, err = time.Parse(time.DateOnly, d.text); err != nil {
			return nil, fmt.Errorf("%s %s is not a date like 2027-12-31", d.name, safetext.Quote(d.text))
		}
	}
	return e, e.Validate(now)
}

// Options applies the file's choices for the license (grace period,
// required factors, threshold) on top of opts.
func (f *EntitlementFile) Options(opts *IssueOptions) error {
	if f.GraceDays != nil {
		g := *f.GraceDays
		opts.GraceDays = &g
	}
	if f.Threshold == nil && len(f.Require) == 0 {
		return opts.Validate()
	}
	p := fingerprint.DefaultPolicy()
	if opts.Policy != nil {
		p = *opts.Policy
	}
	if f.Threshold != nil {
		p.Threshold = *f.Threshold
	}
	for _, r := range f.Require {
		if err := RequireKind(&p, r); err != nil {
			return err
		}
	}
	opts.Policy = &p
	return opts.Validate()
}

// RequireKind adds the factor kind named kind to p's required kinds.
func RequireKind(p *fingerprint.Policy, kind string) error {
	k := fingerprint.Kind(kind)
	if !k.Known() {
		return fmt.Errorf("unknown factor kind %s (known: %v)", safetext.Quote(kind), fingerprint.Kinds)
	}
	for _, r := range p.Required {
		if r == k {
			return nil
		}
	}
	p.Required = append(p.Required, k)
	return nil
}
