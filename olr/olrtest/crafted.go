package olrtest

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/olr-dev/olr/olr"
)

// CraftedLicense is a license file made by hand, and the verdict SPEC.md
// section 3 gives it on the machine it binds.
type CraftedLicense struct {
	Name string
	File []byte
	Want olr.Reason // "" for valid
}

// CraftedLicenses returns licenses made by hand from lic, a license made
// by [License] and signed by key, each deciding one rule of SPEC.md
// section 3, with the verdict on the machine lic binds while lic is in
// force: body edits signed with key, so that only the parser can refuse
// them, and armor edits that need no key. olr's tests run them through
// Verify, internal/clitest through the olr binary.
func CraftedLicenses(lic []byte, key ed25519.PrivateKey) []CraftedLicense {
	body := Body(lic)
	edit := func(old, new string) string {
		if strings.Count(body, old) != 1 {
			panic(fmt.Sprintf("olrtest: the body holds %q %d times", old, strings.Count(body, old)))
		}
		return strings.Replace(body, old, new, 1)
	}
	signed := func(old, new string) []byte { return Resign(edit(old, new), key) }
	languages := "language: en\nlanguage: zh-TW\n"
	lang := func(tags ...string) []byte {
		var b strings.Builder
		for _, tag := range tags {
			b.WriteString("language: " + tag + "\n")
		}
		return signed(languages, b.String())
	}
	langs := func(n int) []byte {
		var tags []string
		for i := range n {
			tags = append(tags, string(rune('a'+i/26))+string(rune('a'+i%26)))
		}
		return lang(tags...)
	}
	modules := func(n int) []byte {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "module: m%03d 1\n", i)
		}
		return signed(body[strings.Index(body, "module: "):strings.Index(body, "language: ")], b.String())
	}
	licensee := "licensee: Example Backup Ltd\n"
	weights := body[strings.Index(body, "match-weight: "):strings.Index(body, "salt: ")]
	firstKind := strings.Fields(body[strings.Index(body, "\nfactor: "):])[1] // a kind the license records
	keyID := strings.TrimPrefix(strings.SplitN(body, "\n", 3)[1], "key-id: ")
	sigLine := "signature: " + strings.TrimSuffix(strings.SplitAfter(string(lic), "signature: ")[1], "\n-----END OLR LICENSE-----\n") + "\n"
	unsigned := func(b string) []byte {
		return []byte("-----BEGIN OLR LICENSE-----\n" + b + sigLine + "-----END OLR LICENSE-----\n")
	}
	const (
		valid     = olr.Reason("")
		malformed = olr.ReasonMalformed
	)
	return []CraftedLicense{
		{"genuine", lic, valid},

		// Armor (step 1): two files pasted together are malformed, not a
		// signature that fails.
		{"two licenses pasted", append(append([]byte{}, lic...), lic...), malformed},
		{"two licenses and a blank line", []byte(string(lic) + "\n" + string(lic)), malformed},
		{"a second signature line", unsigned(body + sigLine), malformed},
		{"a signature line first", unsigned(sigLine + body), malformed},
		{"a signature line without its space", []byte(strings.Replace(string(lic), "signature: ", "signature:", 1)), malformed},
		{"an armor line in the body", unsigned(edit("type: oem\n", "type: oem\n-----END OLR LICENSE-----\n")), malformed},
		{"a BEGIN line after BEGIN", []byte("-----BEGIN OLR LICENSE-----\n" + string(lic)), malformed},
		{"END not on its own line", []byte(strings.Replace(string(lic), "\n-----END", "-----END", 1)), malformed},

		// The format and key-id lines (steps 2 and 3).
		{"format v3", signed("format: olr-license/v1\n", "format: olr-license/v3\n"), olr.ReasonUnsupported},
		{"format v2 without a TPM binding", signed("format: olr-license/v1\n", "format: olr-license/v2\n"), olr.ReasonMalformed},
		{"format with a trailing space", signed("format: olr-license/v1\n", "format: olr-license/v1 \n"), olr.ReasonUnsupported},
		{"format without its space", signed("format: olr-license/v1\n", "format:olr-license/v1\n"), malformed},
		{"key-id upper case", signed("key-id: "+keyID, "key-id: "+strings.ToUpper(keyID)), malformed},
		{"key-id of 15 digits", signed("key-id: "+keyID, "key-id: "+keyID[:15]), malformed},
		{"key-id line missing", signed("key-id: "+keyID+"\n", ""), malformed},
		{"key-id of another key", signed("key-id: "+keyID, "key-id: 0123456789abcdef"), olr.ReasonUntrustedKey},

		// The grammar (step 5).
		{"no weight on what is recorded", signed(weights, "match-weight: ip 0\n"), malformed},
		{"no weight at all", signed(weights, ""), malformed},
		{"one unit of weight", signed(weights, "match-weight: "+firstKind+" 1\n"), valid},
		{"largest quota", signed("module: obm 50\n", "module: obm 9223372036854775806\n"), valid},
		{"quota 2^63-1", signed("module: obm 50\n", "module: obm 9223372036854775807\n"), malformed},
		{"256 modules", modules(256), valid},
		{"257 modules", modules(257), malformed},
		{"128 languages", langs(128), valid},
		{"129 languages", langs(129), malformed},
		{"expires at Go's zero time", signed("expires: 2027-01-15T09:30:00Z\n", "expires: 0001-01-01T00:00:00Z\n"), malformed},
		{"expires in 1969", signed("expires: 2027-01-15T09:30:00Z\n", "expires: 1969-12-31T23:59:59Z\n"), malformed},
		{"maintenance in 10000", signed("maintenance: 2027-01-15T09:30:00Z\n", "maintenance: 10000-01-01T00:00:00Z\n"), malformed},
		{"licensee with a bidi override", signed(licensee, "licensee: Example \u202eLtd\n"), malformed},
		{"licensee with a zero-width space", signed(licensee, "licensee: Example\u200bBackup Ltd\n"), malformed},
		{"licensee with a byte order mark", signed(licensee, "licensee: \ufeffExample Backup Ltd\n"), malformed},
		{"licensee with a line separator", signed(licensee, "licensee: Example\u2028Backup Ltd\n"), malformed},
		{"licensee with a trailing no-break space", signed(licensee, "licensee: Example Backup Ltd\u00a0\n"), malformed},
		{"licensee with an inner no-break space", signed(licensee, "licensee: Example\u00a0Backup Ltd\n"), valid},

		// Language tags: RFC 5646 in its canonical case, one spelling each.
		{"language en-US", lang("en-US"), valid},
		{"language zh-Hant-TW", lang("en", "zh-Hant-TW"), valid},
		{"language es-419", lang("es-419"), valid},
		{"language de-CH-1996", lang("de-CH-1996"), valid},
		{"language sl-rozaj-biske", lang("sl-rozaj-biske"), valid},
		{"language zh-tw", lang("en", "zh-tw"), malformed},
		{"language zh-TW twice in two cases", lang("zh-TW", "zh-tw"), malformed},
		{"language en-us", lang("en-us"), malformed},
		{"language EN", lang("EN"), malformed},
		{"language sr-latn", lang("sr-latn"), malformed},
		{"language zh-TW-TW", lang("zh-TW-TW"), malformed},
		{"language de-1996-1996", lang("de-1996-1996"), malformed},
		{"language with an extension", lang("en-a-bbb"), malformed},
		{"language private use", lang("en-x-test"), malformed},
		{"language extlang", lang("zh-yue"), malformed},
		{"language of 4 letters", lang("engl"), malformed},
		{"language with an empty subtag", lang("en--US"), malformed},
	}
}
