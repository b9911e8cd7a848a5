package signer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
	"github.com/olr-dev/olr/signer/tpmbind"
)

// Issuing through the ledger: one decision per request, made from one
// read of what the ledger records about the key and the request
// (ledger.Tx.KeyState), and recorded by one write.

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

// Rules whose refusals the issuer itself makes (the others are in
// CheckRequest and BuildLicense).
const (
	RuleUnknownKey       = "unknown-key"
	RuleOneKeyOneMachine = "one-key-one-machine"
	RuleRequestReused    = "request-reused"
)

// ActionWeakOverride is the ledger record of a license issued with
// IssueOptions.AllowWeak for a binding that WeakBinding refuses.
const ActionWeakOverride = "override.weak-fingerprint"

// Issuer answers requests under the vendor's rules, recording every
// activation in the ledger. It is safe for concurrent use.
type Issuer struct {
	Keys   *Keys
	Ledger *ledger.Ledger
	// Now is the clock; nil means time.Now. IssueOptions.Now overrides it.
	Now func() time.Time
}

// Result is the answer to one request.
type Result struct {
	Outcome    Outcome
	License    *olr.License
	File       []byte
	Superseded string // the license this one replaces, if any
	// TPM describes the EK the license is bound to; nil when unbound (and
	// for a replay).
	TPM *TPMRecord
}

func (is *Issuer) now() time.Time {
	if is.Now != nil {
		return is.Now()
	}
	return time.Now()
}

// EntitlementOf returns what was sold for key k.
func EntitlementOf(k *ledger.SoldKey) *Entitlement {
	e := &Entitlement{
		LicenseKey: k.Key, Licensee: k.Licensee, Type: k.Type, Product: k.Product,
		Modules: make(map[string]int64, len(k.Modules)), Languages: k.Languages,
		Expires: k.Expires, Maintenance: k.Maintenance,
	}
	for name, q := range k.Modules {
		e.Modules[name] = int64(q)
	}
	return e
}

// Issue decides and records the answer to one request, in its own ledger
// transaction, for operator: a first activation, a re-issue to the same
// machine, a replay of a request answered before, a transfer (when
// opts.Transfer says why), or a refusal (a *RefusedError), which records
// nothing. It is the one issuing entry point for a command line, a batch
// (through Prepare and Record) or a web handler.
func (is *Issuer) Issue(ctx context.Context, req *olr.Request, opts *IssueOptions, operator string) (*Result, error) {
	p, err := is.Prepare(ctx, req, opts)
	if err != nil {
		return nil, err
	}
	var res *Result
	err = is.Ledger.UpdateAll(ctx, operator, func(tx *ledger.Tx) error {
		var err error
		res, err = is.Record(tx, p)
		return err
	})
	return res, err
}

// Prepared is a request checked, and its license built and signed, ahead
// of the ledger transaction from a snapshot of the sold key, so that
// batch issuing can sign in parallel and keep the write transaction
// short. Record makes the decision.
type Prepared struct {
	Request *olr.Request
	Options IssueOptions
	// Sold is the sale the license was built from (nil: not sold).
	Sold    *ledger.SoldKey
	License *olr.License
	File    []byte
	// Refused is the rules' refusal of the request as prepared; Record
	// still answers it if it is a replay.
	Refused *RefusedError
	// TPM describes the EK the license is bound to; nil when unbound.
	TPM *TPMRecord
}

// Prepare reads the ledger's record of the request's key (one read, no
// transaction) and builds and signs the license that would answer the
// request under opts. Only errors other than refusals are returned.
func (is *Issuer) Prepare(ctx context.Context, req *olr.Request, opts *IssueOptions) (*Prepared, error) {
	if opts == nil {
		opts = &IssueOptions{}
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p := &Prepared{Request: req, Options: *opts}
	if p.Options.Now.IsZero() {
		p.Options.Now = is.now()
	}
	sk, err := is.Ledger.Key(ctx, req.LicenseKey)
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return nil, err
	}
	p.Sold = sk
	return p, is.build(p)
}

// build checks p's request against p.Sold and signs its license, or
// sets p.Refused.
func (is *Issuer) build(p *Prepared) error {
	p.License, p.File, p.Refused, p.TPM = nil, nil, nil, nil
	if p.Sold == nil {
		p.Refused = refuse(RuleUnknownKey, "the license key in the request was not sold (keys are case sensitive; import the keys sold into the ledger)")
		return nil
	}
	e := EntitlementOf(p.Sold)
	err := CheckRequest(p.Request, e, &p.Options)
	var l *olr.License
	if err == nil {
		l, err = BuildLicense(p.Request, e, is.Keys, &p.Options)
	}
	if err == nil {
		var ek *tpmbind.EK
		if ek, err = BindTPM(l, p.Request, &p.Options.TPM, p.Options.now()); ek != nil {
			p.TPM = RecordOf(ek, p.Request)
		}
	}
	var refused *RefusedError
	if errors.As(err, &refused) {
		p.Refused = refused
		return nil
	}
	if err != nil {
		return err
	}
	if p.File, err = olr.Sign(l, is.Keys.Signing); err != nil {
		return err
	}
	p.License = l
	return nil
}

// Record decides the answer to a prepared request inside a ledger write
// transaction and records it. It reads the key's state once and decides
// as Decide says; a sale changed since p was prepared is prepared again
// from the ledger's record. Record may run more than once for one
// transaction (the ledger retries on contention), so it changes nothing
// but the ledger, through tx.
func (is *Issuer) Record(tx *ledger.Tx, p *Prepared) (*Result, error) {
	req := p.Request
	st, err := tx.KeyState(req.LicenseKey, req.ID)
	if err != nil {
		return nil, err
	}
	d, err := is.Decide(st, p)
	if err != nil {
		return nil, err
	}
	if d.Refused != nil {
		return nil, d.Refused
	}
	if d.Outcome == Replayed {
		return d.Result(), nil
	}
	p = d.Prepared
	act, issued, err := activationOf(p)
	if err != nil {
		return nil, err
	}
	switch d.Outcome {
	case Issued:
		err = tx.Activate(act, issued)
	case Reissued:
		if err = tx.Supersede(d.Superseded); err == nil {
			err = tx.Activate(act, issued)
		}
	case Transferred:
		_, err = tx.Transfer(p.Options.Transfer, act, issued, true)
	}
	if err != nil {
		return nil, err
	}
	if p.TPM != nil {
		if err := tx.Log(ActionTPMBind, req.LicenseKey, p.TPM.details(p.License.ID)); err != nil {
			return nil, err
		}
	}
	if d.Weak != "" {
		err := tx.Log(ActionWeakOverride, req.LicenseKey, map[string]any{
			"license_id": p.License.ID, "request_id": req.ID, "reason": p.Options.AllowWeak, "weakness": d.Weak,
		})
		if err != nil {
			return nil, err
		}
	}
	return d.Result(), nil
}

// Decision is what the issuing rules decide for a prepared request, given
// what the ledger records about its key: the answer Record would record,
// or the refusal. Decide makes it without writing, so that a web page or
// a script can show what issuing would do before anyone signs.
type Decision struct {
	// Outcome is the answer, unless Refused is set.
	Outcome Outcome
	// Refused is the rule that refuses the request.
	Refused *RefusedError
	// Prepared is the request as it would be answered: p, or p prepared
	// again from the sale as the ledger now records it.
	Prepared *Prepared
	// Superseded is the license a re-issue or transfer replaces.
	Superseded string
	// Weak, when set, says why the binding is weak; the license is only
	// issued because IssueOptions.AllowWeak gives a reason, which the
	// ledger records.
	Weak string
	// replayed is the license a replay hands out again.
	replayed *Result
}

// Result returns the answer the decision gives (nil for a refusal).
func (d *Decision) Result() *Result {
	if d.Refused != nil {
		return nil
	}
	if d.replayed != nil {
		return d.replayed
	}
	return &Result{Outcome: d.Outcome, License: d.Prepared.License, File: d.Prepared.File, Superseded: d.Superseded, TPM: d.Prepared.TPM}
}

// Decide makes the one issuing decision from the key's state st: a
// request answered before is a replay (the same license again) when it
// is the same request, and refused when another request reuses its ID;
// then a key whose CALs are a pool's is refused (a source, or a released
// key); then the rules' refusal, if any; then a first activation, a re-issue to
// the machine the key is active on, a transfer, or the one-key-one-machine
// refusal. Only errors other than refusals are returned.
func (is *Issuer) Decide(st *ledger.KeyState, p *Prepared) (*Decision, error) {
	req := p.Request
	if st.Answer != nil {
		res, err := replay(st, req)
		var refused *RefusedError
		if errors.As(err, &refused) {
			return &Decision{Refused: refused, Prepared: p}, nil
		}
		if err != nil {
			return nil, err
		}
		return &Decision{Outcome: Replayed, Prepared: p, replayed: res}, nil
	}
	if r := poolRefusal(st.Pool); r != nil {
		return &Decision{Refused: r, Prepared: p}, nil
	}
	if !sameSale(st.Sold, p.Sold) {
		fresh := *p
		fresh.Sold = st.Sold
		if err := is.build(&fresh); err != nil {
			return nil, err
		}
		p = &fresh
	}
	d := &Decision{Prepared: p}
	if p.Refused != nil {
		d.Refused = p.Refused
		return d, nil
	}
	// The machine the key is active on is judged under the binding of the
	// license that activated it, with that license's own match policy.
	var active *olr.License
	if st.Active != nil && st.ActiveLicense != nil {
		var err error
		if active, err = olr.ParseLicenseUnauthenticated(st.ActiveLicense.File); err != nil {
			return nil, fmt.Errorf("ledger holds an unreadable license %s: %v", st.ActiveLicense.ID, err)
		}
	}
	switch {
	case st.Active == nil:
		d.Outcome = Issued
	case active != nil && active.Binding.Match(&req.Fingerprint).Pass:
		d.Outcome, d.Superseded = Reissued, st.ActiveLicense.ID
	case p.Options.Transfer != "":
		d.Outcome, d.Superseded = Transferred, st.ActiveLicense.ID
	default:
		d.Refused = refuse(RuleOneKeyOneMachine,
			"the key is already activated on another machine (license %s, issued %s): a single license key can only be used on one machine",
			st.ActiveLicense.ID, st.ActiveLicense.Issued.UTC().Format(time.DateOnly))
		return d, nil
	}
	d.Weak = WeakBinding(&p.License.Binding, req.Fingerprint.Machine)
	return d, nil
}

// DryRun prepares req and decides it against the ledger as it stands,
// recording nothing: what Issue would do now. The license it signs is
// never handed out.
func (is *Issuer) DryRun(ctx context.Context, req *olr.Request, opts *IssueOptions) (*Decision, error) {
	p, err := is.Prepare(ctx, req, opts)
	if err != nil {
		return nil, err
	}
	var d *Decision
	err = is.Ledger.View(ctx, func(tx *ledger.Tx) error {
		st, err := tx.KeyState(req.LicenseKey, req.ID)
		if err != nil {
			return err
		}
		d, err = is.Decide(st, p)
		return err
	})
	return d, err
}

// replay answers a request the ledger answered before with the same
// license, if it is the same request: the same licensee, key, product and
// fingerprint. A different request under a reused ID is refused.
func replay(st *ledger.KeyState, req *olr.Request) (*Result, error) {
	l, err := olr.ParseLicenseUnauthenticated(st.Answer.File)
	if err != nil {
		return nil, fmt.Errorf("ledger holds an unreadable license %s: %v", st.Answer.ID, err)
	}
	if st.Answer.Key != req.LicenseKey || l.Licensee != req.Licensee || l.Product != req.Product ||
		!sameFingerprint(st.AnswerActivation.Fingerprint, &req.Fingerprint) {
		return nil, refuse(RuleRequestReused,
			"request %s was answered before (license %s), but this request differs from that one (licensee, license key, product or fingerprint): a request ID is used once; make a new request on the machine",
			req.ID, st.Answer.ID)
	}
	return &Result{Outcome: Replayed, License: l, File: st.Answer.File}, nil
}

// sameFingerprint reports whether the fingerprint the ledger recorded
// (as JSON) is fp.
func sameFingerprint(recorded json.RawMessage, fp *fingerprint.Fingerprint) bool {
	var old fingerprint.Fingerprint
	if err := json.Unmarshal(recorded, &old); err != nil {
		return false
	}
	a, err1 := json.Marshal(&old)
	b, err2 := json.Marshal(fp)
	return err1 == nil && err2 == nil && string(a) == string(b)
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

// sameSale reports whether a and b (either may be nil) record the same
// sale.
func sameSale(a, b *ledger.SoldKey) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.SameSale(b)
}
