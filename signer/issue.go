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
	Threshold   int      `json:"threshold,omitempty"`
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
		return refuse("licensee-mismatch", "licensee name %q does not match %q as sold (names are case sensitive)", req.Licensee, e.Licensee)
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
	if e.Threshold != 0 {
		policy.Threshold = e.Threshold
	}
	for _, r := range e.Require {
		k := fingerprint.Kind(r)
		if !slices.Contains(policy.Required, k) {
			policy.Required = append(policy.Required, k)
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
	l := &olr.License{
		KeyID: k.KeyID, ID: olr.NewID(), RequestID: req.ID,
		Issued: now, NotBefore: now,
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
