package olr

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkValue enforces what any field value may hold: non-empty UTF-8
// without control characters or surrounding spaces, at most maxValue
// bytes. The same rule applies to names entered at the vendor, so that
// what is signed is what is shown.
func checkValue(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	if len(v) > maxValue {
		return fmt.Errorf("value longer than %d bytes", maxValue)
	}
	if isPlainASCII(v) {
		return nil // the common case, checked without decoding runes
	}
	if !utf8.ValidString(v) {
		return errors.New("value is not valid UTF-8")
	}
	if strings.TrimSpace(v) != v {
		return errors.New("value has leading or trailing spaces")
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return errors.New("value has control characters")
		}
	}
	return nil
}

// isPlainASCII reports whether v is printable ASCII that neither starts
// nor ends with a space: a value checkValue accepts.
func isPlainASCII(v string) bool {
	if v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// CheckText reports whether s can be a license field value such as a
// licensee name or product (what the signer checks before issuing).
func CheckText(s string) error { return checkValue(s) }

func isHexID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidModuleName reports whether s can name a module: 1 to 64 of
// [a-z0-9-], not starting with '-'.
func ValidModuleName(s string) bool { return isName(s) }

// ValidLanguageTag reports whether s is a language tag a license accepts
// (en, zh-TW, sr-Latn).
func ValidLanguageTag(s string) bool { return isLanguageTag(s) }

// MaxGraceDays is the longest grace period a license may grant.
const MaxGraceDays = maxGraceDays

// isName reports whether s is a module name: 1..64 of [a-z0-9-], starting
// with a letter or digit.
func isName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isLanguageTag accepts simple BCP 47 tags: a primary language of 2 or 3
// lower-case letters, then subtags of 1 to 8 letters or digits separated
// by '-': en, zh-TW, pt-BR, sr-Latn.
func isLanguageTag(s string) bool {
	if len(s) > 35 {
		return false
	}
	part, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '-' {
			c := s[i]
			if part == 0 && !('a' <= c && c <= 'z') {
				return false
			}
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return false
			}
			continue
		}
		n := i - start
		if n == 0 || n > 8 || part == 0 && (n < 2 || n > 3) {
			return false
		}
		part, start = part+1, i+1
	}
	return true
}
