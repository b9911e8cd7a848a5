package olr

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
)

// sampleBody returns the body of a typical license, built without the
// olrtest package (which imports this one).
func sampleBody(t testing.TB) []byte {
	fp := &fingerprint.Fingerprint{}
	fp.Add(fingerprint.KindMAC, "3c:ec:ef:12:34:56", "test", false)
	fp.Add(fingerprint.KindMachineID, "4f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f", "test", false)
	b, err := fingerprint.Bind(fp, bytes.Repeat([]byte{7}, 32), fingerprint.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	l := &License{
		ID: strings.Repeat("ab", 16), RequestID: strings.Repeat("cd", 16),
		Issued: mustTime("2026-01-15T09:30:00Z"), NotBefore: mustTime("2026-01-15T09:30:00Z"),
		Expires: mustTime("2027-01-16T00:00:00Z"), Product: "backup-server", Licensee: "Example Backup Ltd",
		Type: TypeOEM, Modules: []Module{{"acb", 20}, {"mobile", Unlimited}, {"obm", 50}},
		Languages: []string{"en", "zh-TW"}, GraceDays: 14, Binding: b,
	}
	l.Binding.Policy.Required = []fingerprint.Kind{fingerprint.KindTPMEK}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	return l.encodeBody()
}

func mustTime(s string) time.Time {
	t, err := parseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseBodyRoundTrip(t *testing.T) {
	body := sampleBody(t)
	l, err := parseBody(body)
	if err != nil {
		t.Fatalf("parseBody: %v\n%s", err, body)
	}
	if got := l.encodeBody(); !bytes.Equal(got, body) {
		t.Fatalf("re-encoding differs:\n%s\nwant\n%s", got, body)
	}
}

// TestParseBodyRejects changes one line of a good body at a time; every
// variant must be refused even though the bytes would be signed.
func TestParseBodyRejects(t *testing.T) {
	body := string(sampleBody(t))
	cases := []struct{ name, old, new string }{
		{"unknown field", "type: oem\n", "type: oem\ncolour: blue\n"},
		{"duplicate field", "type: oem\n", "type: oem\ntype: oem\n"},
		{"fields out of order", "product: backup-server\nlicensee: Example Backup Ltd\n", "licensee: Example Backup Ltd\nproduct: backup-server\n"},
		{"modules unsorted", "module: acb 20\nmodule: mobile unlimited\n", "module: mobile unlimited\nmodule: acb 20\n"},
		{"duplicate module", "module: acb 20\n", "module: acb 20\nmodule: acb 20\n"},
		{"leading zero", "module: acb 20\n", "module: acb 020\n"},
		{"plus sign", "grace-days: 14\n", "grace-days: +14\n"},
		{"negative quota", "module: acb 20\n", "module: acb -20\n"},
		{"fractional seconds", "issued: 2026-01-15T09:30:00Z", "issued: 2026-01-15T09:30:00.0Z"},
		{"offset time", "issued: 2026-01-15T09:30:00Z", "issued: 2026-01-15T10:30:00+01:00"},
		{"trailing space", "licensee: Example Backup Ltd\n", "licensee: Example Backup Ltd \n"},
		{"two spaces", "licensee: Example", "licensee:  Example"},
		{"no space", "licensee: Example", "licensee:Example"},
		{"unknown factor kind", "factor: mac ", "factor: colour "},
		{"unknown type", "type: oem", "type: gold"},
		{"grace too long", "grace-days: 14", "grace-days: 366"},
		{"threshold zero", "match-threshold: 51", "match-threshold: 0"},
		{"bad language", "language: en\n", "language: English\n"},
		{"missing salt", "salt: ", "pepper: "},
		{"padded salt", "salt: BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc\n", "salt: BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"},
		{"non-canonical base64", "salt: BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc\n", "salt: BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwd\n"},
		{"empty line", "type: oem\n", "type: oem\n\n"},
		{"control character", "Example Backup Ltd", "Example\x01Backup Ltd"},
		{"invalid utf-8", "Example Backup Ltd", "Example \xff Ltd"},
		{"no factor", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mutated string
			if c.name == "no factor" {
				i := strings.Index(body, "factor: ")
				mutated = body[:i]
			} else {
				if !strings.Contains(body, c.old) {
					t.Fatalf("sample has no %q", c.old)
				}
				mutated = strings.Replace(body, c.old, c.new, 1)
			}
			if _, err := parseBody([]byte(mutated)); err == nil {
				t.Fatalf("accepted:\n%s", mutated)
			}
		})
	}
}

// FuzzParseBody checks that the parser never panics and that whatever it
// accepts re-encodes to the same bytes: one encoding per license.
func FuzzParseBody(f *testing.F) {
	body := string(sampleBody(f))
	f.Add([]byte(body))
	f.Add([]byte("format: olr-license/v1\n"))
	// Seeds for the rules SPEC.md states: a policy that weighs nothing
	// recorded, non-canonical language tags, the text rule, times.
	weights := body[strings.Index(body, "match-weight: "):strings.Index(body, "match-require: ")]
	for _, edit := range [][2]string{
		{weights, ""},
		{weights, "match-weight: ip 0\n"},
		{"language: zh-TW\n", "language: zh-tw\n"},
		{"language: zh-TW\n", "language: zh-TW\nlanguage: zh-tw\n"},
		{"language: zh-TW\n", "language: zh-TW-TW\n"},
		{"licensee: Example Backup Ltd\n", "licensee: Example \u202eLtd\n"},
		{"licensee: Example Backup Ltd\n", "licensee: Example Backup Ltd\u00a0\n"},
		{"expires: 2027-01-16T00:00:00Z\n", "expires: 0001-01-01T00:00:00Z\n"},
		{"module: obm 50\n", "module: obm 9223372036854775807\n"},
	} {
		f.Add([]byte(strings.Replace(body, edit[0], edit[1], 1)))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := parseBody(body)
		if err != nil {
			return
		}
		if got := l.encodeBody(); !bytes.Equal(got, body) {
			t.Fatalf("accepted a non-canonical body:\n%q\nre-encodes as\n%q", body, got)
		}
	})
}
