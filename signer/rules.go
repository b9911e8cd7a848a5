package signer

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/tpmbind"
)

// The issuing rules that need no ledger: what was sold (Entitlement),
// what the vendor chooses for one license (IssueOptions), and the checks
// and construction of the license that answers a request.

// Entitlement is what was sold for one license key: who bought it, its
// type, and the modules, quotas and languages it carries. The ledger's
// SoldKey holds the same sale; EntitlementOf converts it.
type Entitlement struct {
	// LicenseKey and Licensee, when set, must match the request exactly
	// (case sensitive).
	LicenseKey string
	Licensee   string
	Type       olr.LicenseType
	// Product, when set, is the product the key was sold for.
	Product string
	// Modules maps a module name to its quota (or olr.Unlimited).
	Modules   map[string]int64
	Languages []string
	// Expires is the last day the license is valid and Maintenance the
	// last day of maintenance, as UTC calendar dates; zero means none.
	Expires     time.Time
	Maintenance time.Time
}

// IssueOptions are the vendor's choices for one license, beyond what was
// sold. The zero value is the default for each.
type IssueOptions struct {
	// Now is the time of issue; zero means time.Now().
	Now time.Time
	// MaxRequestAge is how old a request may be (0: DefaultMaxRequestAge).
	MaxRequestAge time.Duration
	// Product, when set, is the only product answered; else the product
	// the key was sold for, if any.
	Product string
	// GraceDays is the grace period after the hardware drifts (nil: 14).
	GraceDays *int
	// Policy is the match policy signed into the license (nil:
	// fingerprint.DefaultPolicy()).
	Policy *fingerprint.Policy
	// Transfer, when set, is the reason to move a key that is active on
	// another machine to the requesting one (the old license is revoked).
	Transfer string
	// AllowWeak, when set, is the reason to bind a license although the
	// request has no strong factor (see WeakBinding); the ledger records
	// it with the activation.
	AllowWeak string
	// TPM is the vendor's rule for binding licenses to the machine's TPM
	// (BindTPM).
	TPM tpmbind.Policy
}

// DefaultMaxRequestAge is how old a request may be when it is answered.
const DefaultMaxRequestAge = 30 * 24 * time.Hour

func (o *IssueOptions) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// Validate checks the options before any request is opened.
func (o *IssueOptions) Validate() error {
	if o.GraceDays != nil && (*o.GraceDays < 0 || *o.GraceDays > olr.MaxGraceDays) {
		return fmt.Errorf("grace period of %d days is outside 0..%d", *o.GraceDays, olr.MaxGraceDays)
	}
	if o.Policy != nil {
		if err := o.Policy.Validate(); err != nil {
			return err
		}
	}
	if o.MaxRequestAge < 0 {
		return fmt.Errorf("maximum request age %v is negative", o.MaxRequestAge)
	}
	return nil
}

// Validate checks what an entitlement says before any request is opened,
// so that a mistake in what the vendor typed is reported as such. now is
// the issue time: an expiry in the past is refused.
func (e *Entitlement) Validate(now time.Time) error {
	if t, err := olr.ParseLicenseType(string(e.Type)); err != nil || t != e.Type {
		return fmt.Errorf("unknown license type %s (want oem, meter, active-pool or evaluation)", safetext.Quote(string(e.Type)))
	}
	for name, q := range e.Modules {
		if !olr.ValidModuleName(name) {
			return fmt.Errorf("module name %s: want lower-case letters, digits and '-', as in obm or vmware-vm", safetext.Quote(name))
		}
		if q < olr.Unlimited || q > olr.MaxQuota {
			return fmt.Errorf("module %s: quota %d is outside 0..%d (or unlimited)", name, q, olr.MaxQuota)
		}
	}
	for _, lang := range e.Languages {
		if !olr.ValidLanguageTag(lang) {
			return fmt.Errorf("language %s is not a language tag like en or zh-TW", safetext.Quote(lang))
		}
	}
	if !e.Expires.IsZero() && !e.Expires.AddDate(0, 0, 1).After(now) {
		return fmt.Errorf("expires %s: the date is in the past", e.Expires.Format(time.DateOnly))
	}
	return nil
}

// RefusedError is a policy refusal: the request is well-formed but must
// not be answered. The CLI exits 1 for it.
type RefusedError struct {
	Rule string // short name of the rule, e.g. "offline-oem-only"
	Msg  string
	// Err, when set, is the error behind the refusal, such as the
	// ledger's *ledger.PoolShortError with its numbers.
	Err error
}

func (e *RefusedError) Error() string { return "refused: " + e.Msg }

func (e *RefusedError) Unwrap() error { return e.Err }

func refuse(rule, format string, a ...any) *RefusedError {
	return &RefusedError{Rule: rule, Msg: fmt.Sprintf(format, a...)}
}

// CheckRequest applies the rules that need no ledger: the key's type must
// be OEM, the names must match what was sold exactly (case sensitive),
// and the request must be recent. Refusals are *RefusedError.
func CheckRequest(req *olr.Request, e *Entitlement, opts *IssueOptions) error {
	if e.Type != olr.TypeOEM {
		return refuse("offline-oem-only", "license key is of type %s: %s", e.Type, olr.OfflineActivationRule)
	}
	if e.LicenseKey != "" && req.LicenseKey != e.LicenseKey {
		return refuse("key-mismatch", "the license key in the request does not match the key sold (license keys are case sensitive)")
	}
	if e.Licensee != "" && req.Licensee != e.Licensee {
		why := "names must match exactly, byte for byte"
		if strings.EqualFold(req.Licensee, e.Licensee) {
			why = "they differ in case, and names are case sensitive"
		} else if r, ok := combiningMark(req.Licensee + e.Licensee); ok {
			why = fmt.Sprintf("one is written with a combining mark (U+%04X), so the two may look alike yet differ (Unicode normalization); type the name as it was sold", r)
		}
		return refuse("licensee-mismatch", "licensee name %s does not match %s as sold: %s",
			safetext.Quote(req.Licensee), safetext.Quote(e.Licensee), why)
	}
	product := opts.Product
	if product == "" {
		product = e.Product
	}
	if product != "" && req.Product != product {
		return refuse("product-mismatch", "the request is for product %s, the key is for %s",
			safetext.Quote(req.Product), safetext.Quote(product))
	}
	maxAge := opts.MaxRequestAge
	if maxAge == 0 {
		maxAge = DefaultMaxRequestAge
	}
	now, created := opts.now(), req.CreatedTime()
	if now.Sub(created) > maxAge {
		return refuse("request-too-old", "the request was made %s, more than %d days ago; make a new one", created.Format(time.DateOnly), int(maxAge.Hours()/24))
	}
	if created.Sub(now) > time.Hour {
		return refuse("request-from-future", "the request is dated %s, in the future: check the machine's clock", created.Format(time.RFC3339))
	}
	return nil
}

// BuildLicense makes the license answering req under entitlement e,
// without signing it. A binding that the rules refuse (a required factor
// absent, no strong factor) is a *RefusedError.
func BuildLicense(req *olr.Request, e *Entitlement, k *Keys, opts *IssueOptions) (*olr.License, error) {
	now := opts.now().UTC().Truncate(time.Second)
	policy := fingerprint.DefaultPolicy()
	if opts.Policy != nil {
		policy = *opts.Policy
	}
	for _, k := range policy.Required {
		if !slices.ContainsFunc(req.Fingerprint.Factors, func(f fingerprint.Factor) bool { return f.Kind == k }) {
			notes := make([]string, len(req.Fingerprint.Notes))
			for i, n := range req.Fingerprint.Notes {
				notes[i] = safetext.Quote(n)
			}
			return nil, refuse("required-factor-absent",
				"the match policy requires the %s factor, but the machine reported none (its notes: %s)", k, strings.Join(notes, "; "))
		}
	}
	salt := make([]byte, fingerprint.SaltSize)
	rand.Read(salt)
	binding, err := fingerprint.Bind(&req.Fingerprint, salt, policy)
	if err != nil {
		return nil, fmt.Errorf("cannot bind the license to the request's fingerprint: %v", err)
	}
	if weak := WeakBinding(&binding, req.Fingerprint.Machine); weak != "" && opts.AllowWeak == "" {
		return nil, refuse(RuleWeakFingerprint, "%s", weak)
	}
	// Valid from the request's own time, if earlier: air-gapped clocks
	// drift, and a machine must not find the answer to its request
	// "not yet valid".
	notBefore := now
	if c := req.CreatedTime(); c.Before(notBefore) {
		notBefore = c
	}
	l := &olr.License{
		KeyID: k.KeyID, ID: olr.NewID(), RequestID: req.ID,
		Issued: now, NotBefore: notBefore,
		Product: req.Product, Licensee: req.Licensee, Type: e.Type,
		GraceDays: int(olr.DefaultGrace.Hours() / 24), Binding: binding,
	}
	if opts.GraceDays != nil {
		l.GraceDays = *opts.GraceDays
	}
	if !e.Expires.IsZero() {
		l.Expires = e.Expires.AddDate(0, 0, 1) // valid through that day
	}
	if !e.Maintenance.IsZero() {
		l.Maintenance = e.Maintenance.AddDate(0, 0, 1)
	}
	for name, q := range e.Modules {
		l.Modules = append(l.Modules, olr.Module{Name: name, Quota: q})
	}
	slices.SortFunc(l.Modules, func(a, b olr.Module) int { return strings.Compare(a.Name, b.Name) })
	l.Languages = slices.Clone(e.Languages)
	slices.Sort(l.Languages)
	l.Languages = slices.Compact(l.Languages)
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// IssueUnrecorded checks req against e and returns the signed license
// without recording anything: one key, one machine is not enforced and a
// replayed request gets a second license. Issuer.Issue is the recorded
// way; this one serves the demo and issuing from an entitlement file.
func IssueUnrecorded(req *olr.Request, e *Entitlement, k *Keys, opts *IssueOptions) (*olr.License, []byte, error) {
	if err := CheckRequest(req, e, opts); err != nil {
		return nil, nil, err
	}
	l, err := BuildLicense(req, e, k, opts)
	if err != nil {
		return nil, nil, err
	}
	if _, err := BindTPM(l, req, &opts.TPM, opts.now()); err != nil {
		return nil, nil, err
	}
	data, err := olr.Sign(l, k.Signing)
	if err != nil {
		return nil, nil, err
	}
	return l, data, nil
}
