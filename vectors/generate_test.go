package vectors

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

var update = flag.Bool("update", false, "rewrite the vector files in testdata")

// TestGenerate builds every vector in memory. With -update it rewrites
// testdata to match; without, it fails if a committed file differs from
// what the generator makes, or is missing, or is not made at all. So the
// committed vectors are always reproducible from this file.
//
// Everything is deterministic: Ed25519 keys, salts and IDs are derived
// from fixed labels with SHA-256, times are fixed, and age's randomness
// (identities, ephemeral shares, file keys, nonces) comes from
// cryptotest.SetGlobalRandom with a seed derived from the vector's name.
func TestGenerate(t *testing.T) {
	g := &generator{t: t, files: map[string][]byte{}}
	g.licenseVectors()
	g.requestVectors()

	if *update {
		old, err := os.ReadDir("testdata")
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range old {
			if _, ok := g.files[e.Name()]; !ok {
				if err := os.Remove(filepath.Join("testdata", e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range g.files {
			if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %d vectors", len(g.files))
		return
	}

	disk := os.DirFS("testdata")
	entries, err := fs.ReadDir(disk, ".")
	if err != nil {
		t.Fatalf("%v (run go test ./vectors -run TestGenerate -update)", err)
	}
	for _, e := range entries {
		if _, ok := g.files[e.Name()]; !ok {
			t.Errorf("testdata/%s is not made by the generator", e.Name())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(g.files)) {
		got, err := fs.ReadFile(disk, name)
		if err != nil {
			t.Errorf("testdata/%s is missing", name)
			continue
		}
		if !bytes.Equal(got, g.files[name]) {
			t.Errorf("testdata/%s differs from what the generator makes", name)
		}
	}
	if t.Failed() {
		t.Log("run go test ./vectors -run TestGenerate -update to rewrite the vectors, and review the diff")
	}
}

type generator struct {
	t     *testing.T
	files map[string][]byte
}

func (g *generator) add(name string, headers []Header, body []byte) {
	g.t.Helper()
	if _, dup := g.files[name]; dup {
		g.t.Fatalf("vector %s made twice", name)
	}
	for _, h := range headers {
		if strings.Contains(h.Value, "\n") || strings.HasSuffix(h.Value, " ") {
			g.t.Fatalf("vector %s: header %s does not fit on one line", name, h.Key)
		}
	}
	v := &Vector{Name: name, Headers: headers, Body: body}
	g.files[name] = v.Marshal()
}

// Derivation of deterministic test material. None of it is secret: the
// labels are in this file.

func testSeed(label string) []byte {
	s := sha256.Sum256([]byte("olr test vectors/v1/" + label))
	return s[:]
}

func testKey(label string) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(testSeed("ed25519/" + label))
}

func testID(label string) string { return hex.EncodeToString(testSeed("id/" + label)[:16]) }

func testRandSeed(label string) uint64 {
	return binary.LittleEndian.Uint64(testSeed("rand/" + label))
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// The signing keys. "vendor" is the current key; "retired" was rotated
// out at the end of January 2026 and stays in bundles with an end date;
// "stranger" is in no bundle.
var (
	vendorKey   = testKey("vendor 2026")
	retiredKey  = testKey("vendor 2024")
	strangerKey = testKey("not trusted")

	vendorFrom  = date("2026-01-01T00:00:00Z")
	retiredFrom = date("2024-01-01T00:00:00Z")
	retiredTo   = date("2026-01-31T00:00:00Z")
)

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }
func keyID(k ed25519.PrivateKey) olr.KeyID       { return olr.KeyIDOf(pub(k)) }

// trustLine is a trust bundle key line without its "key: " prefix.
func trustLine(k ed25519.PrivateKey, from, to time.Time) string {
	tr := &olr.Trust{}
	if err := tr.Add(pub(k), from, to); err != nil {
		panic(err)
	}
	line := strings.Split(string(tr.Marshal()), "\n")[1]
	return strings.TrimPrefix(line, "key: ")
}

var (
	trustVendor  = []string{trustLine(vendorKey, vendorFrom, time.Time{})}
	trustRotated = []string{trustLine(vendorKey, vendorFrom, time.Time{}), trustLine(retiredKey, retiredFrom, retiredTo)}
)

// Machines. Values are in normal form (fingerprint.Normalize).

func tpmName(label string) string { return "000b" + hex.EncodeToString(testSeed("tpm/"+label)) }

func factors(kv ...string) []fingerprint.Factor {
	var out []fingerprint.Factor
	for i := 0; i < len(kv); i += 2 {
		k := fingerprint.Kind(kv[i])
		v, err := fingerprint.Normalize(k, kv[i+1])
		if err != nil || v != kv[i+1] {
			panic(fmt.Sprintf("factor %s %q is not in normal form", k, kv[i+1]))
		}
		out = append(out, fingerprint.Factor{Kind: k, Value: v, Source: "test vector"})
	}
	return out
}

// machineA is the licensed machine.
var machineA = factors(
	"board-serial", "BSN0042778100",
	"disk-serial", "S4EWNX0R123456",
	"disk-serial", "WD-WX12A3456789",
	"ip", "192.0.2.10",
	"ip", "2001:db8::10",
	"mac", "3c:ec:ef:10:20:31",
	"mac", "3c:ec:ef:10:20:32",
	"machine-id", "8f3c2a5e9b7d4c1f0a6e2d8b3c5f7a91",
	"product-serial", "CZJ1234ABC",
	"product-uuid", "4c4c4544-0042-3510-8051-b4c04f4d3732",
	"tpm-ek", tpmName("machine A"),
)

// machineATPMSwapped is machine A with its TPM replaced and a new DHCP
// lease: it still matches under the default policy.
var machineATPMSwapped = factors(
	"board-serial", "BSN0042778100",
	"disk-serial", "S4EWNX0R123456",
	"disk-serial", "WD-WX12A3456789",
	"ip", "192.0.2.77",
	"ip", "2001:db8::10",
	"mac", "3c:ec:ef:10:20:31",
	"mac", "3c:ec:ef:10:20:32",
	"machine-id", "8f3c2a5e9b7d4c1f0a6e2d8b3c5f7a91",
	"product-serial", "CZJ1234ABC",
	"product-uuid", "4c4c4544-0042-3510-8051-b4c04f4d3732",
	"tpm-ek", tpmName("machine A, replacement TPM"),
)

// machineADrifted is machine A after a motherboard replacement: new
// board, system serials, UUID, TPM, onboard NICs and address; the same
// disks and OS installation (machine-id). 40 of 176 under the default
// policy: no match, but a partial one.
var machineADrifted = factors(
	"board-serial", "BSN0099120455",
	"disk-serial", "S4EWNX0R123456",
	"disk-serial", "WD-WX12A3456789",
	"ip", "192.0.2.88",
	"mac", "3c:ec:ef:33:41:07",
	"mac", "3c:ec:ef:33:41:08",
	"machine-id", "8f3c2a5e9b7d4c1f0a6e2d8b3c5f7a91",
	"product-serial", "CZJ9876XYZ",
	"product-uuid", "4c4c4544-0057-4410-8032-c2c04f4d5931",
	"tpm-ek", tpmName("machine A, new board"),
)

// machineB is another machine entirely.
var machineB = factors(
	"board-serial", "BSN7710023456",
	"disk-serial", "Z1X0ABCD",
	"ip", "198.51.100.23",
	"mac", "00:1b:21:aa:bb:cc",
	"machine-id", "2b7e151628aed2a6abf7158809cf4f3c",
	"product-serial", "MXQ5550123",
	"product-uuid", "9e1a2b3c-4d5e-4f60-8172-8394a5b6c7d8",
	"tpm-ek", tpmName("machine B"),
)

// machineBWithIPOfA is machine B that was given machine A's address.
var machineBWithIPOfA = append(slices.Clone(machineB), factors("ip", "192.0.2.10")...)

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
	machine       []fingerprint.Factor // default machineA
	noMachine     bool
	graceUntil    time.Time
	match         string // "score/total" when Verify gets to the binding
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
	g.add("license-"+name, h, file)
}

func (g *generator) licenseVectors() {
	base := sign(baseLicense(vendorKey), vendorKey)
	body := bodyOf(base)
	full := "176/176"

	// valid
	g.license("valid", "valid",
		"a typical OEM license (modules with quotas, languages, expiry, maintenance) on the machine it was issued for",
		base, licenseCase{product: product, match: full})
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/minimal")
		l.Expires, l.Maintenance, l.Modules, l.Languages = time.Time{}, time.Time{}, nil, nil
		g.license("valid-minimal", "valid",
			"no expiry, no maintenance date, no module and no language: every optional field left out; no product expected",
			sign(l, vendorKey), licenseCase{match: full})
	}
	g.license("valid-drifted-within-policy", "valid",
		"the TPM was replaced and one address changed: 136 of 176 is above the 51% threshold",
		base, licenseCase{product: product, machine: machineATPMSwapped, match: "136/176"})
	g.license("valid-at-not-before", "valid",
		"now is exactly not-before: the license is valid from that instant",
		base, licenseCase{now: defaultIssued, match: full})
	g.license("valid-mismatch-since-but-matching", "valid",
		"a mismatch was recorded earlier, but the machine matches again: valid, not grace",
		base, licenseCase{mismatchSince: date("2026-05-01T00:00:00Z"), match: full})
	{
		p := fingerprint.Policy{Threshold: 50, Weights: map[fingerprint.Kind]int{fingerprint.KindMAC: 50, fingerprint.KindMachineID: 50}}
		l := baseLicense(vendorKey)
		l.ID = testID("license/threshold-50")
		l.Binding = binding("threshold", machineA, p)
		g.license("valid-threshold-exact", "valid",
			"policy weighs only mac and machine-id (50 each), threshold 50%; the machine keeps its NICs but has another machine-id: 50 of 100 is exactly the threshold, and passes",
			sign(l, vendorKey), licenseCase{machine: append(slices.Clone(machineA[5:7]), machineB[4]), match: "50/100"})
		p.Threshold = 51
		l.ID = testID("license/threshold-51")
		l.Binding = binding("threshold", machineA, p)
		g.license("hardware-mismatch-below-threshold", "hardware-mismatch",
			"as license-valid-threshold-exact with a 51% threshold: 50 of 100 fails",
			sign(l, vendorKey), licenseCase{machine: append(slices.Clone(machineA[5:7]), machineB[4]), match: "50/100"})
	}
	{
		l := baseLicense(retiredKey)
		l.ID = testID("license/retired")
		l.Issued, l.NotBefore = date("2025-11-03T10:00:00Z"), date("2025-11-03T10:00:00Z")
		g.license("valid-rotated-key", "valid",
			"signed by the retired key during its validity window; the bundle holds the current and the retired key",
			sign(l, retiredKey), licenseCase{trust: trustRotated, match: full})
		l.ID = testID("license/retired-last-second")
		l.Issued, l.NotBefore = retiredTo, retiredTo
		g.license("valid-issued-at-key-end", "valid",
			"issued exactly at the retired key's not-after: the window includes its end",
			sign(l, retiredKey), licenseCase{trust: trustRotated, match: full})
		l.ID = testID("license/retired-too-late")
		l.Issued, l.NotBefore = retiredTo.Add(time.Second), retiredTo.Add(time.Second)
		g.license("key-not-valid-after-window", "key-not-valid",
			"signed by the retired key one second after its not-after",
			sign(l, retiredKey), licenseCase{trust: trustRotated})
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/key-start")
		l.Issued, l.NotBefore = vendorFrom, vendorFrom
		g.license("valid-issued-at-key-start", "valid",
			"issued exactly at the signing key's not-before: the window includes its start",
			sign(l, vendorKey), licenseCase{match: full})
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/early")
		l.Issued, l.NotBefore = date("2025-12-31T23:59:59Z"), date("2025-12-31T23:59:59Z")
		g.license("key-not-valid-before-window", "key-not-valid",
			"issued one second before the signing key's not-before",
			sign(l, vendorKey), licenseCase{})
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/utf8")
		l.Licensee = "Müller & Søn Datentechnik GmbH — Zweigstelle Köln"
		g.license("valid-utf8-licensee", "valid",
			"a licensee name with non-ASCII UTF-8: values are compared and signed as bytes",
			sign(l, vendorKey), licenseCase{match: full})
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/colon")
		l.Licensee = "Example: Hosting GmbH: Köln"
		g.license("valid-colon-in-value", "valid",
			"a licensee name holding \": \": a body line splits at its first \": \" only",
			sign(l, vendorKey), licenseCase{match: full})
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/max-quota")
		l.Modules = []olr.Module{{Name: "obm", Quota: 9223372036854775806}}
		g.license("valid-largest-quota", "valid",
			"a quota of 2^63-2, the largest allowed: it must be parsed exactly (not through a float)",
			sign(l, vendorKey), licenseCase{match: full})
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/evaluation")
		l.Type = olr.TypeEvaluation
		g.license("valid-type-evaluation", "valid",
			"type evaluation: Verify does not judge the type (the signer refuses non-OEM keys for offline activation)",
			sign(l, vendorKey), licenseCase{match: full})
	}

	{
		// Factors are sorted by the bytes of their hash, which is not the
		// order of the base64 text: in ASCII the digits, '+' and '/' come
		// before the letters. Pick a salt under which two factors of one
		// kind are in different orders by bytes and by text.
		for i := 0; ; i++ {
			label := fmt.Sprintf("order-%d", i)
			b := binding(label, machineA, fingerprint.DefaultPolicy())
			if !textOrderDiffers(b.Factors) {
				continue
			}
			l := baseLicense(vendorKey)
			l.ID = testID("license/factor-order")
			l.Binding = b
			g.license("valid-factor-order", "valid",
				"two factors of one kind whose order by hash bytes (the format's order) differs from the order of their base64 text",
				sign(l, vendorKey), licenseCase{match: full})
			break
		}
	}

	// grace
	drift := date("2026-06-10T12:00:00Z")
	g.license("grace", "grace",
		"the motherboard was replaced 5 days ago: only machine-id and the disks still match (40 of 176), within the 14-day grace period",
		base, licenseCase{product: product, mismatchSince: drift, machine: machineADrifted,
			graceUntil: drift.Add(14 * 24 * time.Hour), match: "40/176"})
	{
		p := fingerprint.DefaultPolicy()
		p.Required = []fingerprint.Kind{fingerprint.KindTPMEK}
		l := baseLicense(vendorKey)
		l.ID = testID("license/require-tpm")
		l.Binding = binding("require-tpm", machineA, p)
		file := sign(l, vendorKey)
		g.license("grace-required-kind", "grace",
			"the policy requires tpm-ek and the TPM was replaced: the score passes but the required kind does not; a recorded mismatch earns grace",
			file, licenseCase{mismatchSince: drift, machine: machineATPMSwapped,
				graceUntil: drift.Add(14 * 24 * time.Hour), match: "136/176"})
		g.license("hardware-mismatch-required-kind", "hardware-mismatch",
			"as license-grace-required-kind, with no mismatch recorded",
			file, licenseCase{machine: machineATPMSwapped, match: "136/176"})
	}
	g.license("grace-expired", "grace-expired",
		"as license-grace, but the mismatch was first seen 20 days ago",
		base, licenseCase{mismatchSince: defaultNow.Add(-20 * 24 * time.Hour), machine: machineADrifted,
			graceUntil: defaultNow.Add(-6 * 24 * time.Hour), match: "40/176"})
	g.license("grace-expired-at-exact-end", "grace-expired",
		"now is exactly mismatch-since plus 14 days: the grace period has ended",
		base, licenseCase{mismatchSince: defaultNow.Add(-14 * 24 * time.Hour), machine: machineADrifted,
			graceUntil: defaultNow, match: "40/176"})
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/no-grace")
		l.GraceDays = 0
		g.license("grace-expired-zero-days", "grace-expired",
			"grace-days 0: a drifted machine has no grace period at all",
			sign(l, vendorKey), licenseCase{mismatchSince: defaultNow.Add(-time.Hour), machine: machineADrifted,
				graceUntil: defaultNow.Add(-time.Hour), match: "40/176"})
	}

	// hardware-mismatch
	g.license("hardware-mismatch-other-machine", "hardware-mismatch",
		"another machine: nothing matches",
		base, licenseCase{machine: machineB, match: "0/176"})
	g.license("hardware-mismatch-no-mismatch-since", "hardware-mismatch",
		"the drifted machine of license-grace with no recorded mismatch (a license never installed here): copying a license never earns grace",
		base, licenseCase{machine: machineADrifted, match: "40/176"})
	g.license("hardware-mismatch-only-ip", "hardware-mismatch",
		"another machine that took the licensed IP address, with a mismatch recorded: an IP match alone is not a partial match, so no grace",
		base, licenseCase{mismatchSince: drift, machine: machineBWithIPOfA, match: "1/176"})
	g.license("hardware-mismatch-no-factors", "hardware-mismatch",
		"the verifying machine has no factor at all (no factor header)",
		base, licenseCase{noMachine: true, match: "0/176"})

	// dates and product
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/future")
		l.Issued, l.NotBefore = date("2026-06-10T08:00:00Z"), date("2026-07-01T00:00:00Z")
		g.license("not-yet-valid", "not-yet-valid", "not-before is 2026-07-01, now is 2026-06-15",
			sign(l, vendorKey), licenseCase{})
		l = baseLicense(vendorKey)
		l.ID = testID("license/expired")
		l.Expires = date("2026-06-01T00:00:00Z")
		file := sign(l, vendorKey)
		g.license("expired", "expired", "expired 2026-06-01, now is 2026-06-15", file, licenseCase{})
		g.license("expired-at-exact-expiry", "expired",
			"now is exactly the expiry: a license is valid up to, not including, its expiry",
			file, licenseCase{now: l.Expires})
	}
	g.license("wrong-product", "wrong-product", "the product verifying expects another product name",
		base, licenseCase{product: "Example Mail Archiver"})
	g.license("wrong-product-case", "wrong-product", "product names are compared exactly: case matters",
		base, licenseCase{product: "example backup server"})

	// keys
	{
		l := baseLicense(strangerKey)
		l.ID = testID("license/stranger")
		g.license("untrusted-key", "untrusted-key", "signed by a key that is not in the bundle, and naming it",
			sign(l, strangerKey), licenseCase{})
		sb := edit(body, "key-id: "+keyID(vendorKey).String(), "key-id: "+keyID(strangerKey).String())
		g.license("untrusted-key-id", "untrusted-key",
			"signed by the trusted key, but key-id names an untrusted key (body altered and signed with the trusted key)",
			resign(sb, vendorKey), licenseCase{})
		g.license("bad-signature-signed-by-stranger", "bad-signature",
			"key-id names the trusted key, but the body is signed by an untrusted key",
			resign(body, strangerKey), licenseCase{})
		rb := edit(body, "key-id: "+keyID(vendorKey).String(), "key-id: "+keyID(retiredKey).String())
		g.license("bad-signature-key-id-names-other-trusted-key", "bad-signature",
			"signed by the current key, but key-id names the retired key, also trusted (body altered and signed with the current key)",
			resign(rb, vendorKey), licenseCase{trust: trustRotated})
	}

	// bad-signature
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

	// malformed, unsigned: the armor and the signature line
	g.license("malformed-empty", "malformed", "a zero-length file", []byte{}, licenseCase{})
	g.license("malformed-truncated", "malformed", "the valid license cut in the middle of a factor line",
		base[:len(base)/2], licenseCase{})
	// Copy and paste: CRLF line endings and LF characters before the
	// BEGIN line or after the END line are undone (SPEC.md, section 3);
	// nothing else is.
	g.license("valid-crlf", "valid", "the valid license with CRLF line endings, as a mail program or Windows editor leaves it",
		bytes.ReplaceAll(base, []byte("\n"), []byte("\r\n")), licenseCase{match: full})
	g.license("valid-blank-lines-around", "valid", "the valid license with empty lines before the BEGIN line and after the END line",
		slices.Concat([]byte("\n\n"), base, []byte("\n\n")), licenseCase{match: full})
	g.license("valid-crlf-blank-lines-around", "valid", "CRLF line endings and CRLF empty lines before and after the armor",
		bytes.ReplaceAll(slices.Concat([]byte("\n"), base, []byte("\n")), []byte("\n"), []byte("\r\n")), licenseCase{match: full})
	g.license("valid-no-final-newline", "valid", "the valid license without the LF after the END line",
		bytes.TrimSuffix(base, []byte("\n")), licenseCase{match: full})
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

	// unsupported-format
	g.license("unsupported-format-v2", "unsupported-format",
		"format olr-license/v2, otherwise the valid license (body altered, then signed with the trusted key)",
		resign(edit(body, "format: olr-license/v1\n", "format: olr-license/v2\n"), vendorKey), licenseCase{})
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
	bad("unsupported-format", "unsupported-format", "the format tag is olr-request/v2",
		edit(plain, `"olr-request/v1"`, `"olr-request/v2"`))
	bad("invalid-factor-not-normal", "invalid", "a MAC address in upper case: factors must be in normal form",
		edit(plain, `"3c:ec:ef:10:20:31"`, `"3C:EC:EF:10:20:31"`))
	bad("invalid-empty-license-key", "invalid", "an empty license key",
		edit(plain, `"OEM-7Q4K-2M9X-TEST-0001"`, `""`))
	bad("invalid-no-factors", "invalid", "a fingerprint without factors",
		`{"format":"olr-request/v1","request_id":"`+req.ID+`","created":"2026-03-01T08:15:00Z","product":"Example Backup Server","licensee":"Example Hosting GmbH","license_key":"OEM-7Q4K-2M9X-TEST-0001","hostname":"backup01.example.net","tool":"olr test vectors","fingerprint":{"factors":[],"machine":{"class":"unknown"}}}`+"\n")
	// Known to be accepted by the Go implementation: see knownBugs in
	// vectors_test.go.
	bad("field-name-case-variant", "malformed",
		"license_key and LICENSE_KEY with different values: member names are case sensitive, so LICENSE_KEY is an unknown member (a JSON decoder that matches names case-insensitively would take it for license_key)",
		edit(plain, key, key+`  "LICENSE_KEY": "OEM-7Q4K-2M9X-TEST-9999",`+"\n"))
	bad("invalid-control-character-in-source", "invalid",
		"a factor source holding an ANSI escape sequence (ESC [2J, clear screen): no text field at any depth may hold control characters, since tools print them to the vendor's terminal",
		strings.Replace(plain, `"source": "test vector"`, `"source": "\u001b[2J\u001b[Htest vector"`, 1))
	bad("invalid-utf8", "malformed",
		"the licensee string holds the byte 0xff, which is not UTF-8, so the plaintext is not JSON (a decoder must not replace it with U+FFFD)",
		edit(plain, `"Example Hosting GmbH"`, "\"Example Hosting GmbH\xff\""))
}
