package portal

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

// Inspection is what the desk shows about one request before anyone
// signs: the request decoded, the key as sold and how the names compare,
// what the ledger and the other requests say about the machine, and what
// issuing would do (a dry run of the issuing decision).
type Inspection struct {
	Source string `json:"source"`
	// Error says why the request could not be read; nothing else is set
	// then but Problem.
	Error   string `json:"error,omitempty"`
	Problem string `json:"problem,omitempty"`

	Request *olr.Request `json:"request,omitempty"`
	Machine string       `json:"machine,omitempty"`
	Factors []FactorView `json:"factors,omitempty"`
	// Sale is the key as sold; nil when the key was not sold as typed.
	Sale  *SaleView   `json:"sale,omitempty"`
	Names []NameCheck `json:"names,omitempty"`
	// Findings are what the clone and fingerprint audit sees for this
	// machine and key.
	Findings []Finding `json:"findings"`
	Verdict  *Verdict  `json:"verdict,omitempty"`
	// Armored is the request as the issue form carries it.
	Armored string `json:"-"`
}

// FactorView is one hardware factor of a request.
type FactorView struct {
	Kind      fingerprint.Kind      `json:"kind"`
	Stability fingerprint.Stability `json:"stability"`
	Value     string                `json:"value"`
	Source    string                `json:"source"`
}

// SaleView is a key as sold, for a page.
type SaleView struct {
	Key         string       `json:"license_key"`
	Licensee    string       `json:"licensee"`
	Type        string       `json:"type"`
	Offline     bool         `json:"offline_activation"`
	Product     string       `json:"product,omitempty"`
	Modules     []ModuleView `json:"modules"`
	Languages   []string     `json:"languages"`
	Expires     string       `json:"expires,omitempty"`
	Maintenance string       `json:"maintenance,omitempty"`
}

// ModuleView is one module sold and its quota.
type ModuleView struct {
	Name  string `json:"name"`
	Quota string `json:"quota"`
}

func saleView(k *ledger.SoldKey) *SaleView {
	v := &SaleView{Key: k.Key, Licensee: k.Licensee, Type: string(k.Type), Offline: k.Type == olr.TypeOEM,
		Product: k.Product, Languages: k.Languages, Modules: []ModuleView{}}
	if v.Languages == nil {
		v.Languages = []string{}
	}
	for name, q := range k.Modules {
		v.Modules = append(v.Modules, ModuleView{Name: name, Quota: q.String()})
	}
	slices.SortFunc(v.Modules, func(a, b ModuleView) int { return strings.Compare(a.Name, b.Name) })
	if !k.Expires.IsZero() {
		v.Expires = k.Expires.Format(time.DateOnly)
	}
	if !k.Maintenance.IsZero() {
		v.Maintenance = k.Maintenance.Format(time.DateOnly)
	}
	return v
}

// NameCheck compares what the request says with what was sold.
type NameCheck struct {
	Field     string `json:"field"`
	Requested string `json:"requested"`
	Sold      string `json:"sold,omitempty"`
	Match     bool   `json:"match"`
	// Explanation says how they differ, when they do.
	Explanation string `json:"explanation,omitempty"`
}

// Verdict is what issuing would do with the request now.
type Verdict struct {
	// Outcome is issued, reissued, replayed or transferred; "refused"
	// with Rule set.
	Outcome string `json:"outcome"`
	Rule    string `json:"rule,omitempty"`
	// Message is the rule's message for support staff; CustomerText is
	// what to tell the customer.
	Message      string `json:"message"`
	CustomerText string `json:"customer_text,omitempty"`
	Superseded   string `json:"superseded,omitempty"`
	// Weak says why the binding is weak, when an override is needed.
	Weak string `json:"weak,omitempty"`
	// CanTransfer: the key is active on another machine, and an admin
	// may move it here with a reason. CanOverrideWeak: an admin may issue
	// a weak binding with a reason.
	CanTransfer     bool `json:"can_transfer"`
	CanOverrideWeak bool `json:"can_override_weak"`
}

// verdictOf describes a dry-run decision.
func verdictOf(d *signer.Decision) *Verdict {
	if d.Refused != nil {
		return &Verdict{Outcome: "refused", Rule: d.Refused.Rule, Message: d.Refused.Msg,
			CustomerText: CustomerText(d.Refused.Rule),
			CanTransfer:  d.Refused.Rule == signer.RuleOneKeyOneMachine, CanOverrideWeak: d.Refused.Rule == signer.RuleWeakFingerprint}
	}
	v := &Verdict{Outcome: string(d.Outcome), Superseded: d.Superseded, Weak: d.Weak}
	switch d.Outcome {
	case signer.Issued:
		v.Message = "first activation of the key: a license is issued, bound to this machine"
	case signer.Reissued:
		v.Message = "the key is active on this same machine (a lost file, a changed address): a new license replaces " + d.Superseded
	case signer.Replayed:
		v.Message = "this request was answered before: the same license is handed out again"
	case signer.Transferred:
		v.Message = "the key moves to this machine; its license on the old machine (" + d.Superseded + ") is revoked"
	}
	return v
}

// customerTexts are what support staff send a customer whose request is
// refused, in the words of the vendor's published license rules.
var customerTexts = map[string]string{
	"offline-oem-only": "Offline license activation is only applicable for OEM license type. " +
		"Meter, Active Pool and Evaluation keys do not support offline activation.",
	signer.RuleOneKeyOneMachine: "A single license key can only be used on one machine once it has been activated. " +
		"If the key is to move to this machine, tell us why, and we will transfer it: the license on the old machine is then revoked.",
	"licensee-mismatch": namesMismatchText,
	"key-mismatch":      namesMismatchText,
	signer.RuleUnknownKey: "The license key in your request is not one we sold. The Licensee Name and License Key are case sensitive: " +
		"please enter them exactly as stated in your software receipt, and generate a new request.",
	"product-mismatch":       "The request was made for another product than the license key was sold for. Please generate the request from the product the key is for.",
	"request-too-old":        "The request is too old to be answered. Please generate a new offline license request (req.olr) and send it to us.",
	"request-from-future":    "The request is dated in the future: please check the machine's clock, then generate a new request.",
	signer.RuleRequestReused: "This request was answered before with another content. Please generate a new offline license request (req.olr).",
	signer.RuleWeakFingerprint: "The request does not identify the machine well enough to bind a license to it. " +
		"Please generate the request on the machine itself (not in a container), with its hardware visible.",
	signer.RulePooledKey: "This license key was converted into the CALs of a license pool and no longer activates on its own. " +
		"Please activate a key issued from the pool, and generate a new request with it.",
	signer.RuleReleasedKey: "This license key was released back to its license pool and no longer activates. " +
		"Please ask us for a key issued from the pool, and generate a new request with it.",
	"required-factor-absent": "The request lacks a hardware identity the license must be bound to (such as the TPM). " +
		"Please make sure it is available to the product, then generate a new request.",
}

// namesMismatchText answers a request whose licensee name or license key
// differs from what was sold.
const namesMismatchText = "The Licensee Name and License Key are case sensitive. " +
	"Please enter them exactly as stated in your software receipt, and generate a new request."

// CustomerText returns what to tell a customer whose request a rule
// refuses ("" for a rule without a text).
func CustomerText(rule string) string { return customerTexts[rule] }

// inspector inspects the requests of one submission together, with one
// read of the ledger's activations for the clone findings.
type inspector struct {
	s     *Server
	ctx   context.Context
	audit *machineAudit
	keys  []ledger.SoldKey // read once, for similar keys
}

func (s *Server) newInspector(ctx context.Context, subs []submitted) (*inspector, []*Inspection, error) {
	in := &inspector{s: s, ctx: ctx}
	out := make([]*Inspection, len(subs))
	var reqs []*olr.Request
	for i, sub := range subs {
		ins := &Inspection{Source: sub.Source, Findings: []Finding{}}
		out[i] = ins
		if sub.Err != nil {
			ins.Error = sub.Err.Error()
			continue
		}
		req, err := olr.DecryptRequest(sub.Data, []age.Identity{s.cfg.Issuer.Keys.Identity})
		if err != nil {
			ins.Error, ins.Problem = requestErrorText(err)
			continue
		}
		ins.Request, ins.Armored = req, armored(sub.Data)
		reqs = append(reqs, req)
	}
	if len(reqs) == 0 {
		return in, out, nil
	}
	// The machines the ledger knows and the keys sold, from one snapshot.
	err := s.cfg.Issuer.Ledger.View(ctx, func(tx *ledger.Tx) error {
		var err error
		if in.audit, err = s.newMachineAudit(tx, out); err != nil {
			return err
		}
		in.keys, err = tx.Keys()
		return err
	})
	return in, out, err
}

// requestErrorText says why a request could not be read, for support
// staff, and the problem's name for scripts.
func requestErrorText(err error) (msg, problem string) {
	var re *olr.RequestError
	if errors.As(err, &re) {
		problem = string(re.Problem)
	}
	switch {
	case errors.Is(err, olr.ErrWrongVendorKey):
		return "the request was not encrypted to this vendor's key: it was made for another vendor, or with an old key (check the recipient the machine used)", problem
	case problem == string(olr.RequestNotAge):
		return "not a request: " + err.Error(), problem
	}
	return err.Error(), problem
}

// inspect fills in ins for its decrypted request.
func (in *inspector) inspect(ins *Inspection) error {
	req := ins.Request
	m := req.Fingerprint.Machine
	ins.Machine = m.Class
	if m.Detail != "" {
		ins.Machine += " (" + m.Detail + ")"
	}
	for _, f := range req.Fingerprint.Factors {
		ins.Factors = append(ins.Factors, FactorView{Kind: f.Kind, Stability: f.Kind.Stability(), Value: f.Value, Source: f.Source})
	}
	d, err := in.s.cfg.Issuer.DryRun(in.ctx, req, &in.s.cfg.Options)
	if err != nil {
		return err
	}
	sold := d.Prepared.Sold
	keyCheck := NameCheck{Field: "license key", Requested: req.LicenseKey, Match: sold != nil}
	if sold != nil {
		ins.Sale = saleView(sold)
		keyCheck.Sold = sold.Key
		ins.Names = append(ins.Names, NameCheck{Field: "licensee", Requested: req.Licensee, Sold: sold.Licensee,
			Match: req.Licensee == sold.Licensee, Explanation: signer.Difference(req.Licensee, sold.Licensee)})
	} else {
		keyCheck.Explanation = "no key was sold as typed (keys are case sensitive)"
		for _, k := range in.keys {
			if k.Key != req.LicenseKey && signer.FoldMarks(k.Key) == signer.FoldMarks(req.LicenseKey) {
				keyCheck.Sold = k.Key
				keyCheck.Explanation = "not sold as typed; a key that differs from it was sold: " + signer.Difference(req.LicenseKey, k.Key)
				break
			}
		}
	}
	ins.Names = append([]NameCheck{keyCheck}, ins.Names...)
	ins.Verdict = verdictOf(d)
	ins.Findings = in.audit.findings(req)
	return nil
}
