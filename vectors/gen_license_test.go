package vectors

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

// Licenses.

var (
	defaultNow    = date("2026-06-15T12:00:00Z")
	defaultIssued = date("2026-03-02T09:30:00Z")
	defaultExpiry = date("2027-03-03T00:00:00Z")
	product       = "Example Backup Server"
	licensee      = "Example Hosting GmbH"
)

func binding(label string, fp []fingerprint.Factor, p fingerprint.Policy) fingerprint.Binding {
	b, err := fingerprint.Bind(&fingerprint.Fingerprint{Factors: fp}, testSeed("salt/"+label), p)
	if err != nil {
		panic(err)
	}
	return b
}

// baseLicense is a typical OEM license for machine A: modules with
// device, VM, socket and mailbox quotas, languages, expiry and
// maintenance, the default policy and a 14-day grace period.
func baseLicense(key ed25519.PrivateKey) *olr.License {
	return &olr.License{
		KeyID:       keyID(key),
		ID:          testID("license/base"),
		RequestID:   testID("request/base"),
		Issued:      defaultIssued,
		NotBefore:   defaultIssued,
		Expires:     defaultExpiry,
		Maintenance: defaultExpiry,
		Product:     product,
		Licensee:    licensee,
		Type:        olr.TypeOEM,
		Modules: []olr.Module{
			{Name: "acb", Quota: 25},
			{Name: "exchange-mailbox", Quota: 200},
			{Name: "hyperv-guest-vm", Quota: 10},
			{Name: "m365-user", Quota: 500},
			{Name: "mobile", Quota: olr.Unlimited},
			{Name: "nas", Quota: 2},
			{Name: "obm", Quota: 50},
			{Name: "opendirect", Quota: 1},
			{Name: "replication", Quota: 1},
			{Name: "vmware-socket", Quota: 4},
		},
		Languages: []string{"de", "en", "fr", "ja", "zh-TW"},
		GraceDays: 14,
		Binding:   binding("base", machineA, fingerprint.DefaultPolicy()),
	}
}

func sign(l *olr.License, key ed25519.PrivateKey) []byte {
	b, err := olr.Sign(l, key)
	if err != nil {
		panic(err)
	}
	return b
}

const (
	beginLine = "-----BEGIN OLR LICENSE-----\n"
	endLine   = "-----END OLR LICENSE-----\n"
	sigLabel  = "olr/v1/license-signature\x00"
)

// bodyOf returns the signed body of a license file made by olr.Sign.
func bodyOf(file []byte) string {
	s := strings.TrimPrefix(string(file), beginLine)
	i := strings.LastIndex(s, "\nsignature: ")
	return s[:i+1]
}

func sigOf(file []byte) string {
	s := strings.TrimSuffix(string(file), endLine)
	i := strings.LastIndex(s, "\nsignature: ")
	return strings.TrimSuffix(s[i+len("\nsignature: "):], "\n")
}

func assemble(body, sig string) []byte {
	return []byte(beginLine + body + "signature: " + sig + "\n" + endLine)
}

// resign signs body as it is, with the label: what olr.Sign would do for
// a body it cannot produce itself.
func resign(body string, key ed25519.PrivateKey) []byte {
	sig := ed25519.Sign(key, []byte(sigLabel+body))
	return assemble(body, base64.RawStdEncoding.EncodeToString(sig))
}

// edit replaces the one occurrence of old in s.
func edit(s, old, new string) string {
	if strings.Count(s, old) != 1 {
		panic(fmt.Sprintf("edit: %q occurs %d times", old, strings.Count(s, old)))
	}
	return strings.Replace(s, old, new, 1)
}

// licenseCase is the verifying side of a license vector.
type licenseCase struct {
	trust         []string // default trustVendor
	now           time.Time
	product       string
	mismatchSince time.Time
	revoked       []string             // license IDs in the verifier's revocation list
	machine       []fingerprint.Factor // default machineA
	noMachine     bool
	graceUntil    time.Time
	match         string // "score/total" when Verify gets to the binding
	tpm           string // the machine's TPM (gen_tpm_test.go); "" for none
}

func (g *generator) license(name, expect, comment string, file []byte, c licenseCase) {
	g.t.Helper()
	if c.trust == nil {
		c.trust = trustVendor
	}
	if c.now.IsZero() {
		c.now = defaultNow
	}
	if c.machine == nil && !c.noMachine {
		c.machine = machineA
	}
	h := []Header{{"expect", expect}, {"kind", "license"}, {"comment", comment}, {"now", rfc3339(c.now)}}
	if c.product != "" {
		h = append(h, Header{"product", c.product})
	}
	if !c.mismatchSince.IsZero() {
		h = append(h, Header{"mismatch-since", rfc3339(c.mismatchSince)})
	}
	for _, id := range c.revoked {
		h = append(h, Header{"revoked", id})
	}
	for _, tl := range c.trust {
		h = append(h, Header{"trust", tl})
	}
	for _, f := range c.machine {
		h = append(h, Header{"factor", string(f.Kind) + " " + f.Value})
	}
	if !c.graceUntil.IsZero() {
		h = append(h, Header{"grace-until", rfc3339(c.graceUntil)})
	}
	if c.match != "" {
		h = append(h, Header{"match", c.match})
	}
	if c.tpm != "" {
		h = append(h, Header{"tpm", c.tpm})
	}
	g.add("license-"+name, h, file)
}

// licenseBase is the typical license most license vectors start from:
// baseLicense signed by the current key.
type licenseBase struct {
	file []byte
	body string // its signed body
}

const fullMatch = "176/176" // machine A against the default policy

// driftSince is when machine A was first seen drifted in the grace
// vectors.
var driftSince = date("2026-06-10T12:00:00Z")

// licenseVectors makes the license vectors, one group of outcomes at a
// time.
func (g *generator) licenseVectors() {
	file := sign(baseLicense(vendorKey), vendorKey)
	b := licenseBase{file: file, body: bodyOf(file)}
	g.licenseValid(b)
	g.licenseGrace(b)
	g.licenseMismatch(b)
	g.licenseDatesAndProduct(b)
	g.licenseKeys(b)
	g.licenseRevoked(b)
	g.licenseBadSignature(b)
	g.licenseArmor(b)
	g.licenseGrammar(b)
	g.licenseTPMVectors()
}

const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// textOrderDiffers reports whether two adjacent factors of one kind, in
// the binding's order (by hash bytes), are out of order by hash text.
func textOrderDiffers(fs []fingerprint.HashedFactor) bool {
	for i := 1; i < len(fs); i++ {
		if fs[i-1].Kind == fs[i].Kind && fs[i-1].Hash.String() > fs[i].Hash.String() {
			return true
		}
	}
	return false
}

// reversed returns a reversed copy of b (Ed25519 scalars are little-endian).
func reversed(b []byte) []byte {
	out := slices.Clone(b)
	slices.Reverse(out)
	return out
}

// padded returns body with filler module lines after the last module line,
// so that the file with the signature sig is exactly size bytes.
func padded(body, sig string, size int) []byte {
	i := strings.Index(body, "language: ")
	head, tail := body[:i], body[i:]
	fixed := len(assemble(head+tail, sig))
	var fill strings.Builder
	for n := 0; fixed+fill.Len() < size; n++ {
		line := fmt.Sprintf("module: zz-filler-%05d 1\n", n)
		if rem := size - fixed - fill.Len(); rem < 2*len(line) {
			// last line: stretch the name to fill exactly
			line = "module: zz-filler-" + strings.Repeat("z", rem-len("module: zz-filler- 1\n")) + " 1\n"
		}
		fill.WriteString(line)
	}
	out := assemble(head+fill.String()+tail, sig)
	if len(out) != size {
		panic(fmt.Sprintf("padded to %d bytes, want %d", len(out), size))
	}
	return out
}
