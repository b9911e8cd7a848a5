package ledger

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
)

// checkText refuses what would make a name ambiguous or unprintable:
// invalid UTF-8, control and format characters (including bidi overrides
// and zero-width spaces), leading or trailing white space. Values are
// otherwise kept exactly: licensee names and keys are case sensitive.
func checkText(field, s string, max int, allowEmpty bool) error {
	if s == "" {
		if allowEmpty {
			return nil
		}
		return invalid(field, "is empty")
	}
	if len(s) > max {
		return invalid(field, "is longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return invalid(field, "contains control or invisible character %U", r)
		}
	}
	if strings.TrimSpace(s) != s {
		return invalid(field, "has leading or trailing white space")
	}
	return nil
}

// validateKey checks a sold key before it is stored: with olr's rules
// for what a license can carry (license type, module names, quotas,
// language tags, text), so that a sale the ledger accepts can be issued,
// and with the ledger's own bounds on what it stores.
func validateKey(k *SoldKey) error {
	if err := checkText("license_key", k.Key, maxKeyLen, false); err != nil {
		return err
	}
	if err := checkSaleText("licensee", k.Licensee, maxLicenseeLen); err != nil {
		return err
	}
	if t, err := olr.ParseLicenseType(string(k.Type)); err != nil || t != k.Type {
		return invalid("type", "unknown license type %q (want oem, meter, active-pool or evaluation)", printable(string(k.Type)))
	}
	if err := checkSaleText("product", k.Product, maxProductLen); err != nil {
		return err
	}
	if len(k.Modules) > olr.MaxModules {
		return invalid("modules", "more than %d modules", olr.MaxModules)
	}
	for name, q := range k.Modules {
		if err := checkModuleName(name); err != nil {
			return invalid("modules", "%v", err)
		}
		if q < 0 && q != Unlimited {
			return invalid("modules", "quota of %q is negative", name)
		}
		if int64(q) > olr.MaxQuota {
			return invalid("modules", "quota of %q is larger than %d", name, olr.MaxQuota)
		}
	}
	if len(k.Languages) > olr.MaxLanguages {
		return invalid("languages", "more than %d languages", olr.MaxLanguages)
	}
	seen := map[string]bool{}
	for _, l := range k.Languages {
		if err := checkLanguage(l); err != nil {
			return invalid("languages", "%v", err)
		}
		if seen[l] {
			return invalid("languages", "%q listed twice", l)
		}
		seen[l] = true
	}
	for _, d := range []struct {
		name string
		t    time.Time
	}{{"expires", k.Expires}, {"maintenance", k.Maintenance}} {
		if !d.t.IsZero() && !isDate(d.t) {
			return invalid(d.name, "must be a calendar date (UTC midnight)")
		}
	}
	return nil
}

// checkSaleText checks a value that a license will carry (licensee,
// product): the ledger's rule for stored text, then olr's rule for a
// license field.
func checkSaleText(field, s string, max int) error {
	if err := checkText(field, s, max, false); err != nil {
		return err
	}
	if err := olr.CheckText(s); err != nil {
		return invalid(field, "%v", err)
	}
	return nil
}

// checkModuleName applies olr's rule for a module name.
func checkModuleName(name string) error {
	if !olr.ValidModuleName(name) {
		return fmt.Errorf("module name %q: a license carries lower-case letters, digits and '-' only (such as obm or vmware-vm)", printable(name))
	}
	return nil
}

// checkLanguage applies olr's rule for a language tag.
func checkLanguage(tag string) error {
	if !olr.ValidLanguageTag(tag) {
		return fmt.Errorf("language tag %q is not of the form en, fr or zh-TW (the language itself in lower case)", printable(tag))
	}
	return nil
}

func isDate(t time.Time) bool {
	return t.Location() == time.UTC && t.Equal(t.Truncate(24*time.Hour)) && t.Year() >= 1 && t.Year() <= 9999
}

// parseDate parses YYYY-MM-DD; the empty string means none.
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) != len(dateLayout) {
		return time.Time{}, fmt.Errorf("date must be YYYY-MM-DD")
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date must be a valid YYYY-MM-DD date")
	}
	return t, nil
}

func formatDate(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(dateLayout)
}

// checkID checks a license or request ID chosen by the signer.
func checkID(field, id string) error { return checkText(field, id, maxIDLen, false) }

// checkFingerprint requires a JSON object or array of bounded size.
func checkFingerprint(fp []byte) error {
	if len(fp) == 0 {
		return invalid("fingerprint", "is empty")
	}
	if len(fp) > maxFingerprintBytes {
		return invalid("fingerprint", "is larger than %d bytes", maxFingerprintBytes)
	}
	if !json.Valid(fp) || (fp[0] != '{' && fp[0] != '[') {
		return invalid("fingerprint", "is not a JSON object or array")
	}
	if !utf8.Valid(fp) {
		return invalid("fingerprint", "is not valid UTF-8")
	}
	return nil
}

// printable quotes at most 40 bytes of s for an error message.
func printable(s string) string {
	if safetext.LooksSecret(s) {
		return safetext.Withheld
	}
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
