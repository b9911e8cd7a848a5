package vectors

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

// licenseBadSignature: signatures that do not verify, and the size limit.
func (g *generator) licenseBadSignature(b licenseBase) {
	base, body := b.file, b.body
	g.license("bad-signature-altered-byte", "bad-signature", "one byte of the licensee changed after signing",
		assemble(edit(body, "licensee: Example Hosting GmbH", "licensee: Example Hosting GmbI"), sigOf(base)), licenseCase{})
	g.license("bad-signature-raised-quota", "bad-signature", "module obm quota raised from 50 to 90 after signing",
		assemble(edit(body, "module: obm 50\n", "module: obm 90\n"), sigOf(base)), licenseCase{})
	{
		sig := ed25519.Sign(vendorKey, []byte(body))
		g.license("bad-signature-no-label", "bad-signature",
			"the signature covers the body without the \"olr/v1/license-signature\\x00\" label",
			assemble(body, base64.RawStdEncoding.EncodeToString(sig)), licenseCase{})
		sig = ed25519.Sign(vendorKey, []byte(sigLabel+beginLine+body))
		g.license("bad-signature-covers-begin-line", "bad-signature",
			"the signature covers the label, the BEGIN line and the body: the BEGIN line is not part of the signed message",
			assemble(body, base64.RawStdEncoding.EncodeToString(sig)), licenseCase{})
	}
	{
		// S + L, where L is the order of the Ed25519 base point. A verifier
		// that does not require S < L (RFC 8032, section 5.1.7) accepts it.
		sig, _ := base64.RawStdEncoding.DecodeString(sigOf(base))
		l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
		s := new(big.Int).SetBytes(reversed(sig[32:]))
		s.Add(s, l)
		be := make([]byte, 32)
		s.FillBytes(be)
		copy(sig[32:], reversed(be))
		g.license("bad-signature-non-canonical-s", "bad-signature",
			"the valid signature with S replaced by S+L (the group order): mathematically it verifies, but RFC 8032 requires S < L",
			assemble(body, base64.RawStdEncoding.EncodeToString(sig)), licenseCase{})
		g.license("bad-signature-zero", "bad-signature", "a signature of 64 zero bytes",
			assemble(body, base64.RawStdEncoding.EncodeToString(make([]byte, 64))), licenseCase{})
	}

	// size limits
	g.license("bad-signature-at-size-limit", "bad-signature",
		fmt.Sprintf("exactly olr.MaxLicenseSize (%d) bytes: passes the size check; padded with module lines after signing, so the signature fails", olr.MaxLicenseSize),
		padded(body, sigOf(base), olr.MaxLicenseSize), licenseCase{})
	g.license("malformed-over-size-limit", "malformed",
		fmt.Sprintf("olr.MaxLicenseSize+1 (%d) bytes: rejected before any other check; the same construction as license-bad-signature-at-size-limit, so a verifier without the limit reports bad-signature", olr.MaxLicenseSize+1),
		padded(body, sigOf(base), olr.MaxLicenseSize+1), licenseCase{})
}

// licenseArmor: the armor, the signature line and copy and paste.
func (g *generator) licenseArmor(b licenseBase) {
	base, body := b.file, b.body
	// malformed, unsigned: the armor and the signature line
	g.license("malformed-empty", "malformed", "a zero-length file", []byte{}, licenseCase{})
	g.license("malformed-truncated", "malformed", "the valid license cut in the middle of a factor line",
		base[:len(base)/2], licenseCase{})
	// Copy and paste: CRLF line endings and LF characters before the
	// BEGIN line or after the END line are undone (SPEC.md, section 3);
	// nothing else is.
	g.license("valid-crlf", "valid", "the valid license with CRLF line endings, as a mail program or Windows editor leaves it",
		bytes.ReplaceAll(base, []byte("\n"), []byte("\r\n")), licenseCase{match: fullMatch})
	g.license("valid-blank-lines-around", "valid", "the valid license with empty lines before the BEGIN line and after the END line",
		slices.Concat([]byte("\n\n"), base, []byte("\n\n")), licenseCase{match: fullMatch})
	g.license("valid-crlf-blank-lines-around", "valid", "CRLF line endings and CRLF empty lines before and after the armor",
		bytes.ReplaceAll(slices.Concat([]byte("\n"), base, []byte("\n")), []byte("\n"), []byte("\r\n")), licenseCase{match: fullMatch})
	g.license("valid-no-final-newline", "valid", "the valid license without the LF after the END line",
		bytes.TrimSuffix(base, []byte("\n")), licenseCase{match: fullMatch})
	g.license("malformed-lone-cr", "malformed", "the LF after the licensee line replaced by a CR: a lone CR is not forgiven",
		[]byte(beginLine+edit(body, "GmbH\ntype: oem\n", "GmbH\rtype: oem\n")+"signature: "+sigOf(base)+"\n"+endLine), licenseCase{})
	g.license("malformed-cr-after-end", "malformed", "a CR instead of the LF after the END line",
		append(bytes.TrimSuffix(slices.Clone(base), []byte("\n")), '\r'), licenseCase{})
	g.license("malformed-trailing-data", "malformed", "the valid license followed by a line of text after the END line",
		append(slices.Clone(base), "Sent from my phone\n"...), licenseCase{})
	g.license("malformed-space-after-end", "malformed", "a space after the END line's LF: only LF and CRLF are forgiven around the armor",
		append(slices.Clone(base), ' '), licenseCase{})
	g.license("malformed-leading-space", "malformed", "a space before the BEGIN line",
		append([]byte(" "), base...), licenseCase{})
	g.license("malformed-space-in-armor", "malformed", "a space at the end of the BEGIN line",
		bytes.Replace(base, []byte("LICENSE-----\n"), []byte("LICENSE----- \n"), 1), licenseCase{})
	g.license("malformed-begin-line", "malformed", "the BEGIN line spelled differently",
		bytes.Replace(base, []byte("BEGIN OLR LICENSE"), []byte("BEGIN OLR LICENCE"), 1), licenseCase{})
	g.license("malformed-no-signature", "malformed", "the signature line removed",
		[]byte(beginLine+body+endLine), licenseCase{})
	{
		sig := sigOf(base)
		// 64 bytes use 512 of the 516 bits of 86 base64 characters; set
		// the lowest unused bit of the last character.
		last := strings.IndexByte(b64chars, sig[85])
		if last&15 != 0 {
			panic("signature's last character has unused bits set")
		}
		nc := sig[:85] + string(b64chars[last|1])
		g.license("malformed-signature-non-canonical-base64", "malformed",
			"the signature's last base64 character has an unused low bit set: it decodes to the same 64 bytes under a lax decoder",
			assemble(body, nc), licenseCase{})
		g.license("malformed-signature-padded", "malformed", "the signature in padded base64 (\"==\")",
			assemble(body, sig+"=="), licenseCase{})
		g.license("malformed-signature-trailing-space", "malformed", "a space after the signature",
			assemble(body, sig+" "), licenseCase{})
		raw, _ := base64.RawStdEncoding.DecodeString(sig)
		g.license("malformed-signature-short", "malformed", "a signature of 63 bytes (the last byte dropped)",
			assemble(body, base64.RawStdEncoding.EncodeToString(raw[:63])), licenseCase{})
		g.license("malformed-signature-long", "malformed", "a signature of 65 bytes (a zero byte appended)",
			assemble(body, base64.RawStdEncoding.EncodeToString(append(raw, 0))), licenseCase{})
		if !strings.ContainsAny(sig, "+/") {
			panic("the signature has no '+' or '/' to spell in URL-safe base64")
		}
		g.license("malformed-signature-url-safe", "malformed", "the signature in the URL-safe base64 alphabet ('-' and '_' for '+' and '/')",
			assemble(body, base64.RawURLEncoding.EncodeToString(raw)), licenseCase{})
	}
	g.license("malformed-key-id-upper-case", "malformed", "key-id in upper-case hex (body altered and signed)",
		resign(edit(body, "key-id: "+keyID(vendorKey).String(), "key-id: "+strings.ToUpper(keyID(vendorKey).String())), vendorKey), licenseCase{})
	g.license("malformed-key-id-15-digits", "malformed",
		"key-id of 15 hex digits: malformed at step 3, not an untrusted key (body altered and signed)",
		resign(edit(body, "key-id: "+keyID(vendorKey).String(), "key-id: "+keyID(vendorKey).String()[:15]), vendorKey), licenseCase{})
	g.license("malformed-key-id-missing", "malformed",
		"no key-id line: the second body line is license-id (body altered and signed)",
		resign(edit(body, "key-id: "+keyID(vendorKey).String()+"\n", ""), vendorKey), licenseCase{})

	// Two files pasted one after the other are malformed at step 1, not
	// a signature that fails.
	sig := sigOf(base)
	g.license("malformed-two-licenses-pasted", "malformed",
		"the valid license twice, one after the other: a second signature line and armor lines inside",
		slices.Concat(base, base), licenseCase{})
	g.license("malformed-two-signature-lines", "malformed",
		"the signature line twice: the first is inside what would be the body",
		assemble(body+"signature: "+sig+"\n", sig), licenseCase{})
	g.license("malformed-armor-line-in-body", "malformed",
		"an END line inside the body, the rest unchanged: a line starting with ----- between BEGIN and END",
		assemble(edit(body, "type: oem\n", "type: oem\n-----END OLR LICENSE-----\n"), sig), licenseCase{})
	g.license("malformed-license-after-revocation-list", "malformed",
		"a revocation list's END line and the license after it, as two files pasted together",
		slices.Concat([]byte(beginLine), []byte("format: olr-crl/v1\n-----END OLR REVOCATION LIST-----\n"), base[len(beginLine):]), licenseCase{})
}

// licenseGrammar: bodies the grammar refuses, signed with the trusted key,
// and a format this version does not read.
func (g *generator) licenseGrammar(b licenseBase) {
	body := b.body
	// malformed, signed: the body grammar. Each body below was altered and
	// then signed with the trusted key, so only the parser can reject it.
	signed := func(name, comment, old, new string) {
		g.t.Helper()
		g.license("malformed-"+name, "malformed", comment+" (body altered, then signed with the trusted key)",
			resign(edit(body, old, new), vendorKey), licenseCase{})
	}
	signed("unknown-field", "an unknown field \"channel\" after type",
		"type: oem\n", "type: oem\nchannel: retail\n")
	signed("duplicate-field", "the licensee field twice",
		"licensee: Example Hosting GmbH\n", "licensee: Example Hosting GmbH\nlicensee: Example Hosting GmbH\n")
	signed("fields-out-of-order", "licensee before product",
		"product: Example Backup Server\nlicensee: Example Hosting GmbH\n", "licensee: Example Hosting GmbH\nproduct: Example Backup Server\n")
	signed("missing-field", "the type field left out",
		"type: oem\n", "")
	signed("blank-line", "an empty line between two fields",
		"type: oem\n", "type: oem\n\n")
	signed("modules-unsorted", "module obm listed before nas",
		"module: nas 2\nmodule: obm 50\n", "module: obm 50\nmodule: nas 2\n")
	signed("duplicate-module", "module obm listed twice",
		"module: obm 50\n", "module: obm 50\nmodule: obm 50\n")
	signed("module-name-upper-case", "a module name with upper-case letters",
		"module: obm 50\n", "module: OBM 50\n")
	signed("quota-leading-zero", "quota 050 for obm",
		"module: obm 50\n", "module: obm 050\n")
	signed("quota-negative", "quota -1 (unlimited is spelled \"unlimited\")",
		"module: obm 50\n", "module: obm -1\n")
	signed("quota-max-int64", "quota 9223372036854775807 (2^63-1), one more than the largest allowed",
		"module: obm 50\n", "module: obm 9223372036854775807\n")
	signed("languages-unsorted", "language ja before fr",
		"language: fr\nlanguage: ja\n", "language: ja\nlanguage: fr\n")
	signed("grace-days-leading-zero", "grace-days 014",
		"grace-days: 14\n", "grace-days: 014\n")
	signed("grace-days-too-large", "grace-days 366, above the limit of 365",
		"grace-days: 14\n", "grace-days: 366\n")
	signed("threshold-zero", "match-threshold 0",
		"match-threshold: 51\n", "match-threshold: 0\n")
	signed("weights-unsorted", "match-weight ip listed before disk-serial",
		"match-weight: disk-serial 15\nmatch-weight: ip 1\n", "match-weight: ip 1\nmatch-weight: disk-serial 15\n")
	signed("time-fractional-seconds", "issued with fractional seconds",
		"issued: 2026-03-02T09:30:00Z\n", "issued: 2026-03-02T09:30:00.000Z\n")
	signed("time-offset", "expires with a +00:00 offset instead of Z",
		"expires: 2027-03-03T00:00:00Z\n", "expires: 2027-03-03T00:00:00+00:00\n")
	signed("time-lower-case", "not-before with lower-case t and z",
		"not-before: 2026-03-02T09:30:00Z\n", "not-before: 2026-03-02t09:30:00z\n")
	signed("expires-before-not-before", "expires earlier than not-before",
		"expires: 2027-03-03T00:00:00Z\n", "expires: 2026-03-01T00:00:00Z\n")
	signed("trailing-space", "a space after the licensee name",
		"licensee: Example Hosting GmbH\n", "licensee: Example Hosting GmbH \n")
	signed("control-character", "a tab inside the licensee name",
		"licensee: Example Hosting GmbH\n", "licensee: Example\tHosting GmbH\n")
	signed("invalid-utf8", "a licensee name that is not valid UTF-8 (Latin-1 \\xfc)",
		"licensee: Example Hosting GmbH\n", "licensee: M\xfcller GmbH\n")
	signed("license-id-upper-case", "license-id in upper-case hex",
		"license-id: "+testID("license/base"), "license-id: "+strings.ToUpper(testID("license/base")))
	{
		salt := base64.RawStdEncoding.EncodeToString(testSeed("salt/base"))
		if last := strings.IndexByte(b64chars, salt[42]); last&3 == 0 {
			signed("salt-non-canonical-base64", "the salt's last base64 character has an unused bit set",
				"salt: "+salt+"\n", "salt: "+salt[:42]+string(b64chars[last|1])+"\n")
		} else {
			panic("salt's last character has unused bits set")
		}
		lines := strings.Split(body, "\n")
		var fl []string
		for _, ln := range lines {
			if strings.HasPrefix(ln, "factor: disk-serial ") {
				fl = append(fl, ln)
			}
		}
		signed("factors-unsorted", "the two disk-serial factors swapped",
			fl[0]+"\n"+fl[1]+"\n", fl[1]+"\n"+fl[0]+"\n")
		signed("unknown-factor-kind", "a factor of unknown kind \"gpu-serial\", in sorted position",
			fl[1]+"\n", fl[1]+"\nfactor: gpu-serial "+fingerprint.HashFactor(testSeed("salt/base"), "gpu-serial", "GPU-1234").String()+"\n")
		hash := strings.TrimPrefix(fl[0], "factor: disk-serial ")
		last := strings.IndexByte(b64chars, hash[42])
		if last&3 != 0 {
			panic("hash's last character has unused bits set")
		}
		signed("factor-hash-non-canonical-base64", "a factor hash whose last base64 character has an unused bit set",
			fl[0]+"\n", "factor: disk-serial "+hash[:42]+string(b64chars[last|2])+"\n")
	}

	// Since SPEC.md states them: a policy that weighs nothing recorded,
	// the bounds, language tags, the text rule, the range of times.
	weights := body[strings.Index(body, "match-weight: "):strings.Index(body, "salt: ")]
	signed("total-weight-zero", "no match-weight line: the recorded kinds weigh 0 in total, and score x 100 >= threshold x total would read 0 >= 0, a match on any machine",
		weights, "")
	{
		tpm := body[strings.Index(body, "factor: tpm-ek "):]
		tpm = tpm[:strings.Index(tpm, "\n")+1]
		g.license("malformed-weight-only-on-unrecorded-kind", "malformed",
			"the only weight is on tpm-ek, and the license records no tpm-ek factor: a total of 0 (body altered, then signed with the trusted key)",
			resign(edit(edit(body, weights, "match-weight: tpm-ek 40\n"), tpm, ""), vendorKey), licenseCase{})
	}
	signed("language-region-lower-case", "language zh-tw: the region is upper case in a tag's one spelling",
		"language: zh-TW\n", "language: zh-tw\n")
	signed("language-same-in-two-cases", "languages zh-TW and zh-tw, in bytewise order: one language listed twice in two cases",
		"language: zh-TW\n", "language: zh-TW\nlanguage: zh-tw\n")
	signed("language-region-twice", "language zh-TW-TW: a region is followed by variants only",
		"language: zh-TW\n", "language: zh-TW-TW\n")
	signed("language-private-use", "language en-x-test: private use subtags are not part of the grammar",
		"language: en\n", "language: en-x-test\n")
	signed("licensee-bidi-override", "a licensee name holding U+202E RIGHT-TO-LEFT OVERRIDE, which shows the text after it reversed",
		"licensee: Example Hosting GmbH\n", "licensee: Example \u202eHbmG gnitsoH\n")
	signed("licensee-zero-width-space", "a licensee name holding U+200B ZERO WIDTH SPACE",
		"licensee: Example Hosting GmbH\n", "licensee: Example\u200b Hosting GmbH\n")
	signed("licensee-line-separator", "a licensee name holding U+2028 LINE SEPARATOR",
		"licensee: Example Hosting GmbH\n", "licensee: Example\u2028Hosting GmbH\n")
	signed("licensee-trailing-no-break-space", "a licensee name ending in U+00A0 NO-BREAK SPACE",
		"licensee: Example Hosting GmbH\n", "licensee: Example Hosting GmbH\u00a0\n")
	signed("expires-zero-time", "expires 0001-01-01T00:00:00Z, before not-before and before 1970 (a verifier that reads it as \"no expiry\" accepts it)",
		"expires: 2027-03-03T00:00:00Z\n", "expires: 0001-01-01T00:00:00Z\n")
	signed("time-before-1970", "maintenance 1969-12-31T23:59:59Z: times run from 1970 to 9999",
		"maintenance: 2027-03-03T00:00:00Z\n", "maintenance: 1969-12-31T23:59:59Z\n")
	{
		var modules, languages strings.Builder
		for i := range 257 {
			fmt.Fprintf(&modules, "module: m%03d 1\n", i)
		}
		for i := range 129 {
			languages.WriteString("language: " + string(rune('a'+i/26)) + string(rune('a'+i%26)) + "\n")
		}
		signed("257-modules", "257 modules, one more than a license may list",
			body[strings.Index(body, "module: "):strings.Index(body, "language: ")], modules.String())
		signed("129-languages", "129 languages, one more than a license may list",
			body[strings.Index(body, "language: "):strings.Index(body, "grace-days: ")], languages.String())
	}

	// unsupported-format
	g.license("unsupported-format-v3", "unsupported-format",
		"format olr-license/v3, otherwise the valid license (body altered, then signed with the trusted key)",
		resign(edit(body, "format: olr-license/v1\n", "format: olr-license/v3\n"), vendorKey), licenseCase{})
}
