package olr

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestLanguageTags(t *testing.T) {
	for tag, want := range map[string]bool{
		"en": true, "zh-TW": true, "sr-Latn": true, "zh-Hant-TW": true, "es-419": true,
		"de-CH-1996": true, "de-1996": true, "de-Latn-1996": true, "de-CH-1901-1996": true, "sl-rozaj-biske": true,
		"": false, "e": false, "EN": false, "engl": false, "en-": false, "-en": false, "en--US": false, "en-US-": false,
		"zh-tw": false, "sr-latn": false, "en-us": false, "zh-TW-TW": false, "en-US-Latn": false,
		"de-1996-1996": false, "sl-rozaj-rozaj": false, "en-a-bbb": false, "en-x-test": false, "zh-yue": false,
		"ab-cdefghijk":                        false,
		"aaa-abcdefg1-abcdefg2-abcdefg3-1ab2": true, "aaa-abcdefg1-abcdefg2-abcdefg3-1abc2": false, // 35 bytes, 36
	} {
		if got := ValidLanguageTag(tag); got != want {
			t.Errorf("ValidLanguageTag(%q) = %v, want %v", tag, got, want)
		}
	}
}

// specLanguageTag is SPEC.md's language tag grammar, as a regular
// expression and the two rules beside it.
var specLanguageTag = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?(-([a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*$`)

// FuzzLanguageTag checks isLanguageTag against the grammar of SPEC.md.
func FuzzLanguageTag(f *testing.F) {
	for _, s := range []string{"en", "zh-Hant-TW", "de-CH-1901-1996", "zh-TW-TW", "sl-rozaj-rozaj", "en--US"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) <= maxLanguageTag && specLanguageTag.MatchString(s)
		if want {
			var variants []string
			for _, sub := range strings.Split(s, "-")[1:] {
				if len(sub) >= 4 && !('A' <= sub[0] && sub[0] <= 'Z') {
					if slices.Contains(variants, sub) {
						want = false
					}
					variants = append(variants, sub)
				}
			}
		}
		if got := isLanguageTag(s); got != want {
			t.Fatalf("isLanguageTag(%q) = %v, the grammar says %v", s, got, want)
		}
	})
}
