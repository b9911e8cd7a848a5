package vectors

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/olr-dev/olr/olr"
)

func (g *generator) trust(name, expect, comment string, file []byte, keys int) {
	g.t.Helper()
	h := []Header{{"expect", expect}, {"kind", "trust"}, {"comment", comment}}
	if expect == "ok" {
		h = append(h, Header{"keys", fmt.Sprint(keys)})
	}
	g.add("trust-"+name, h, file)
}

// trustVectors: trust bundles (SPEC.md section 5).
func (g *generator) trustVectors() {
	lines := func(ls ...string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }
	cur, ret := "key: "+trustVendor[0], "key: "+trustLine(retiredKey, retiredFrom, retiredTo)
	ok := lines("olr-trust/v1", "# Example Vendor signing keys", "", cur, "# rotated out at the end of January 2026", ret)
	g.trust("ok", "ok", "two keys, one with a closed window, with a comment line and an empty line", ok, 2)
	many := []string{"olr-trust/v1"}
	for i := range 65 {
		many = append(many, "key: "+trustLine(testKey(fmt.Sprintf("bundle key %d", i)), vendorFrom, time.Time{}))
	}
	g.trust("ok-64-keys", "ok", "64 keys, the most a bundle may hold", lines(many[:65]...), 64)
	g.trust("malformed-65-keys", "malformed", "65 keys, one more than a bundle may hold", lines(many...), 0)
	g.trust("ok-window-one-instant", "ok", "a key whose window starts and ends at the same instant: the end is not before the start",
		lines("olr-trust/v1", "key: "+trustLine(vendorKey, vendorFrom, vendorFrom)), 1)
	{
		head := lines("olr-trust/v1", cur, "# ")
		pad := func(size int) []byte {
			out := slices.Concat(head[:len(head)-1], bytes.Repeat([]byte("x"), size-len(head)), []byte("\n"))
			if len(out) != size {
				panic("padded trust bundle has the wrong size")
			}
			return out
		}
		g.trust("ok-at-size-limit", "ok", fmt.Sprintf("exactly olr.MaxTrustSize (%d) bytes, filled by a long comment", olr.MaxTrustSize),
			pad(olr.MaxTrustSize), 1)
		g.trust("malformed-over-size-limit", "malformed", fmt.Sprintf("olr.MaxTrustSize+1 (%d) bytes, the same construction", olr.MaxTrustSize+1),
			pad(olr.MaxTrustSize+1), 0)
	}
	g.trust("malformed-empty", "malformed", "a zero-length file", []byte{}, 0)
	g.trust("malformed-no-final-newline", "malformed", "the bundle of trust-ok without the LF after its last line",
		bytes.TrimSuffix(ok, []byte("\n")), 0)
	g.trust("malformed-crlf", "malformed", "the bundle of trust-ok with CRLF line endings: a trust bundle has no copy-and-paste rules",
		bytes.ReplaceAll(ok, []byte("\n"), []byte("\r\n")), 0)
	g.trust("malformed-no-key", "malformed", "the version line and a comment, no key", lines("olr-trust/v1", "# no key yet"), 0)
	g.trust("malformed-version-v2", "malformed", "the version line olr-trust/v2", lines("olr-trust/v2", cur), 0)
	g.trust("malformed-indented-comment", "malformed", "a comment line that starts with a space: neither empty, a comment nor a key line",
		lines("olr-trust/v1", " # comment", cur), 0)
	f := strings.Fields(trustVendor[0])
	g.trust("malformed-key-id-of-another-key", "malformed", "the key ID of the retired key with the current key's public key",
		lines("olr-trust/v1", "key: "+keyID(retiredKey).String()+" "+strings.Join(f[1:], " ")), 0)
	g.trust("malformed-key-id-upper-case", "malformed", "the key ID in upper-case hex",
		lines("olr-trust/v1", "key: "+strings.ToUpper(f[0])+" "+strings.Join(f[1:], " ")), 0)
	g.trust("malformed-duplicate-key", "malformed", "the same key line twice", lines("olr-trust/v1", cur, cur), 0)
	g.trust("malformed-window-reversed", "malformed", "a window whose end is before its start",
		lines("olr-trust/v1", "key: "+f[0]+" "+f[1]+" 2026-02-01T00:00:00Z 2026-01-31T23:59:59Z"), 0)
	g.trust("malformed-two-spaces", "malformed", "two spaces between the key ID and the public key",
		lines("olr-trust/v1", "key: "+f[0]+"  "+strings.Join(f[1:], " ")), 0)
	{
		last := strings.IndexByte(b64chars, f[1][42])
		if last&3 != 0 {
			panic("the public key's last character has unused bits set")
		}
		g.trust("malformed-public-key-non-canonical", "malformed", "the public key's last base64 character has an unused bit set",
			lines("olr-trust/v1", "key: "+f[0]+" "+f[1][:42]+string(b64chars[last|1])+" "+f[2]+" "+f[3]), 0)
	}
}

const (
	crlBegin = "-----BEGIN OLR REVOCATION LIST-----\n"
	crlEnd   = "-----END OLR REVOCATION LIST-----\n"
	crlLabel = "olr/v1/crl-signature\x00"
)

// resignCRL signs a revocation list body as it is.
func resignCRL(body string, key ed25519.PrivateKey, label string) []byte {
	sig := ed25519.Sign(key, []byte(label+body))
	return []byte(crlBegin + body + "signature: " + base64.RawStdEncoding.EncodeToString(sig) + "\n" + crlEnd)
}

// crlCase is the reading side of a revocation list vector.
type crlCase struct {
	trust   []string // default trustVendor
	number  uint64   // for ok
	revoked []string // for ok
}

func (g *generator) crl(name, expect, comment string, file []byte, c crlCase) {
	g.t.Helper()
	if c.trust == nil {
		c.trust = trustVendor
	}
	h := []Header{{"expect", expect}, {"kind", "revocation-list"}, {"comment", comment}}
	for _, tl := range c.trust {
		h = append(h, Header{"trust", tl})
	}
	if expect == "ok" {
		h = append(h, Header{"number", fmt.Sprint(c.number)})
		for _, id := range c.revoked {
			h = append(h, Header{"revoked", id})
		}
	}
	g.add("revocation-list-"+name, h, file)
}

// crlVectors: revocation lists (SPEC.md section 6).
func (g *generator) crlVectors() {
	ids := []string{testID("license/revoked-1"), testID("license/revoked-2")}
	slices.Sort(ids)
	issued := date("2026-11-27T17:16:45Z")
	list := func(key ed25519.PrivateKey, n uint64, at time.Time, revoked []string) []byte {
		b, err := olr.SignRevocationList(&olr.RevocationList{KeyID: keyID(key), Number: n, Issued: at, Revoked: revoked}, key)
		if err != nil {
			panic(err)
		}
		return b
	}
	ok := list(vendorKey, 7, issued, ids)
	body := strings.TrimPrefix(string(ok), crlBegin)
	body = body[:strings.LastIndex(body, "\nsignature: ")+1]
	signed := func(name, comment, old, new string) {
		g.t.Helper()
		g.crl("malformed-"+name, "malformed", comment+" (body altered, then signed with the trusted key)",
			resignCRL(edit(body, old, new), vendorKey, crlLabel), crlCase{})
	}

	g.crl("ok", "ok", "list number 7, revoking two licenses", ok, crlCase{number: 7, revoked: ids})
	g.crl("ok-empty", "ok", "a list that revokes nothing", list(vendorKey, 1, issued, nil), crlCase{number: 1})
	g.crl("ok-largest-number", "ok", "number 18446744073709551615 (2^64-1), the largest", list(vendorKey, 1<<64-1, issued, ids),
		crlCase{number: 1<<64 - 1, revoked: ids})
	g.crl("ok-crlf-blank-lines-around", "ok", "CRLF line endings and empty lines around the armor: the copy-and-paste rules of a license",
		bytes.ReplaceAll(slices.Concat([]byte("\n"), ok, []byte("\n")), []byte("\n"), []byte("\r\n")), crlCase{number: 7, revoked: ids})
	g.crl("ok-rotated-key", "ok", "signed by the retired key within its window", list(retiredKey, 3, date("2026-01-20T00:00:00Z"), ids),
		crlCase{trust: trustRotated, number: 3, revoked: ids})

	signed("number-zero", "number 0: numbers start at 1", "number: 7\n", "number: 0\n")
	signed("number-too-large", "number 18446744073709551616 (2^64)", "number: 7\n", "number: 18446744073709551616\n")
	signed("number-leading-zero", "number 07", "number: 7\n", "number: 07\n")
	signed("revoked-unsorted", "the two license IDs in decreasing order",
		"revoked: "+ids[0]+"\nrevoked: "+ids[1]+"\n", "revoked: "+ids[1]+"\nrevoked: "+ids[0]+"\n")
	signed("revoked-twice", "one license ID twice", "revoked: "+ids[1]+"\n", "revoked: "+ids[1]+"\nrevoked: "+ids[1]+"\n")
	signed("revoked-upper-case", "a license ID in upper-case hex", "revoked: "+ids[0]+"\n", "revoked: "+strings.ToUpper(ids[0])+"\n")
	signed("unknown-field", "a field \"reason\" after issued", "number: 7\n", "number: 7\nreason: compromised\n")
	signed("time-before-1970", "issued 1969-12-31T23:59:59Z", "issued: 2026-11-27T17:16:45Z\n", "issued: 1969-12-31T23:59:59Z\n")
	g.crl("malformed-two-lists-pasted", "malformed", "the list twice, one after the other", slices.Concat(ok, ok), crlCase{})
	g.crl("malformed-license-given", "malformed", "a license.olr where a revocation list is expected",
		sign(baseLicense(vendorKey), vendorKey), crlCase{})
	g.crl("unsupported-format-v2", "unsupported-format", "format olr-crl/v2 (body altered, then signed with the trusted key)",
		resignCRL(edit(body, "format: olr-crl/v1\n", "format: olr-crl/v2\n"), vendorKey, crlLabel), crlCase{})
	g.crl("untrusted-key", "untrusted-key", "signed by a key that is not in the bundle, and naming it",
		list(strangerKey, 7, issued, ids), crlCase{})
	g.crl("bad-signature-altered", "bad-signature", "a revoked license ID changed after signing",
		[]byte(strings.Replace(string(ok), ids[0][:8], "00000000", 1)), crlCase{})
	g.crl("bad-signature-license-label", "bad-signature",
		"the body signed under the license label \"olr/v1/license-signature\\x00\": a signature for one kind of file never verifies as another",
		resignCRL(body, vendorKey, sigLabel), crlCase{})
	g.crl("key-not-valid", "key-not-valid", "signed by the retired key one second after its window",
		list(retiredKey, 3, retiredTo.Add(time.Second), ids), crlCase{trust: trustRotated})
}
