package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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

// checkModuleName allows lower-case ASCII letters, digits, '-', '_' and
// '.', starting with a letter: module names are identifiers that end up
// in signed licenses.
func checkModuleName(name string) error {
	if name == "" {
		return errors.New("empty module name")
	}
	if len(name) > maxModuleNameLen {
		return fmt.Errorf("module name longer than %d bytes", maxModuleNameLen)
	}
	for i, c := range []byte(name) {
		ok := 'a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '_' || c == '.')
		if !ok {
			return fmt.Errorf("module name %q: use lower-case letters, digits, '-', '_' and '.', starting with a letter", name)
		}
	}
	return nil
}

// checkLanguage accepts the shape of a BCP 47 tag: 2 or 3 letters, then
// subtags of 1 to 8 letters or digits separated by '-' ("en", "zh-TW",
// "sr-Latn-RS"). Case is kept as sold.
func checkLanguage(tag string) error {
	if len(tag) > maxLanguageLen {
		return fmt.Errorf("language tag longer than %d bytes", maxLanguageLen)
	}
	parts := strings.Split(tag, "-")
	bad := fmt.Errorf("language tag %q is not of the form en, fr or zh-TW", tag)
	if n := len(parts[0]); n < 2 || n > 3 {
		return bad
	}
	for i, p := range parts {
		if p == "" || len(p) > 8 {
			return bad
		}
		for _, c := range []byte(p) {
			letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return bad
			}
		}
	}
	return nil
}

// validateKey checks a sold key before it is stored.
func validateKey(k *SoldKey) error {
	if err := checkText("license_key", k.Key, maxKeyLen, false); err != nil {
		return err
	}
	if err := checkText("licensee", k.Licensee, maxLicenseeLen, false); err != nil {
		return err
	}
	if !k.Type.Valid() {
		return invalid("type", "unknown license type %q (want oem, meter, active-pool or evaluation)", printable(string(k.Type)))
	}
	if err := checkText("product", k.Product, maxProductLen, false); err != nil {
		return err
	}
	if len(k.Modules) > maxModules {
		return invalid("modules", "more than %d modules", maxModules)
	}
	for name, q := range k.Modules {
		if err := checkModuleName(name); err != nil {
			return invalid("modules", "%v", err)
		}
		if q < 0 && q != Unlimited {
			return invalid("modules", "quota of %q is negative", name)
		}
		if q > maxQuota {
			return invalid("modules", "quota of %q is larger than %d", name, maxQuota)
		}
	}
	if len(k.Languages) > maxLanguages {
		return invalid("languages", "more than %d languages", maxLanguages)
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
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
