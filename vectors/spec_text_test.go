package vectors

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The rules SPEC.md states once and uses in several places (its
// Conventions and section 1), written from the text of SPEC.md without the
// olr and fingerprint packages, for TestVectorsAgainstSpec.

// specRefused is the list of characters text may not hold, as SPEC.md's
// Conventions give it: controls, U+2028, U+2029, U+FFFD and the format
// characters of Unicode 15.0.
var specRefused = [][2]rune{
	{0x0000, 0x001f}, {0x007f, 0x009f}, {0x2028, 0x2029}, {0xfffd, 0xfffd},
	{0x00ad, 0x00ad}, {0x0600, 0x0605}, {0x061c, 0x061c}, {0x06dd, 0x06dd},
	{0x070f, 0x070f}, {0x0890, 0x0891}, {0x08e2, 0x08e2}, {0x180e, 0x180e},
	{0x200b, 0x200f}, {0x202a, 0x202e}, {0x2060, 0x2064}, {0x2066, 0x206f},
	{0xfeff, 0xfeff}, {0xfff9, 0xfffb}, {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
	{0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
	{0xe0020, 0xe007f},
}

// specSpace is the white space text may not start or end with.
var specSpace = [][2]rune{{0x0020, 0x0020}, {0x00a0, 0x00a0}, {0x1680, 0x1680}, {0x2000, 0x200a}, {0x202f, 0x202f}, {0x205f, 0x205f}, {0x3000, 0x3000}}

func inRanges(r rune, ranges [][2]rune) bool {
	return slices.ContainsFunc(ranges, func(rg [2]rune) bool { return rg[0] <= r && r <= rg[1] })
}

// specText reports whether s is text of at most max bytes.
func specText(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if inRanges(r, specRefused) {
			return false
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return !inRanges(first, specSpace) && !inRanges(last, specSpace)
}

var (
	specTimeRE   = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$`)
	specNumberRE = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	specHex32RE  = regexp.MustCompile(`^[0-9a-f]{32}$`)
	specKeyIDRE  = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// specTime parses a time of SPEC.md's Conventions.
func specTime(s string) (time.Time, bool) {
	if !specTimeRE.MatchString(s) {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02T15:04:05Z", s)
	if err != nil || t.Year() < 1970 {
		return time.Time{}, false
	}
	return t, true
}

// specNumber parses a number of SPEC.md's Conventions in lo..hi.
func specNumber(s string, lo, hi uint64) (uint64, bool) {
	if !specNumberRE.MatchString(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && lo <= n && n <= hi
}

var specKinds = []string{"mac", "ip", "machine-id", "product-uuid", "product-serial", "board-serial", "disk-serial", "tpm-ek"}

var (
	specMACRE  = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)
	specUUIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	specTPMRE  = regexp.MustCompile(`^000b[0-9a-f]{64}$`)
	specQEMURE = regexp.MustCompile(`^qm0000[0-9]$`)
)

var specPlaceholders = strings.Split("to be filled by o.e.m.|to be filled by o.e.m|to be filled by oem|fill by oem|"+
	"default string|default|system serial number|system product name|system manufacturer|system uuid|"+
	"base board serial number|type2 - board serial number|chassis serial number|not specified|not applicable|"+
	"not available|not present|not set|no asset information|type1productconfigid|none|n/a|na|oem|o.e.m.|tbd|"+
	"invalid|unknown|empty|serial|serial number|serialnumber|0|00000000|xxxxxxxxxxxx|12345678|123456789|"+
	"0123456789|1234567890|bsn12345678901234567", "|")

// oneRepeated reports whether s is empty or one character repeated.
func oneRepeated(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return strings.Trim(s, string(r)) == ""
}

// specNormal reports whether value is a value of kind in normal form
// (SPEC.md section 1).
func specNormal(kind, value string) bool {
	if !specText(value, 256) {
		return false
	}
	switch kind {
	case "mac":
		if !specMACRE.MatchString(value) {
			return false
		}
		first, _ := strconv.ParseUint(value[:2], 16, 8)
		return first&1 == 0 && !oneRepeated(strings.ReplaceAll(value, ":", ""))
	case "ip":
		a, err := netip.ParseAddr(value)
		if err != nil || a.Zone() != "" || a.String() != value || a.Is4In6() {
			return false
		}
		if a.Is4() {
			b := a.As4()
			return b[0] != 0 && b[0] != 127 && b[0] < 224 && !(b[0] == 169 && b[1] == 254)
		}
		b := a.As16()
		return a != netip.IPv6Unspecified() && a != netip.IPv6Loopback() &&
			!(b[0] == 0xfe && b[1]&0xc0 == 0x80) && b[0] != 0xff
	case "machine-id":
		return specHex32RE.MatchString(value) && !oneRepeated(value)
	case "product-uuid":
		return specUUIDRE.MatchString(value) && !oneRepeated(strings.ReplaceAll(value, "-", "")) &&
			value != "03000200-0400-0500-0006-000700080009"
	case "product-serial", "board-serial", "disk-serial":
		l := []byte(value)
		for i, c := range l {
			if 'A' <= c && c <= 'Z' {
				l[i] = c + 32
			}
		}
		lower := string(l)
		compact := strings.NewReplacer("-", "", ":", "", " ", "", ".", "").Replace(lower)
		return !slices.Contains(specPlaceholders, lower) && !specQEMURE.MatchString(lower) && !oneRepeated(compact)
	case "tpm-ek":
		return specTPMRE.MatchString(value)
	}
	return false
}

// specLanguageRE is the language tag grammar of SPEC.md section 3; the
// variants are checked for repeats apart.
var specLanguageRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?((-([a-z0-9]{5,8}|[0-9][a-z0-9]{3})))*$`)

func specLanguage(tag string) bool {
	if len(tag) > 35 || !specLanguageRE.MatchString(tag) {
		return false
	}
	// Variants are the subtags of 4 or more characters after the
	// language, other than a script (which starts with an upper-case
	// letter).
	var variants []string
	for _, sub := range strings.Split(tag, "-")[1:] {
		if len(sub) >= 4 && !('A' <= sub[0] && sub[0] <= 'Z') {
			if slices.Contains(variants, sub) {
				return false
			}
			variants = append(variants, sub)
		}
	}
	return true
}
