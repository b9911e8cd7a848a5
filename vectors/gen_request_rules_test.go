package vectors

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing/cryptotest"

	"filippo.io/age"

	"github.com/olr-dev/olr/olr"
)

// payload encrypts an age payload (armored) for a request vector that
// only the payload can decide.
func (g *generator) payload(x testIdentity, name, expect, comment string, payload []byte) {
	g.t.Helper()
	file := g.encrypt("bad/"+name, payload, x.rcp, true)
	g.request(name, expect, comment+" (a well-formed age file)", file, requestCase{ids: []testIdentity{x}, plain: string(payload)})
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// requestRules: a vector for each rule of SPEC.md section 2 that the
// plaintext decides, from its form to the values of its members.
func (g *generator) requestRules(x testIdentity, req *olr.Request, plain string) {
	bad := func(name, expect, comment, p string) { g.payload(x, name, expect, comment, []byte(p)) }
	machine := "\"machine\": {\n      \"class\": \"bare-metal\"\n    }"
	setMachine := func(m string) string { return edit(plain, machine, `"machine": `+m) }
	firstSource := `"source": "test vector"`
	addToFactor := func(member string) string { return strings.Replace(plain, firstSource, firstSource+", "+member, 1) }
	tpm := tpmName("machine A")
	licensee := `"licensee": "Example Hosting GmbH"`

	// The plaintext's form.
	bad("malformed-no-final-newline", "malformed", "the plaintext without its final LF: one JSON object is followed by exactly one LF",
		strings.TrimSuffix(plain, "\n"))
	bad("malformed-space-before-object", "malformed", "a space before the object: the object starts at the first byte",
		" "+plain)
	bad("malformed-lone-surrogate", "malformed", `the licensee holds the escape \ud800, a high surrogate with no low one after it: no character (a decoder must not replace it with U+FFFD)`,
		edit(plain, licensee, `"licensee": "Example Hosting \ud800GmbH"`))
	bad("ok-surrogate-pair", "ok", `the licensee holds the escapes \ud83d\ude00, a surrogate pair: U+1F600`,
		edit(plain, licensee, `"licensee": "Example Hosting GmbH \ud83d\ude00"`))
	bad("malformed-nested-too-deep", "malformed", "an unknown member holding arrays 16 deep, 17 with the request object: the depth is checked before the members",
		edit(plain, licensee, licensee+`, "x": `+strings.Repeat("[", 16)+strings.Repeat("]", 16)))
	g.payload(x, "malformed-compressed-trailing-data", "malformed", "the gzip-compressed plaintext followed by one more byte: nothing may follow the gzip member",
		append(gzipped([]byte(plain)), '\n'))

	// The format first.
	bad("unsupported-format-with-new-member", "unsupported-format", "format olr-request/v3 with a member versions 1 and 2 do not know: unsupported, because the format is checked before the members",
		edit(plain, `"format": "olr-request/v1",`, `"format": "olr-request/v3", "tpm_quote": {"nonce": "AAAA"},`))
	bad("malformed-format-missing", "malformed", "no format member",
		edit(plain, "\"format\": \"olr-request/v1\",\n  ", ""))

	// The members and their JSON types.
	bad("malformed-no-machine", "malformed", "the fingerprint has no machine member, which is required",
		edit(plain, ",\n    "+machine, ""))
	bad("malformed-machine-without-class", "malformed", "machine is an empty object: class is required",
		setMachine("{}"))
	bad("malformed-null-member", "malformed", "removable is null: null is not a value of any member",
		addToFactor(`"removable": null`))
	bad("malformed-member-wrong-type", "malformed", `removable is the string "false", not a JSON boolean`,
		addToFactor(`"removable": "false"`))
	withDefaults := edit(plain, machine, `"machine": {"class": "bare-metal", "detail": ""}, "notes": []`)
	bad("ok-optional-members-with-defaults", "ok", `removable false, detail "" and notes []: optional members with their defaults`,
		strings.Replace(withDefaults, firstSource, firstSource+`, "removable": false`, 1))

	// The values.
	bad("invalid-machine-class-empty", "invalid", "machine class is the empty string", setMachine(`{"class": ""}`))
	bad("invalid-machine-class-unknown", "invalid", `machine class "mainframe": not one of the four classes`, setMachine(`{"class": "mainframe"}`))
	bad("invalid-tpm-ek-no-algorithm", "invalid", "a tpm-ek of 64 hex digits: the digest without the 000b name algorithm",
		edit(plain, `"`+tpm+`"`, `"`+tpm[4:]+`"`))
	bad("invalid-tpm-ek-sha384", "invalid", "a tpm-ek with the SHA-384 name algorithm (000c) and 48 bytes: not a name of the EK templates",
		edit(plain, `"`+tpm+`"`, `"000c`+tpm[4:]+tpm[4:36]+`"`))
	bad("invalid-tpm-ek-digest-too-long", "invalid", "a tpm-ek of 000b and 33 bytes",
		edit(plain, `"`+tpm+`"`, `"`+tpm+`00"`))
	bad("invalid-ip-limited-broadcast", "invalid", "ip 255.255.255.255, the limited broadcast address: not unicast",
		edit(plain, `"192.0.2.10"`, `"255.255.255.255"`))
	bad("invalid-ip-reserved", "invalid", "ip 240.0.0.1, in the reserved block 240.0.0.0/4",
		edit(plain, `"192.0.2.10"`, `"240.0.0.1"`))
	bad("invalid-serial-placeholder", "invalid", `board-serial "To be filled by O.E.M.": a placeholder, no identifier`,
		edit(plain, `"BSN0042778100"`, `"To be filled by O.E.M."`))
	bad("invalid-factor-twice", "invalid", "the first factor listed twice",
		edit(plain, "\"factors\": [\n", "\"factors\": [\n        {\"kind\": \"board-serial\", \"value\": \"BSN0042778100\", \"source\": \"copy\"},\n"))
	bad("invalid-licensee-bidi-override", "invalid", `the licensee holds U+202E RIGHT-TO-LEFT OVERRIDE (escaped \u202e), which shows the text after it reversed on the vendor's terminal`,
		edit(plain, licensee, `"licensee": "Example \u202eHbmG gnitsoH"`))
	bad("invalid-hostname-zero-width-space", "invalid", `the host name holds U+200B ZERO WIDTH SPACE`,
		edit(plain, `"backup01.example.net"`, "\"backup01\u200b.example.net\""))
	bad("invalid-note-bidi-isolate", "invalid", `a note holds U+2066 LEFT-TO-RIGHT ISOLATE and U+2069 POP DIRECTIONAL ISOLATE`,
		edit(plain, machine, machine+",\n    \"notes\": [\"skipped \\u2066eth1\\u2069\"]"))
	bad("invalid-created-before-1970", "invalid", "created 1969-12-31T23:59:59Z: times run from 1970 to 9999",
		edit(plain, `"2026-03-01T08:15:00Z"`, `"1969-12-31T23:59:59Z"`))

	// What olr writes: the plaintext gzip-compressed when that is smaller.
	cryptoName := "ok-compressed"
	cryptotest.SetGlobalRandom(g.t, testRandSeed("encrypt/"+cryptoName))
	file, err := olr.EncryptRequestCompressed(req, []age.Recipient{x.rcp}, true)
	if err != nil {
		g.t.Fatal(err)
	}
	payload := gzipped([]byte(plain))
	if !bytes.Equal(file, g.encrypt(cryptoName, payload, x.rcp, true)) {
		g.t.Fatal("olr.EncryptRequestCompressed does not match the generator's gzip and encryption")
	}
	g.request(cryptoName, "ok", "the plaintext gzip-compressed, as olr writes it", file,
		requestCase{ids: []testIdentity{x}, plain: string(payload), req: req})
}

// requestSize: the 1 MiB bound is on the file as stored (SPEC.md section
// 2), exactly at it and one byte over. The plaintexts are the base
// request with spaces after the opening brace, sized so that the binary
// file is MaxRequestSize bytes and one more.
func (g *generator) requestSize(x testIdentity, plain string) {
	chunks := func(p int) int { return max(1, (p+65535)/65536) } // age seals 64 KiB chunks, 16 bytes each
	sized := func(size int) ([]byte, string) {
		name := fmt.Sprintf("size/%d", size)
		fixed := len(g.encrypt(name, []byte(plain), x.rcp, false)) - len(plain) - 16*chunks(len(plain))
		p := size - fixed
		for fixed+p+16*chunks(p) != size {
			p--
		}
		text := "{" + strings.Repeat(" ", p-len(plain)) + plain[1:]
		file := g.encrypt(name, []byte(text), x.rcp, false)
		if len(file) != size {
			g.t.Fatalf("a file of %d bytes, want %d", len(file), size)
		}
		return file, text
	}
	at, atPlain := sized(olr.MaxRequestSize)
	g.request("at-size-limit", "ok", fmt.Sprintf("a binary request of exactly %d bytes (1 MiB): the bound is on the file; its plaintext is padded with spaces inside the object", olr.MaxRequestSize),
		at, requestCase{ids: []testIdentity{x}, plain: atPlain})
	over, _ := sized(olr.MaxRequestSize + 1)
	g.request("over-size-limit", "not-age", fmt.Sprintf("a binary request of %d bytes, one more than the bound, refused before decryption; its plaintext is under 1 MiB, so a reader that bounds the plaintext instead accepts it", olr.MaxRequestSize+1),
		over, requestCase{ids: []testIdentity{x}})
}
