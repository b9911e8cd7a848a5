package vectors

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing/cryptotest"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

// Requests.

// The vendor's request identities. They are throwaway test keys, derived
// from fixed seeds: never use them for anything else.
type testIdentity struct {
	id  age.Identity
	str string
	rcp age.Recipient
}

func (g *generator) identity(label string, hybrid bool) testIdentity {
	cryptotest.SetGlobalRandom(g.t, testRandSeed("identity/"+label))
	if hybrid {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			g.t.Fatal(err)
		}
		return testIdentity{id, id.String(), id.Recipient()}
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		g.t.Fatal(err)
	}
	return testIdentity{id, id.String(), id.Recipient()}
}

func baseRequest() *olr.Request {
	return &olr.Request{
		Format:      olr.RequestFormat,
		ID:          testID("request/base"),
		Created:     "2026-03-01T08:15:00Z",
		Product:     product,
		Licensee:    licensee,
		LicenseKey:  "OEM-7Q4K-2M9X-TEST-0001",
		Hostname:    "backup01.example.net",
		Tool:        "olr test vectors",
		Fingerprint: fingerprint.Fingerprint{Factors: machineA, Machine: fingerprint.MachineKind{Class: fingerprint.ClassBareMetal}},
	}
}

// requestPlaintext is what olr.EncryptRequest encrypts for r.
func requestPlaintext(r *olr.Request) string {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

// encrypt encrypts plain to rcp, deterministically for the vector name.
func (g *generator) encrypt(name string, plain []byte, rcp age.Recipient, armored bool) []byte {
	cryptotest.SetGlobalRandom(g.t, testRandSeed("encrypt/"+name))
	var out bytes.Buffer
	var dst io.Writer = &out
	var aw io.Closer
	if armored {
		w := armor.NewWriter(&out)
		dst, aw = w, w
	}
	w, err := age.Encrypt(dst, rcp)
	if err != nil {
		g.t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		g.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		g.t.Fatal(err)
	}
	if aw != nil {
		if err := aw.Close(); err != nil {
			g.t.Fatal(err)
		}
	}
	return out.Bytes()
}

type requestCase struct {
	ids   []testIdentity
	plain string // decrypted plaintext, when age decryption succeeds
	req   *olr.Request
}

func (g *generator) request(name, expect, comment string, file []byte, c requestCase) {
	g.t.Helper()
	h := []Header{{"expect", expect}, {"kind", "request"}, {"comment", comment}}
	for _, id := range c.ids {
		h = append(h, Header{"identity", id.str})
	}
	if c.plain != "" {
		h = append(h, Header{"plaintext-sha256", fmt.Sprintf("%x", sha256.Sum256([]byte(c.plain)))})
	}
	if c.req != nil {
		h = append(h, Header{"request-id", c.req.ID}, Header{"licensee", c.req.Licensee}, Header{"license-key", c.req.LicenseKey})
		if c.req.TPM != nil {
			h = append(h, Header{"tpm-eks", tpmEKsHeader(c.req.TPM)})
		}
	}
	g.add("request-"+name, h, file)
}

func (g *generator) requestVectors() {
	x := g.identity("vendor x25519", false)
	pq := g.identity("vendor hybrid", true)
	otherX := g.identity("other vendor x25519", false)
	otherPQ := g.identity("other vendor hybrid", true)

	req := baseRequest()
	plain := requestPlaintext(req)
	official := func(name string, rcp age.Recipient, armored bool) []byte {
		cryptotest.SetGlobalRandom(g.t, testRandSeed("encrypt/"+name))
		b, err := olr.EncryptRequest(req, []age.Recipient{rcp}, armored)
		if err != nil {
			g.t.Fatal(err)
		}
		if !bytes.Equal(b, g.encrypt(name, []byte(plain), rcp, armored)) {
			g.t.Fatalf("%s: olr.EncryptRequest does not match the generator's encryption", name)
		}
		return b
	}

	// ok
	ok := requestCase{ids: []testIdentity{x}, plain: plain, req: req}
	okPQ := requestCase{ids: []testIdentity{pq}, plain: plain, req: req}
	xArmored := official("x25519-armored", x.rcp, true)
	g.request("x25519-armored", "ok", "armored request to an X25519 recipient", xArmored, ok)
	g.request("x25519-binary", "ok", "binary request to an X25519 recipient", official("x25519-binary", x.rcp, false), ok)
	pqArmored := official("hybrid-armored", pq.rcp, true)
	g.request("hybrid-armored", "ok", "armored request to an ML-KEM-768+X25519 hybrid recipient (the default for new vendor keys)", pqArmored, okPQ)
	pqBinary := official("hybrid-binary", pq.rcp, false)
	g.request("hybrid-binary", "ok", "binary request to an ML-KEM-768+X25519 hybrid recipient", pqBinary, okPQ)
	g.request("x25519-second-identity", "ok", "two identities given: the first does not open the file, the second does",
		xArmored, requestCase{ids: []testIdentity{otherX, x}, plain: plain, req: req})
	g.request("armored-crlf-leading-blank-line", "ok",
		"the armored request pasted with CRLF line endings and an empty line before it: age armor allows both (unlike a license)",
		append([]byte("\r\n"), bytes.ReplaceAll(xArmored, []byte("\n"), []byte("\r\n"))...), ok)

	// wrong-key
	g.request("wrong-identity-x25519", "wrong-key", "encrypted to another X25519 recipient", xArmored,
		requestCase{ids: []testIdentity{otherX}})
	g.request("wrong-identity-hybrid", "wrong-key", "encrypted to another hybrid recipient", pqArmored,
		requestCase{ids: []testIdentity{otherPQ}})
	g.request("hybrid-file-x25519-identity", "wrong-key",
		"encrypted to a hybrid recipient, opened with an X25519 identity (which ignores the hybrid stanza)", pqArmored,
		requestCase{ids: []testIdentity{x}})

	// corrupt
	g.request("truncated-binary", "corrupt", "the binary request with its last 20 bytes cut off",
		pqBinary[:len(pqBinary)-20], requestCase{ids: []testIdentity{pq}})
	{
		lines := strings.SplitAfter(string(xArmored), "\n")
		cut := strings.Join(lines[:len(lines)/2], "")
		g.request("truncated-armored", "corrupt", "the armored request cut after half of its lines (no END line)",
			[]byte(cut), requestCase{ids: []testIdentity{x}})
	}
	{
		bin := official("x25519-binary-flipped", x.rcp, false)
		bin = slices.Clone(bin)
		bin[len(bin)-5] ^= 0x01
		g.request("payload-altered", "corrupt", "one bit of the encrypted payload flipped (binary)",
			bin, requestCase{ids: []testIdentity{x}})
		hdr := official("x25519-binary-mac", x.rcp, false)
		i := bytes.Index(hdr, []byte("\n--- "))
		mac := hdr[i+5 : i+5+43]
		nm := []byte(string(mac))
		nm[0] = b64chars[(strings.IndexByte(b64chars, nm[0])+1)%64]
		bad := slices.Concat(hdr[:i+5], nm, hdr[i+5+43:])
		g.request("header-mac-altered", "corrupt", "the age header MAC altered (binary)",
			bad, requestCase{ids: []testIdentity{x}})
	}
	g.request("armored-trailing-text", "corrupt", "text after the armor's END line (age armor allows only whitespace there)",
		append(slices.Clone(xArmored), "-- \nsent from my phone\n"...), requestCase{ids: []testIdentity{x}})

	// not-age
	g.request("empty", "not-age", "a zero-length file", []byte{}, requestCase{ids: []testIdentity{x}})
	g.request("license-file", "not-age", "a license.olr given where a request is expected",
		sign(baseLicense(vendorKey), vendorKey), requestCase{ids: []testIdentity{x}})
	g.request("plaintext-json", "not-age", "the request plaintext, not encrypted",
		[]byte(plain), requestCase{ids: []testIdentity{x}})

	// plaintext that is not a valid request: each is a well-formed age
	// file, so only the request parser can reject it.
	bad := func(name, expect, comment, p string) {
		g.t.Helper()
		file := g.encrypt("bad/"+name, []byte(p), x.rcp, true)
		g.request(name, expect, comment+" (a well-formed age file)", file, requestCase{ids: []testIdentity{x}, plain: p})
	}
	key := `  "license_key": "OEM-7Q4K-2M9X-TEST-0001",` + "\n"
	bad("unknown-field", "malformed", "the plaintext has an unknown field \"comment\"",
		edit(plain, key, key+`  "comment": "urgent",`+"\n"))
	bad("duplicate-field", "malformed", "the plaintext has license_key twice, with different values",
		edit(plain, key, key+`  "license_key": "OEM-7Q4K-2M9X-TEST-9999",`+"\n"))
	bad("duplicate-nested-field", "malformed", "the machine object has class twice",
		edit(plain, `"class": "bare-metal"`, `"class": "bare-metal", "class": "container"`))
	bad("trailing-data", "malformed", "a second JSON value after the request object",
		plain+"{}\n")
	bad("not-json", "malformed", "the plaintext is text, not JSON",
		"format: olr-request/v1\nlicensee: Example Hosting GmbH\n")
	bad("unsupported-format", "unsupported-format", "the format tag is olr-request/v3",
		edit(plain, `"olr-request/v1"`, `"olr-request/v3"`))
	bad("invalid-factor-not-normal", "invalid", "a MAC address in upper case: factors must be in normal form",
		edit(plain, `"3c:ec:ef:10:20:31"`, `"3C:EC:EF:10:20:31"`))
	bad("invalid-empty-license-key", "invalid", "an empty license key",
		edit(plain, `"OEM-7Q4K-2M9X-TEST-0001"`, `""`))
	bad("invalid-no-factors", "invalid", "a fingerprint without factors",
		`{"format":"olr-request/v1","request_id":"`+req.ID+`","created":"2026-03-01T08:15:00Z","product":"Example Backup Server","licensee":"Example Hosting GmbH","license_key":"OEM-7Q4K-2M9X-TEST-0001","hostname":"backup01.example.net","tool":"olr test vectors","fingerprint":{"factors":[],"machine":{"class":"unknown"}}}`+"\n")
	bad("field-name-case-variant", "malformed",
		"license_key and LICENSE_KEY with different values: member names are case sensitive, so LICENSE_KEY is an unknown member (a JSON decoder that matches names case-insensitively would take it for license_key)",
		edit(plain, key, key+`  "LICENSE_KEY": "OEM-7Q4K-2M9X-TEST-9999",`+"\n"))
	bad("invalid-control-character-in-source", "invalid",
		"a factor source holding an ANSI escape sequence (ESC [2J, clear screen): no text field at any depth may hold control characters, since tools print them to the vendor's terminal",
		strings.Replace(plain, `"source": "test vector"`, `"source": "\u001b[2J\u001b[Htest vector"`, 1))
	g.requestTPMVectors(x, bad)
	bad("invalid-utf8", "malformed",
		"the licensee string holds the byte 0xff, which is not UTF-8, so the plaintext is not JSON (a decoder must not replace it with U+FFFD)",
		edit(plain, `"Example Hosting GmbH"`, "\"Example Hosting GmbH\xff\""))

	g.requestRules(x, req, plain)
	g.requestSize(x, plain)
}
