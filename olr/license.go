package olr

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olr-dev/olr/fingerprint"
)

// LicenseType is the commercial type of a license key. Only OEM keys may
// be activated offline; the other types exist so that the signer can name
// them when it refuses them.
type LicenseType string

// License types, as the vendor's price list names them.
const (
	TypeOEM        LicenseType = "oem"
	TypeMeter      LicenseType = "meter"
	TypeActivePool LicenseType = "active-pool"
	TypeEvaluation LicenseType = "evaluation"
)

// ParseLicenseType accepts the canonical spellings and common variants
// ("OEM", "Active Pool").
func ParseLicenseType(s string) (LicenseType, error) {
	switch strings.ToLower(strings.Join(strings.Fields(strings.ReplaceAll(s, "_", " ")), "-")) {
	case "oem":
		return TypeOEM, nil
	case "meter":
		return TypeMeter, nil
	case "active-pool", "activepool", "pool":
		return TypeActivePool, nil
	case "evaluation", "eval", "trial":
		return TypeEvaluation, nil
	}
	return "", fmt.Errorf("unknown license type %q (want oem, meter, active-pool or evaluation)", s)
}

// OfflineActivationRule is the vendor's rule, quoted where a key of another
// type is refused.
const OfflineActivationRule = "offline license activation is only applicable for the OEM license type; Meter, Active Pool and Evaluation keys do not support offline activation"

// Unlimited is the quota of a module without a limit.
const Unlimited int64 = -1

// Module is a licensed module and its quota (devices, guest VMs, sockets,
// mailboxes, ... as the module counts).
type Module struct {
	Name  string
	Quota int64 // >= 0, or Unlimited
}

// DefaultGrace is the grace period when the vendor sets none.
const DefaultGrace = 14 * 24 * time.Hour

// License is the content of a license.olr file.
type License struct {
	KeyID       KeyID
	ID          string // 32 lower-case hex digits, random
	RequestID   string // the request this license answers
	Issued      time.Time
	NotBefore   time.Time
	Expires     time.Time // zero: never
	Maintenance time.Time // zero: none; end of software maintenance
	Product     string
	Licensee    string
	Type        LicenseType
	Modules     []Module // sorted by name, unique
	Languages   []string // sorted, unique
	GraceDays   int      // 0..365
	Binding     fingerprint.Binding
	// TPM binds the license to one TPM (olr-license/v2); nil for a
	// license bound by its factors alone.
	TPM *TPMBinding
}

// Grace returns the grace period as a duration.
func (l *License) Grace() time.Duration { return time.Duration(l.GraceDays) * 24 * time.Hour }

// Module returns the named module.
func (l *License) Module(name string) (Module, bool) {
	i, ok := slices.BinarySearchFunc(l.Modules, name, func(m Module, n string) int { return strings.Compare(m.Name, n) })
	if !ok {
		return Module{}, false
	}
	return l.Modules[i], true
}

const (
	licenseBegin  = "-----BEGIN OLR LICENSE-----\n"
	licenseEnd    = "-----END OLR LICENSE-----\n"
	licenseFormat = "olr-license/v1"
	// licenseFormatV2 is version 1 plus the TPM binding lines.
	licenseFormatV2 = "olr-license/v2"
	signatureField  = "signature: "
	// licenseSigLabel separates license signatures from any other use of
	// the same key.
	licenseSigLabel = "olr/v1/license-signature\x00"
)

// Validate checks the license's fields against the format's rules.
func (l *License) Validate() error {
	if !isHexID(l.ID) {
		return errors.New("license ID is not 32 lower-case hex digits")
	}
	if !isHexID(l.RequestID) {
		return errors.New("request ID is not 32 lower-case hex digits")
	}
	for _, f := range []struct{ name, v string }{{"product", l.Product}, {"licensee", l.Licensee}} {
		if err := checkValue(f.v); err != nil {
			return fmt.Errorf("%s: %v", f.name, err)
		}
	}
	if l.Type != TypeOEM && l.Type != TypeMeter && l.Type != TypeActivePool && l.Type != TypeEvaluation {
		return fmt.Errorf("unknown license type %q", l.Type)
	}
	if len(l.Modules) > maxModules {
		return fmt.Errorf("more than %d modules", maxModules)
	}
	for i, m := range l.Modules {
		if !isName(m.Name) {
			return fmt.Errorf("module name %q: want lower-case letters, digits and '-'", m.Name)
		}
		if m.Quota < Unlimited {
			return fmt.Errorf("module %s: negative quota", m.Name)
		}
		if m.Quota > maxQuota {
			return fmt.Errorf("module %s: quota larger than %d", m.Name, int64(maxQuota))
		}
		if i > 0 && l.Modules[i-1].Name >= m.Name {
			return fmt.Errorf("modules not sorted or module %s listed twice", m.Name)
		}
	}
	if len(l.Languages) > maxLanguages {
		return fmt.Errorf("more than %d languages", maxLanguages)
	}
	for i, lang := range l.Languages {
		if !isLanguageTag(lang) {
			return fmt.Errorf("language %q is not a language tag like en or zh-TW", lang)
		}
		if i > 0 && l.Languages[i-1] >= lang {
			return fmt.Errorf("languages not sorted or language %s listed twice", lang)
		}
	}
	if l.GraceDays < 0 || l.GraceDays > maxGraceDays {
		return fmt.Errorf("grace period of %d days is outside 0..%d", l.GraceDays, maxGraceDays)
	}
	if l.Issued.IsZero() || l.NotBefore.IsZero() {
		return errors.New("issue time and not-before are required")
	}
	for _, t := range []time.Time{l.Issued, l.NotBefore, l.Expires, l.Maintenance} {
		if !t.IsZero() && (t.UTC().Year() < 1970 || t.UTC().Year() > 9999) {
			return fmt.Errorf("time %s is outside the years 1970 to 9999", t.UTC().Format(time.RFC3339))
		}
	}
	if !l.Expires.IsZero() && !l.Expires.After(l.NotBefore) {
		return errors.New("expiry is not after not-before")
	}
	if l.TPM != nil {
		if err := l.TPM.validate(); err != nil {
			return err
		}
	}
	b := &l.Binding
	if len(b.Salt) != fingerprint.SaltSize {
		return fmt.Errorf("binding salt is %d bytes, want %d", len(b.Salt), fingerprint.SaltSize)
	}
	if err := b.Policy.Validate(); err != nil {
		return err
	}
	if len(b.Factors) == 0 || len(b.Factors) > maxFactors {
		return fmt.Errorf("binding holds %d factors, want 1..%d", len(b.Factors), maxFactors)
	}
	total := 0
	for i, f := range b.Factors {
		if !f.Kind.Known() {
			return fmt.Errorf("binding names unknown factor kind %q", f.Kind)
		}
		if i > 0 && fingerprint.CompareHashed(b.Factors[i-1], f) >= 0 {
			return errors.New("binding factors not sorted or listed twice")
		}
		if i == 0 || b.Factors[i-1].Kind != f.Kind {
			total += b.Policy.Weights[f.Kind]
		}
	}
	// With nothing recorded that weighs, "score x 100 >= threshold x
	// total" would read 0 >= 0: a match on any machine.
	if total == 0 {
		return errors.New("no recorded factor carries weight in the match policy: the license would match any machine")
	}
	return nil
}

// Sign validates l, signs it with key and returns the license.olr file.
func Sign(l *License, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("signing key has the wrong size")
	}
	if id := KeyIDOf(key.Public().(ed25519.PublicKey)); id != l.KeyID {
		return nil, fmt.Errorf("license names key %s but the signing key is %s", l.KeyID, id)
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("invalid license: %w", err)
	}
	return licenseDoc.seal(l.encodeBody(), key), nil
}

func (l *License) encodeBody() []byte {
	var b bytes.Buffer
	w := func(name, value string) { b.WriteString(name + ": " + value + "\n") }
	w("format", l.format())
	w("key-id", l.KeyID.String())
	w("license-id", l.ID)
	w("request-id", l.RequestID)
	w("issued", formatTime(l.Issued))
	w("not-before", formatTime(l.NotBefore))
	if !l.Expires.IsZero() {
		w("expires", formatTime(l.Expires))
	}
	if !l.Maintenance.IsZero() {
		w("maintenance", formatTime(l.Maintenance))
	}
	w("product", l.Product)
	w("licensee", l.Licensee)
	w("type", string(l.Type))
	for _, m := range l.Modules {
		w("module", m.Name+" "+m.QuotaText())
	}
	for _, lang := range l.Languages {
		w("language", lang)
	}
	w("grace-days", strconv.Itoa(l.GraceDays))
	p := l.Binding.Policy
	w("match-threshold", strconv.Itoa(p.Threshold))
	for _, k := range fingerprint.Kinds {
		if wt, ok := p.Weights[k]; ok {
			w("match-weight", string(k)+" "+strconv.Itoa(wt))
		}
	}
	for _, k := range fingerprint.Kinds {
		if slices.Contains(p.Required, k) {
			w("match-require", string(k))
		}
	}
	w("salt", base64.RawStdEncoding.EncodeToString(l.Binding.Salt))
	for _, f := range l.Binding.Factors {
		w("factor", string(f.Kind)+" "+f.Hash.String())
	}
	l.TPM.encode(w)
	return b.Bytes()
}

// QuotaText is the quota as licenses write it: a number or "unlimited".
func (m Module) QuotaText() string {
	if m.Quota == Unlimited {
		return "unlimited"
	}
	return strconv.FormatInt(m.Quota, 10)
}
