package olr

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/olr-dev/olr/fingerprint"
)

// The text rule (SPEC.md, "Text"): what a licensee name, a product, a
// request's host name or a collector's note may hold. Such text is shown
// to support staff and to the customer's operators, on terminals and web
// pages, so it must show as what it is: no control characters (terminal
// escapes), no bidi controls or zero-width characters (text that reads
// differently from its bytes), no surrounding white space (two names that
// look the same).

// checkValue applies the text rule to a field value of at most maxValue
// bytes. The same rule applies to names entered at the vendor, so that
// what is signed is what is shown.
func checkValue(v string) error { return checkText(v, maxValue) }

// checkNote applies the text rule to a collector's note, which may be
// longer than a field value.
func checkNote(s string) error { return checkText(s, maxNote) }

// checkText enforces the text rule: non-empty valid UTF-8 of at most max
// bytes, no character that fingerprint.RefusedRune refuses, and no white
// space at either end.
func checkText(v string, max int) error {
	if v == "" {
		return errors.New("empty value")
	}
	if len(v) > max {
		return fmt.Errorf("value longer than %d bytes", max)
	}
	if isPlainASCII(v) {
		return nil // the common case, checked without decoding runes
	}
	if !utf8.ValidString(v) {
		return errors.New("value is not valid UTF-8")
	}
	for _, r := range v {
		if fingerprint.RefusedRune(r) {
			return fmt.Errorf("value has a control or invisible character (%U)", r)
		}
	}
	first, _ := utf8.DecodeRuneInString(v)
	last, _ := utf8.DecodeLastRuneInString(v)
	if isSpace(first) || isSpace(last) {
		return errors.New("value has leading or trailing spaces")
	}
	return nil
}

// isSpace reports whether r is white space (Unicode White_Space) that the
// text rule does not refuse outright.
func isSpace(r rune) bool {
	switch {
	case r == ' ', r == 0xa0, r == 0x1680, 0x2000 <= r && r <= 0x200a, r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

// isPlainASCII reports whether v is printable ASCII that neither starts
// nor ends with a space: a value checkText accepts.
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

// ValidLanguageTag reports whether s is a language tag a license accepts:
// a BCP 47 tag of language, optional script, optional region and variants,
// in its canonical case (en, zh-TW, sr-Latn, zh-Hant-TW, es-419,
// de-CH-1996).
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

// isLanguageTag accepts the language tags of RFC 5646 made of a language,
// a script, a region and variants, each in the case RFC 5646 section
// 2.1.1 recommends, so that a tag has one spelling and a license cannot
// list one language twice in two cases:
//
//	tag      = language ["-" script] ["-" region] *("-" variant)
//	language = 2*3LOWER
//	script   = UPPER 3LOWER
//	region   = 2UPPER / 3DIGIT
//	variant  = 5*8(LOWER / DIGIT) / DIGIT 3(LOWER / DIGIT)
//
// No variant twice, at most maxLanguageTag bytes. Extended language
// subtags, extensions, private use and the grandfathered tags are left
// out: a product's languages do not need them.
func isLanguageTag(s string) bool {
	if len(s) > maxLanguageTag {
		return false
	}
	const (
		wantLanguage = iota
		wantScript
		wantRegion
		wantVariant
	)
	want, start := wantLanguage, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '-' {
			continue
		}
		sub, before := s[start:i], s[:start]
		start = i + 1
		switch {
		case want == wantLanguage:
			if len(sub) < 2 || len(sub) > 3 || !all(sub, isLower) {
				return false
			}
			want = wantScript
		case want <= wantScript && len(sub) == 4 && isUpper(sub[0]) && all(sub[1:], isLower):
			want = wantRegion
		case want <= wantRegion && (len(sub) == 2 && all(sub, isUpper) || len(sub) == 3 && all(sub, isDigit)):
			want = wantVariant
		default:
			variant := (5 <= len(sub) && len(sub) <= 8 || len(sub) == 4 && isDigit(sub[0])) &&
				all(sub, func(c byte) bool { return isLower(c) || isDigit(c) })
			if !variant || hasSubtag(before, sub) {
				return false
			}
			want = wantVariant
		}
	}
	return true
}

// hasSubtag reports whether the '-'-separated tags hold sub.
func hasSubtag(tags, sub string) bool {
	for tags != "" {
		var t string
		t, tags, _ = strings.Cut(tags, "-")
		if t == sub {
			return true
		}
	}
	return false
}

func all(s string, f func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !f(s[i]) {
			return false
		}
	}
	return true
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
