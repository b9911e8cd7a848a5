package olr_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/olr-dev/olr/olr"
)

// craftedRequests are hand-made plaintexts, each deciding one rule of
// SPEC.md section 2, with the outcome the section gives. They start from
// the indented plaintext olr writes (plain) and change one thing.
func craftedRequests(t testing.TB) []struct {
	name  string
	plain string
	want  olr.RequestProblem // "" for a request that parses
} {
	p, err := newRequest(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	plain := string(p)
	edit := func(old, new string) string {
		if strings.Count(plain, old) != 1 {
			t.Fatalf("the plaintext holds %q %d times", old, strings.Count(plain, old))
		}
		return strings.Replace(plain, old, new, 1)
	}
	const (
		ok          = olr.RequestProblem("")
		malformed   = olr.RequestMalformed
		unsupported = olr.RequestUnsupported
		invalid     = olr.RequestInvalid
	)
	licensee := `"licensee": "Example Backup Ltd"`
	setLicensee := func(s string) string { return edit(licensee, `"licensee": "`+s+`"`) }
	machine := `"machine": {
      "class": "bare-metal"
    }`
	setMachine := func(s string) string { return edit(machine, `"machine": `+s) }
	mac := `"value": "3c:ec:ef:12:34:56"`
	tpm := `"value": "000b6b2f1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"`
	ip := `"value": "10.20.30.40"`
	serial := `"value": "S4EWNX0R123456"`
	removable := `"source": "/sys/class/net/eno1/address"`
	notes := func(ns ...string) string {
		return edit("\n    }\n  }\n}\n", "\n    },\n    \"notes\": ["+strings.Join(ns, ", ")+"]\n  }\n}\n")
	}
	const ekECC = `{"kind": "ecc-p256", "public": "AAEC"}`
	v2 := func(members string) string {
		return edit(`"format": "olr-request/v1",`, `"format": "olr-request/v2", "tpm": {`+members+`},`)
	}
	many := func(n int, s string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	var factors257 strings.Builder
	for i := range 257 {
		fmt.Fprintf(&factors257, `{"kind": "ip", "value": "10.9.%d.%d", "source": "test"}, `, i/250, i%250+1)
	}

	return []struct {
		name  string
		plain string
		want  olr.RequestProblem
	}{
		{"genuine", plain, ok},
		{"compact", strings.Join(strings.Fields(plain), "") + "\n", ok},

		// The plaintext itself: one object, then one LF.
		{"no final newline", strings.TrimSuffix(plain, "\n"), malformed},
		{"two final newlines", plain + "\n", malformed},
		{"CRLF at the end", strings.TrimSuffix(plain, "\n") + "\r\n", malformed},
		{"space before the object", " " + plain, malformed},
		{"newline before the object", "\n" + plain, malformed},
		{"byte order mark", "\ufeff" + plain, malformed},
		{"space after the newline", plain + " ", malformed},
		{"second object", plain + "{}\n", malformed},
		{"array", "[]\n", malformed},
		{"empty", "", malformed},
		{"not UTF-8", setLicensee("Example \xff Ltd"), malformed},
		{"lone high surrogate", setLicensee(`Example \ud800 Ltd`), malformed},
		{"lone low surrogate", setLicensee(`Example \udc00 Ltd`), malformed},
		{"surrogates reversed", setLicensee(`Example \udc00\ud800 Ltd`), malformed},
		{"high surrogate at the end", setLicensee(`Example Ltd \ud83d`), malformed},
		{"surrogate pair", setLicensee(`Example \ud83d\ude00 Ltd`), ok},
		{"escaped backslash before u", setLicensee(`Example \\ud800 Ltd`), ok},
		{"duplicate member", edit(licensee, licensee+", "+licensee), malformed},
		{"duplicate nested member", setMachine(`{"class": "bare-metal", "class": "container"}`), malformed},
		{"nested 17 deep", edit(`"tool"`, `"x": `+strings.Repeat("[", 16)+strings.Repeat("]", 16)+`, "tool"`), malformed},

		// The format, checked before the members.
		{"format v3", edit(`"olr-request/v1"`, `"olr-request/v3"`), unsupported},
		{"format v3 with a new member", edit(`"olr-request/v1"`, `"olr-request/v3", "tpm_quote": {"x": 1}`), unsupported},
		{"format v3 without fingerprint", `{"format": "olr-request/v3"}` + "\n", unsupported},

		// Version 2: the TPM's endorsement keys.
		{"v2 with its tpm member", v2(`"eks": [` + ekECC + `]`), ok},
		{"v2 with both EKs, a certificate, a chain and the manufacturer", v2(`"manufacturer": "IFX", "eks": [` + ekECC + `, {"kind": "rsa-2048", "public": "AAEC", "cert": "MAEC"}], "chain": ["MAEC", "MAED"]`), ok},
		{"v2 without its tpm member", edit(`"olr-request/v1"`, `"olr-request/v2"`), malformed},
		{"v1 with a tpm member", edit(licensee, licensee+`, "tpm": {"eks": [`+ekECC+`]}`), malformed},
		{"v2, unknown tpm member", v2(`"eks": [` + ekECC + `], "quote": "x"`), malformed},
		{"v2, unknown EK member", v2(`"eks": [{"kind": "ecc-p256", "public": "AAEC", "name": "x"}]`), malformed},
		{"v2, EKs not an array", v2(`"eks": {}`), malformed},
		{"v2, EK without public", v2(`"eks": [{"kind": "ecc-p256"}]`), malformed},
		{"v2, public padded", v2(`"eks": [{"kind": "ecc-p256", "public": "AAE="}]`), malformed},
		{"v2, certificate not canonical", v2(`"eks": [{"kind": "ecc-p256", "public": "AAEC", "cert": "AAF"}]`), malformed},
		{"v2, chain of a number", v2(`"eks": [` + ekECC + `], "chain": [1]`), malformed},
		{"v2, no EK", v2(`"eks": []`), invalid},
		{"v2, EKs out of order", v2(`"eks": [{"kind": "rsa-2048", "public": "AAEC"}, ` + ekECC + `]`), invalid},
		{"v2, an EK kind twice", v2(`"eks": [` + ekECC + `, ` + ekECC + `]`), invalid},
		{"v2, an unknown EK kind", v2(`"eks": [{"kind": "ecc-p384", "public": "AAEC"}]`), invalid},
		{"v2, empty public", v2(`"eks": [{"kind": "ecc-p256", "public": ""}]`), invalid},
		{"v2, public too long", v2(`"eks": [{"kind": "ecc-p256", "public": "` + strings.Repeat("A", 1368) + `"}]`), invalid},
		{"v2, certificate too long", v2(`"eks": [{"kind": "ecc-p256", "public": "AAEC", "cert": "` + strings.Repeat("A", 5464) + `"}]`), invalid},
		{"v2, 9 chain certificates", v2(`"eks": [` + ekECC + `], "chain": [` + strings.Repeat(`"MAEC", `, 8) + `"MAEC"]`), invalid},
		{"v2, manufacturer with a control character", v2(`"manufacturer": "IB\u0007M", "eks": [` + ekECC + `]`), invalid},
		{"format empty", edit(`"olr-request/v1"`, `""`), unsupported},
		{"format missing", edit(`"format": "olr-request/v1",`, ``), malformed},
		{"format a number", edit(`"olr-request/v1"`, `1`), malformed},
		{"format null", edit(`"olr-request/v1"`, `null`), malformed},

		// The members and their JSON types.
		{"unknown member", edit(licensee, licensee+`, "comment": "urgent"`), malformed},
		{"member name in another case", edit(licensee, `"Licensee": "Example Backup Ltd"`), malformed},
		{"unknown factor member", edit(removable, removable+`, "vendor": "x"`), malformed},
		{"unknown machine member", setMachine(`{"class": "bare-metal", "cpu": "x"}`), malformed},
		{"no machine", edit(",\n    "+machine, ""), malformed},
		{"machine empty object", setMachine(`{}`), malformed},
		{"machine null", setMachine(`null`), malformed},
		{"licensee null", edit(licensee, `"licensee": null`), malformed},
		{"removable null", edit(removable, removable+`, "removable": null`), malformed},
		{"removable a string", edit(removable, removable+`, "removable": "false"`), malformed},
		{"detail null", setMachine(`{"class": "bare-metal", "detail": null}`), malformed},
		{"notes null", edit("\n    }\n  }\n}\n", "\n    },\n    \"notes\": null\n  }\n}\n"), malformed},
		{"notes a string", edit("\n    }\n  }\n}\n", "\n    },\n    \"notes\": \"x\"\n  }\n}\n"), malformed},
		{"note a number", notes(`1`), malformed},
		{"license key a number", edit(`"OEM-7Q2D-K9XW-4M3T"`, `42`), malformed},
		{"factors an object", `{"format": "olr-request/v1", "request_id": "0123456789abcdef0123456789abcdef", "created": "2026-01-15T09:30:00Z", "product": "p", "licensee": "l", "license_key": "k", "hostname": "h", "tool": "t", "fingerprint": {"factors": {}, "machine": {"class": "unknown"}}}` + "\n", malformed},
		{"factor not an object", edit(`"factors": [`, `"factors": ["mac", `), malformed},

		// Optional members with their defaults.
		{"removable false", edit(removable, removable+`, "removable": false`), ok},
		{"detail empty", setMachine(`{"class": "bare-metal", "detail": ""}`), ok},
		{"notes empty", notes(), ok},

		// The values.
		{"machine class empty", setMachine(`{"class": ""}`), invalid},
		{"machine class unknown", setMachine(`{"class": "physical"}`), invalid},
		{"machine class in upper case", setMachine(`{"class": "Bare-Metal"}`), invalid},
		{"machine detail with spaces", setMachine(`{"class": "virtual-machine", "detail": " kvm"}`), invalid},
		{"machine detail", setMachine(`{"class": "virtual-machine", "detail": "kvm"}`), ok},
		{"tpm-ek without algorithm", edit(tpm, `"value": "6b2f1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"`), invalid},
		{"tpm-ek SHA-1 name", edit(tpm, `"value": "00046b2f1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a"`), invalid},
		{"tpm-ek SHA-384 name", edit(tpm, `"value": "000c`+strings.Repeat("6b", 48)+`"`), invalid},
		{"tpm-ek unknown algorithm", edit(tpm, `"value": "abcd6b2f1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"`), invalid},
		{"tpm-ek digest too long", edit(tpm, `"value": "000b6b2f1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d"`), invalid},
		{"tpm-ek digest too short", edit(tpm, `"value": "000b6b2f1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b"`), invalid},
		{"ip limited broadcast", edit(ip, `"value": "255.255.255.255"`), invalid},
		{"ip reserved", edit(ip, `"value": "240.0.0.1"`), invalid},
		{"ip this network", edit(ip, `"value": "0.1.2.3"`), invalid},
		{"ip mapped", edit(ip, `"value": "::ffff:10.20.30.40"`), invalid},
		{"ip not canonical", edit(`"value": "2001:db8::40"`, `"value": "2001:0db8::40"`), invalid},
		{"serial placeholder", edit(serial, `"value": "To be filled by O.E.M."`), invalid},
		{"serial one character repeated", edit(serial, `"value": "XXXX-XXXX"`), invalid},
		{"serial with a zero-width space", edit(serial, `"value": "S4EWNX0R\u200b123456"`), invalid},
		{"factor twice", edit(`"factors": [`, `"factors": [{"kind": "mac", `+mac+`, "source": "copy"}, `), invalid},
		{"factor of unknown kind", edit(`"factors": [`, `"factors": [{"kind": "gpu-serial", "value": "GPU-1", "source": "x"}, `), invalid},
		{"257 factors", edit(`"factors": [`, `"factors": [`+factors257.String()), invalid},
		{"licensee with a bidi override", setLicensee(`Example \u202eLtd`), invalid},
		{"licensee with a bidi isolate", setLicensee(`Example \u2066Ltd\u2069`), invalid},
		{"licensee with a zero-width joiner", setLicensee(`Example\u200dBackup Ltd`), invalid},
		{"licensee with a soft hyphen", setLicensee(`Exam\u00adple Backup Ltd`), invalid},
		{"licensee with a line separator", setLicensee(`Example\u2028Backup Ltd`), invalid},
		{"licensee with a C1 control", setLicensee(`Example\u009bBackup Ltd`), invalid},
		{"licensee with U+FFFD", setLicensee(`Example \ufffd Ltd`), invalid},
		{"licensee with a tag character", setLicensee(`Example Backup Ltd\udb40\udc41`), invalid},
		{"licensee with a leading no-break space", setLicensee(`\u00a0Example Backup Ltd`), invalid},
		{"licensee with a trailing ideographic space", setLicensee(`Example Backup Ltd\u3000`), invalid},
		{"licensee with inner no-break space", setLicensee(`Example\u00a0Backup Ltd`), ok},
		{"licensee in Japanese", setLicensee(`株式会社サンプル`), ok},
		{"licensee of 256 bytes", setLicensee(strings.Repeat("é", 128)), ok},
		{"licensee of 257 bytes", setLicensee(strings.Repeat("é", 128) + "x"), invalid},
		{"note with a bidi override", notes(`"skipped \u202e"`), invalid},
		{"note with a trailing space", notes(`"skipped "`), invalid},
		{"note of 512 bytes", notes(`"` + strings.Repeat("n", 512) + `"`), ok},
		{"note of 513 bytes", notes(`"` + strings.Repeat("n", 513) + `"`), invalid},
		{"64 notes", notes(many(64, `"n"`)...), ok},
		{"65 notes", notes(many(65, `"n"`)...), invalid},
		{"created before 1970", edit(`"2026-01-15T09:30:00Z"`, `"1969-12-31T23:59:59Z"`), invalid},
		{"created with a leap second", edit(`"2026-01-15T09:30:00Z"`, `"2026-12-31T23:59:60Z"`), invalid},
	}
}

// TestCraftedRequests checks every crafted plaintext through ParseRequest
// and, encrypted, through DecryptRequest: the outcome is the one SPEC.md
// gives, and no error shows the license key.
func TestCraftedRequests(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range craftedRequests(t) {
		t.Run(c.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				var re *olr.RequestError
				switch {
				case c.want == "" && err != nil:
					t.Errorf("%s: %v, want success", what, err)
				case c.want == "":
				case !errors.As(err, &re):
					t.Errorf("%s: error %v is not a *RequestError, want %s", what, err, c.want)
				case re.Problem != c.want:
					t.Errorf("%s: %s (%v), want %s", what, re.Problem, err, c.want)
				case strings.Contains(err.Error(), "OEM-7Q2D-K9XW-4M3T"):
					t.Errorf("%s: the error shows the license key: %v", what, err)
				}
			}
			_, err := olr.ParseRequest([]byte(c.plain))
			check("ParseRequest", err)
			encrypt := func(payload []byte) []byte {
				var buf bytes.Buffer
				w, err := age.Encrypt(&buf, id.Recipient())
				if err != nil {
					t.Fatal(err)
				}
				w.Write(payload)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				return buf.Bytes()
			}
			_, err = olr.DecryptRequest(encrypt([]byte(c.plain)), []age.Identity{id})
			check("DecryptRequest", err)
			// The same plaintext gzip-compressed, as olr writes it.
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write([]byte(c.plain))
			zw.Close()
			_, err = olr.DecryptRequest(encrypt(gz.Bytes()), []age.Identity{id})
			check("DecryptRequest, compressed", err)
		})
	}
}
