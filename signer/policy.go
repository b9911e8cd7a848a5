package signer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// Outcome says what Issuer.Issue did with a request.
type Outcome string

const (
	// Issued: the key's first activation.
	Issued Outcome = "issued"
	// Reissued: a new request from the machine the key is activated on
	// (a lost file, a changed IP); the previous license is superseded.
	Reissued Outcome = "reissued"
	// Replayed: the request was answered before; the same license again.
	Replayed Outcome = "replayed"
	// Transferred: the key moved to new hardware; the old license is
	// revoked.
	Transferred Outcome = "transferred"
)

// Issuer answers requests under the vendor's rules, recording every
// activation in the ledger.
type Issuer struct {
	Keys          *Keys
	Ledger        *ledger.Ledger
	Policy        *fingerprint.Policy // nil: fingerprint.DefaultPolicy()
	MaxRequestAge time.Duration       // 0: DefaultMaxRequestAge
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Transfer asks to move a key to new hardware.
type Transfer struct {
	Reason string
}

// Result is the answer to one request.
type Result struct {
	Outcome    Outcome
	License    *olr.License
	File       []byte
	Superseded string // the license this one replaces, if any
}

func (is *Issuer) now() time.Time {
	if is.Now != nil {
		return is.Now()
	}
	return time.Now()
}

// EntitlementOf returns what was sold for key k, as the license carries it.
func EntitlementOf(k *ledger.SoldKey) *Entitlement {
	e := &Entitlement{
		LicenseKey: k.Key, Licensee: k.Licensee, Type: string(k.Type), Product: k.Product,
		Modules: Quotas{}, Languages: slices.Clone(k.Languages),
	}
	for name, q := range k.Modules {
		e.Modules[name] = int64(q)
	}
	if !k.Expires.IsZero() {
		e.Expires = k.Expires.UTC().Format(time.DateOnly)
	}
	if !k.Maintenance.IsZero() {
		e.Maintenance = k.Maintenance.UTC().Format(time.DateOnly)
	}
	return e
}

// Prepared is a license built and signed ahead of the ledger transaction
// from a snapshot of the sold key, so that batch issuing can sign in
// parallel and keep the write transaction short.
type Prepared struct {
	Request *olr.Request
	Sold    ledger.SoldKey
	License *olr.License
	File    []byte
}

// Prepare checks req against the ledger's record of its key (read only)
// and signs the license that would answer it. A refusal is a
// *RefusedError.
func (is *Issuer) Prepare(ctx context.Context, req *olr.Request) (*Prepared, error) {
	sk, err := is.Ledger.Key(ctx, req.LicenseKey)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, refuse("unknown-key", "the license key in the request was not sold (keys are case sensitive; import the keys sold with olr-sign keys import)")
	}
	if err != nil {
		return nil, err
	}
	return is.prepare(req, sk)
}

func (is *Issuer) prepare(req *olr.Request, sk *ledger.SoldKey) (*Prepared, error) {
	e := EntitlementOf(sk)
	opts := &IssueOptions{Now: is.now(), MaxRequestAge: is.MaxRequestAge, Policy: is.Policy}
	if err := CheckRequest(req, e, opts); err != nil {
		return nil, err
	}
	l, err := BuildLicense(req, e, is.Keys, opts)
	if err != nil {
		return nil, err
	}
	file, err := olr.Sign(l, is.Keys.Signing)
	if err != nil {
		return nil, err
	}
	return &Prepared{Request: req, Sold: *sk, License: l, File: file}, nil
}

// Issue answers one request in its own ledger transaction.
func (is *Issuer) Issue(ctx context.Context, req *olr.Request, operator string, transfer *Transfer) (*Result, error) {
	p, err := is.Prepare(ctx, req)
	var replay *Result
	if err != nil {
		// A replayed request is answered even when it would now be
		// refused (too old, say): it was accepted when first seen.
		if replay, _ = is.replay(ctx, req); replay == nil {
			return nil, err
		}
		return replay, nil
	}
	var res *Result
	err = is.Ledger.Update(ctx, operator, func(tx *ledger.Tx) error {
		var err error
		res, err = is.Record(tx, p, transfer)
		return err
	})
	return res, err
}

func (is *Issuer) replay(ctx context.Context, req *olr.Request) (*Result, error) {
	var res *Result
	err := is.Ledger.View(ctx, func(tx *ledger.Tx) error {
		var err error
		res, err = replayed(tx, req)
		return err
	})
	return res, err
}

// replayed returns the license already issued for req, or nil.
func replayed(tx *ledger.Tx, req *olr.Request) (*Result, error) {
	lic, err := tx.LicenseByRequest(req.ID)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if lic.Key != req.LicenseKey {
		return nil, refuse("request-reused", "request %s was already answered for another license key", req.ID)
	}
	l, err := olr.ParseLicenseUnauthenticated(lic.File)
	if err != nil {
		return nil, fmt.Errorf("ledger holds an unreadable license %s: %v", lic.ID, err)
	}
	return &Result{Outcome: Replayed, License: l, File: lic.File}, nil
}

// Record applies the one-key-one-machine rule to a prepared license inside
// a ledger write transaction and records the outcome. It may run more than
// once for one transaction (the ledger retries on contention), so it only
// reads and writes through tx.
func (is *Issuer) Record(tx *ledger.Tx, p *Prepared, transfer *Transfer) (*Result, error) {
	if res := is.recordFirst(tx, p); res != nil {
		return res, nil
	}
	return is.record(tx, p, transfer)
}

// recordFirst is Record's fast path for the common case, a key's first
// activation from a request never seen, with the sale unchanged since p
// was prepared: Activate alone checks that no license answers the
// request and that the key is not active, so the reads that tell the
// other cases apart are not needed. It returns nil, having written
// nothing (Activate runs under a savepoint), in any other case.
func (is *Issuer) recordFirst(tx *ledger.Tx, p *Prepared) *Result {
	req := p.Request
	sk, err := tx.Key(req.LicenseKey)
	if err != nil || !sameSale(sk, &p.Sold) {
		return nil
	}
	act, issued, err := activationOf(p)
	if err != nil {
		return nil
	}
	if err := tx.Activate(act, issued); err != nil {
		return nil
	}
	return &Result{Outcome: Issued, License: p.License, File: p.File}
}

func activationOf(p *Prepared) (*ledger.Activation, *ledger.IssuedLicense, error) {
	req := p.Request
	fpJSON, err := json.Marshal(req.Fingerprint)
	if err != nil {
		return nil, nil, err
	}
	return &ledger.Activation{Key: req.LicenseKey, Fingerprint: fpJSON, LicenseID: p.License.ID, RequestID: req.ID},
		&ledger.IssuedLicense{ID: p.License.ID, Key: req.LicenseKey, RequestID: req.ID, File: p.File}, nil
}

func (is *Issuer) record(tx *ledger.Tx, p *Prepared, transfer *Transfer) (*Result, error) {
	req := p.Request
	if res, err := replayed(tx, req); res != nil || err != nil {
		return res, err
	}
	sk, err := tx.Key(req.LicenseKey)
	if err != nil {
		return nil, err
	}
	if !sameSale(sk, &p.Sold) {
		// The sale changed since the license was prepared: prepare
		// again from the current record.
		if p, err = is.prepare(req, sk); err != nil {
			return nil, err
		}
	}
	act, issued, err := activationOf(p)
	if err != nil {
		return nil, err
	}
	res := &Result{Outcome: Issued, License: p.License, File: p.File}

	current, err := tx.ActiveActivation(req.LicenseKey)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return res, tx.Activate(act, issued)
	case err != nil:
		return nil, err
	}
	old, err := tx.License(current.LicenseID)
	if err != nil {
		return nil, err
	}
	same, err := sameMachine(old.File, &req.Fingerprint)
	if err != nil {
		return nil, err
	}
	switch {
	case same:
		if err := tx.Supersede(old.ID); err != nil {
			return nil, err
		}
		res.Outcome, res.Superseded = Reissued, old.ID
		return res, tx.Activate(act, issued)
	case transfer != nil:
		if _, err := tx.Transfer(transfer.Reason, act, issued); err != nil {
			return nil, err
		}
		if _, err := tx.Revoke(old.ID, "key transferred to new hardware: "+transfer.Reason); err != nil {
			return nil, err
		}
		res.Outcome, res.Superseded = Transferred, old.ID
		return res, nil
	}
	return nil, refuse("one-key-one-machine",
		"the key is already activated on another machine (license %s, issued %s): a single license key can only be used on one machine; move it with --transfer",
		old.ID, old.Issued.UTC().Format(time.DateOnly))
}

// sameMachine judges a new fingerprint against the binding of the license
// that activated the key, under that license's own match policy.
func sameMachine(licenseFile []byte, fp *fingerprint.Fingerprint) (bool, error) {
	l, err := olr.ParseLicenseUnauthenticated(licenseFile)
	if err != nil {
		return false, fmt.Errorf("ledger holds an unreadable license: %v", err)
	}
	return l.Binding.Match(fp).Pass, nil
}

// sameSale reports whether a and b give the same entitlement.
func sameSale(a, b *ledger.SoldKey) bool {
	// Equal fields give equal entitlements: the common case, without
	// building and encoding both.
	if a.Key == b.Key && a.Licensee == b.Licensee && a.Type == b.Type && a.Product == b.Product &&
		maps.Equal(a.Modules, b.Modules) && slices.Equal(a.Languages, b.Languages) &&
		a.Expires.Equal(b.Expires) && a.Maintenance.Equal(b.Maintenance) {
		return true
	}
	ea, eb := EntitlementOf(a), EntitlementOf(b)
	ja, _ := json.Marshal(ea)
	jb, _ := json.Marshal(eb)
	return string(ja) == string(jb)
}
