package signer

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

// Entitlement is what was sold for one license key: who bought it, its
// type, and the modules, quotas and languages it carries.
type Entitlement struct {
	LicenseKey  string   `json:"license_key,omitempty"`
	Licensee    string   `json:"licensee,omitempty"`
	Type        string   `json:"type"`
	Product     string   `json:"product,omitempty"`
	Modules     Quotas   `json:"modules"`
	Languages   []string `json:"languages,omitempty"`
	Expires     string   `json:"expires,omitempty"`     // YYYY-MM-DD: valid through that day (UTC)
	Maintenance string   `json:"maintenance,omitempty"` // YYYY-MM-DD
	GraceDays   *int     `json:"grace_days,omitempty"`
	Require     []string `json:"require,omitempty"` // factor kinds that must match
	Threshold   *int     `json:"threshold,omitempty"`
}

// Quotas maps module names to quotas; olr.Unlimited (-1) is written
// "unlimited" in JSON.
type Quotas map[string]int64

// UnmarshalJSON accepts whole numbers and "unlimited".
func (q *Quotas) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*q = Quotas{}
	for name, v := range raw {
		n, err := ParseQuota(strings.Trim(string(v), `"`))
		if err != nil {
			return fmt.Errorf("module %s: %v", name, err)
		}
		(*q)[name] = n
	}
	return nil
}

// MarshalJSON writes unlimited quotas as "unlimited".
func (q Quotas) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for k, v := range q {
		if v == olr.Unlimited {
			m[k] = "unlimited"
		} else {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// ParseQuota parses a whole number or "unlimited".
func ParseQuota(s string) (int64, error) {
	if s == "unlimited" {
		return olr.Unlimited, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("quota %q is not a whole number or \"unlimited\"", s)
	}
	return n, nil
}

// ParseModuleFlag parses "name=quota".
func ParseModuleFlag(s string) (string, int64, error) {
	name, q, ok := strings.Cut(s, "=")
	if !ok {
		return "", 0, fmt.Errorf("module %q: want NAME=QUOTA, e.g. obm=50 or mobile=unlimited", s)
	}
	n, err := ParseQuota(q)
	return name, n, err
}

// Validate checks what an entitlement says before any request is opened,
// so that a mistake in what the vendor typed is reported as such. now is
// the issue time: an expiry in the past is refused.
func (e *Entitlement) Validate(now time.Time) error {
	if _, err := olr.ParseLicenseType(e.Type); err != nil {
		return err
	}
	for name, q := range e.Modules {
		if !olr.ValidModuleName(name) {
			return fmt.Errorf("module name %q: want lower-case letters, digits and '-', as in obm or vmware-vm", name)
		}
		if q < olr.Unlimited {
			return fmt.Errorf("module %s: negative quota", name)
		}
	}
	for _, lang := range e.Languages {
		if !olr.ValidLanguageTag(lang) {
			return fmt.Errorf("language %q is not a language tag like en or zh-TW", lang)
		}
	}
	for _, d := range []struct{ name, v string }{{"expires", e.Expires}, {"maintenance", e.Maintenance}} {
		if d.v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.v)
		if err != nil {
			return fmt.Errorf("%s %q is not a date like 2027-12-31", d.name, d.v)
		}
		if d.name == "expires" && !t.AddDate(0, 0, 1).After(now) {
			return fmt.Errorf("expires %s: the date is in the past", d.v)
		}
	}
	if e.GraceDays != nil && (*e.GraceDays < 0 || *e.GraceDays > olr.MaxGraceDays) {
		return fmt.Errorf("grace period of %d days is outside 0..%d", *e.GraceDays, olr.MaxGraceDays)
	}
	if e.Threshold != nil && (*e.Threshold < 1 || *e.Threshold > 100) {
		return fmt.Errorf("threshold %d is not a percentage from 1 to 100", *e.Threshold)
	}
	for _, r := range e.Require {
		if !fingerprint.Kind(r).Known() {
			return fmt.Errorf("unknown factor kind %q (known: %v)", r, fingerprint.Kinds)
		}
	}
	return nil
}

// ParseEntitlement reads an entitlement JSON file strictly.
func ParseEntitlement(r io.Reader) (*Entitlement, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var e Entitlement
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("malformed entitlement: %v", err)
	}
	if dec.More() {
		return nil, errors.New("malformed entitlement: trailing data")
	}
	return &e, nil
}

// RefusedError is a policy refusal: the request is well-formed but must
// not be answered. The CLI exits 1 for it.
type RefusedError struct {
	Rule string // short name of the rule, e.g. "offline-oem-only"
	Msg  string
}

func (e *RefusedError) Error() string { return "refused: " + e.Msg }

func refuse(rule, format string, a ...any) error {
	return &RefusedError{Rule: rule, Msg: fmt.Sprintf(format, a...)}
}

// IssueOptions are the vendor's choices for one license.
type IssueOptions struct {
	Now           time.Time
	MaxRequestAge time.Duration // 0: 30 days
	Policy        *fingerprint.Policy
	Product       string // when set, the request must be for this product
}

// DefaultMaxRequestAge is how old a request may be when it is answered.
const DefaultMaxRequestAge = 30 * 24 * time.Hour

// CheckRequest applies the rules that need no ledger: the key's type must
// be OEM, the names must match what was sold exactly (case sensitive),
// and the request must be recent.
func CheckRequest(req *olr.Request, e *Entitlement, opts *IssueOptions) error {
	typ, err := olr.ParseLicenseType(e.Type)
	if err != nil {
		return err
	}
	if typ != olr.TypeOEM {
		return refuse("offline-oem-only", "license key is of type %s: %s", typ, olr.OfflineActivationRule)
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
		return refuse("licensee-mismatch", "licensee name %q does not match %q as sold: %s", req.Licensee, e.Licensee, why)
	}
	product := opts.Product
	if product == "" {
		product = e.Product
	}
	if product != "" && req.Product != product {
		return refuse("product-mismatch", "the request is for product %q, the key is for %q", req.Product, product)
	}
	maxAge := opts.MaxRequestAge
	if maxAge == 0 {
		maxAge = DefaultMaxRequestAge
	}
	created := req.CreatedTime()
	if opts.Now.Sub(created) > maxAge {
		return refuse("request-too-old", "the request was made %s, more than %d days ago; make a new one", created.Format(time.DateOnly), int(maxAge.Hours()/24))
	}
	if created.Sub(opts.Now) > time.Hour {
		return refuse("request-from-future", "the request is dated %s, in the future: check the machine's clock", created.Format(time.RFC3339))
	}
	return nil
}

// BuildLicense makes the license answering req under entitlement e,
// without signing it.
func BuildLicense(req *olr.Request, e *Entitlement, k *Keys, opts *IssueOptions) (*olr.License, error) {
	now := opts.Now.UTC().Truncate(time.Second)
	policy := fingerprint.DefaultPolicy()
	if opts.Policy != nil {
		policy = *opts.Policy
	}
	if e.Threshold != nil {
		policy.Threshold = *e.Threshold
	}
	for _, r := range e.Require {
		k := fingerprint.Kind(r)
		if !slices.Contains(policy.Required, k) {
			policy.Required = append(policy.Required, k)
		}
	}
	for _, k := range policy.Required {
		if !slices.ContainsFunc(req.Fingerprint.Factors, func(f fingerprint.Factor) bool { return f.Kind == k }) {
			return nil, refuse("required-factor-absent",
				"the match policy requires the %s factor, but the machine reported none (its notes: %s)", k, strings.Join(req.Fingerprint.Notes, "; "))
		}
	}
	salt := make([]byte, fingerprint.SaltSize)
	rand.Read(salt)
	binding, err := fingerprint.Bind(&req.Fingerprint, salt, policy)
	if err != nil {
		return nil, fmt.Errorf("cannot bind the license to the request's fingerprint: %v", err)
	}
	typ, err := olr.ParseLicenseType(e.Type)
	if err != nil {
		return nil, err
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
		Product: req.Product, Licensee: req.Licensee, Type: typ,
		GraceDays: int(olr.DefaultGrace.Hours() / 24), Binding: binding,
	}
	if e.GraceDays != nil {
		l.GraceDays = *e.GraceDays
	}
	if e.Expires != "" {
		d, err := time.Parse(time.DateOnly, e.Expires)
		if err != nil {
			return nil, fmt.Errorf("expiry %q is not a date like 2027-12-31", e.Expires)
		}
		l.Expires = d.AddDate(0, 0, 1) // valid through that day
	}
	if e.Maintenance != "" {
		d, err := time.Parse(time.DateOnly, e.Maintenance)
		if err != nil {
			return nil, fmt.Errorf("maintenance date %q is not a date like 2027-12-31", e.Maintenance)
		}
		l.Maintenance = d.AddDate(0, 0, 1)
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

// Issue checks req against e and returns the signed license.olr bytes.
func Issue(req *olr.Request, e *Entitlement, k *Keys, opts *IssueOptions) (*olr.License, []byte, error) {
	if err := CheckRequest(req, e, opts); err != nil {
		return nil, nil, err
	}
	l, err := BuildLicense(req, e, k, opts)
	if err != nil {
		return nil, nil, err
	}
	data, err := olr.Sign(l, k.Signing)
	if err != nil {
		return nil, nil, err
	}
	return l, data, nil
}

// combiningMark returns the first combining mark in s: a sign that a name
// is in decomposed form (as macOS types "ü" as "u" + U+0308).
func combiningMark(s string) (rune, bool) {
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) {
			return r, true
		}
	}
	return 0, false
}
