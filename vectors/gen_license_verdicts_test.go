package vectors

import (
	"fmt"
	"maps"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

// licenseValid: licenses that verify, at the edges of each rule.
func (g *generator) licenseValid(b licenseBase) {
	base := b.file
	g.license("valid", "valid",
		"a typical OEM license (modules with quotas, languages, expiry, maintenance) on the machine it was issued for",
		base, licenseCase{product: product, match: fullMatch})
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/minimal")
		l.Expires, l.Maintenance, l.Modules, l.Languages = time.Time{}, time.Time{}, nil, nil
		g.license("valid-minimal", "valid",
			"no expiry, no maintenance date, no module and no language: every optional field left out; no product expected",
			sign(l, vendorKey), licenseCase{match: fullMatch})
	}
	g.license("valid-drifted-within-policy", "valid",
		"the TPM was replaced and one address changed: 136 of 176 is above the 51% threshold",
		base, licenseCase{product: product, machine: machineATPMSwapped, match: "136/176"})
	g.license("valid-at-not-before", "valid",
		"now is exactly not-before: the license is valid from that instant",
		base, licenseCase{now: defaultIssued, match: fullMatch})
	g.license("valid-mismatch-since-but-matching", "valid",
		"a mismatch was recorded earlier, but the machine matches again: valid, not grace",
		base, licenseCase{mismatchSince: date("2026-05-01T00:00:00Z"), match: fullMatch})
	{
		p := fingerprint.Policy{Threshold: 50, Weights: map[fingerprint.Kind]int{fingerprint.KindMAC: 50, fingerprint.KindMachineID: 50}}
		l := baseLicense(vendorKey)
		l.ID = testID("license/threshold-50")
		l.Binding = binding("threshold", machineA, p)
		g.license("valid-threshold-exact", "valid",
			"policy weighs only mac and machine-id (50 each), threshold 50%; the machine keeps its NICs but has another machine-id: 50 of 100 is exactly the threshold, and passes",
			sign(l, vendorKey), licenseCase{machine: machineANICsNewOS, match: "50/100"})
		p.Threshold = 51
		l.ID = testID("license/threshold-51")
		l.Binding = binding("threshold", machineA, p)
		g.license("hardware-mismatch-below-threshold", "hardware-mismatch",
			"as license-valid-threshold-exact with a 51% threshold: 50 of 100 fails",
			sign(l, vendorKey), licenseCase{machine: machineANICsNewOS, match: "50/100"})
	}
	{
		l := baseLicense(retiredKey)
		l.ID = testID("license/retired")
		l.Issued, l.NotBefore = date("2025-11-03T10:00:00Z"), date("2025-11-03T10:00:00Z")
		g.license("valid-rotated-key", "valid",
			"signed by the retired key during its validity window; the bundle holds the current and the retired key",
			sign(l, retiredKey), licenseCase{trust: trustRotated, match: fullMatch})
		l.ID = testID("license/retired-last-second")
		l.Issued, l.NotBefore = retiredTo, retiredTo
		g.license("valid-issued-at-key-end", "valid",
			"issued exactly at the retired key's not-after: the window includes its end",
			sign(l, retiredKey), licenseCase{trust: trustRotated, match: fullMatch})
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
			sign(l, vendorKey), licenseCase{match: fullMatch})
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
			sign(l, vendorKey), licenseCase{match: fullMatch})
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/colon")
		l.Licensee = "Example: Hosting GmbH: Köln"
		g.license("valid-colon-in-value", "valid",
			"a licensee name holding \": \": a body line splits at its first \": \" only",
			sign(l, vendorKey), licenseCase{match: fullMatch})
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/max-quota")
		l.Modules = []olr.Module{{Name: "obm", Quota: 9223372036854775806}}
		g.license("valid-largest-quota", "valid",
			"a quota of 2^63-2, the largest allowed: it must be parsed exactly (not through a float)",
			sign(l, vendorKey), licenseCase{match: fullMatch})
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/evaluation")
		l.Type = olr.TypeEvaluation
		g.license("valid-type-evaluation", "valid",
			"type evaluation: Verify does not judge the type (the signer refuses non-OEM keys for offline activation)",
			sign(l, vendorKey), licenseCase{match: fullMatch})
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
				sign(l, vendorKey), licenseCase{match: fullMatch})
			break
		}
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/language-tags")
		l.Languages = []string{"de-CH-1996", "en-US", "es-419", "sr-Latn", "zh-Hant-TW"}
		g.license("valid-language-tags", "valid",
			"language tags with a region, a numeric region, a script, a script and a region, and a variant, each in its canonical case",
			sign(l, vendorKey), licenseCase{match: fullMatch})
		l.ID = testID("license/128-languages")
		l.Languages = nil
		for i := range 128 {
			l.Languages = append(l.Languages, string(rune('a'+i/26))+string(rune('a'+i%26)))
		}
		g.license("valid-128-languages", "valid", "128 languages, the most a license may list",
			sign(l, vendorKey), licenseCase{match: fullMatch})
		l = baseLicense(vendorKey)
		l.ID = testID("license/256-modules")
		l.Modules = nil
		for i := range 256 {
			l.Modules = append(l.Modules, olr.Module{Name: fmt.Sprintf("m%03d", i), Quota: 1})
		}
		g.license("valid-256-modules", "valid", "256 modules, the most a license may list",
			sign(l, vendorKey), licenseCase{match: fullMatch})
	}
	{
		l := baseLicense(vendorKey)
		l.ID = testID("license/inner-no-break-space")
		l.Licensee = "Example\u00a0Hosting GmbH"
		g.license("valid-licensee-inner-no-break-space", "valid",
			"a licensee name with a no-break space (U+00A0) inside: white space is refused only at either end",
			sign(l, vendorKey), licenseCase{match: fullMatch})
	}
	{
		p := fingerprint.Policy{Threshold: 100, Weights: map[fingerprint.Kind]int{fingerprint.KindIP: 1}}
		l := baseLicense(vendorKey)
		l.ID = testID("license/weight-one")
		l.Binding = binding("weight-one", machineA, p)
		g.license("valid-total-weight-one", "valid",
			"the policy weighs only ip, 1: the smallest total a license may have; the machine keeps one address",
			sign(l, vendorKey), licenseCase{machine: only(machineA, fingerprint.KindIP)[:1], match: "1/1"})
	}
}

// licenseGrace: a drifted machine, within and after its grace period.
func (g *generator) licenseGrace(b licenseBase) {
	base := b.file
	g.license("grace", "grace",
		"the motherboard was replaced 5 days ago: only machine-id and the disks still match (40 of 176), within the 14-day grace period",
		base, licenseCase{product: product, mismatchSince: driftSince, machine: machineADrifted,
			graceUntil: driftSince.Add(14 * 24 * time.Hour), match: "40/176"})
	{
		p := fingerprint.DefaultPolicy()
		p.Required = []fingerprint.Kind{fingerprint.KindTPMEK}
		l := baseLicense(vendorKey)
		l.ID = testID("license/require-tpm")
		l.Binding = binding("require-tpm", machineA, p)
		file := sign(l, vendorKey)
		g.license("grace-required-kind", "grace",
			"the policy requires tpm-ek and the TPM was replaced: the score passes but the required kind does not; a recorded mismatch earns grace",
			file, licenseCase{mismatchSince: driftSince, machine: machineATPMSwapped,
				graceUntil: driftSince.Add(14 * 24 * time.Hour), match: "136/176"})
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
}

// licenseMismatch: machines that do not match and earn no grace.
func (g *generator) licenseMismatch(b licenseBase) {
	base := b.file
	g.license("hardware-mismatch-other-machine", "hardware-mismatch",
		"another machine: nothing matches",
		base, licenseCase{machine: machineB, match: "0/176"})
	g.license("hardware-mismatch-no-mismatch-since", "hardware-mismatch",
		"the drifted machine of license-grace with no recorded mismatch (a license never installed here): copying a license never earns grace",
		base, licenseCase{machine: machineADrifted, match: "40/176"})
	g.license("hardware-mismatch-only-ip", "hardware-mismatch",
		"another machine that took the licensed IP address, with a mismatch recorded: an IP match alone is not a partial match, so no grace",
		base, licenseCase{mismatchSince: driftSince, machine: machineBWithIPOfA, match: "1/176"})
	{
		p := fingerprint.DefaultPolicy()
		p.Weights = maps.Clone(p.Weights)
		p.Weights[fingerprint.KindDiskSerial] = 0
		l := baseLicense(vendorKey)
		l.ID = testID("license/disks-unweighted")
		l.Binding = binding("disks-unweighted", machineA, p)
		g.license("hardware-mismatch-partial-only-unweighted", "hardware-mismatch",
			"the drifted machine of license-grace, with a mismatch recorded, under a policy that gives disk-serial no weight: the disks that still match say nothing, the machine-id alone is no partial match, so no grace",
			sign(l, vendorKey), licenseCase{mismatchSince: driftSince, machine: machineADrifted, match: "25/161"})
	}
	g.license("hardware-mismatch-no-factors", "hardware-mismatch",
		"the verifying machine has no factor at all (no factor header)",
		base, licenseCase{noMachine: true, match: "0/176"})
}

// licenseDatesAndProduct: not-yet-valid, expired and wrong-product.
func (g *generator) licenseDatesAndProduct(b licenseBase) {
	base := b.file
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
}

// licenseKeys: untrusted keys, key windows and key IDs that name the
// wrong key.
func (g *generator) licenseKeys(b licenseBase) {
	body := b.body
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
}

// licenseRevoked: a license the verifier's revocation list names, and
// where revocation comes among the other checks (SPEC.md section 3,
// step 7): after the key's window, before the product and the dates.
func (g *generator) licenseRevoked(b licenseBase) {
	base := b.file
	id := testID("license/base")
	g.license("revoked", "revoked",
		"the verifier's revocation list names this license; everything else is valid",
		base, licenseCase{product: product, revoked: []string{id}})
	g.license("revoked-and-wrong-product", "revoked",
		"revoked, and for another product than the verifier expects: revocation is checked first",
		base, licenseCase{product: "Example Mail Archiver", revoked: []string{id}})
	g.license("revoked-and-expired", "revoked",
		"revoked, and expired: revocation is checked before the dates",
		base, licenseCase{now: defaultExpiry, revoked: []string{id}})
	g.license("revoked-and-other-machine", "revoked",
		"revoked, on another machine: revocation is checked before the hardware",
		base, licenseCase{machine: machineB, revoked: []string{id}})
	g.license("valid-other-license-revoked", "valid",
		"the revocation list names two other licenses, one on either side of this one's ID",
		base, licenseCase{revoked: []string{testID("license/minimal"), testID("license/retired")}, match: fullMatch})
	l := baseLicense(retiredKey)
	l.ID = testID("license/retired-too-late")
	l.Issued, l.NotBefore = retiredTo.Add(time.Second), retiredTo.Add(time.Second)
	g.license("key-not-valid-and-revoked", "key-not-valid",
		"revoked, and issued after the signing key's window: the key's window is checked first",
		sign(l, retiredKey), licenseCase{trust: trustRotated, revoked: []string{l.ID}})
}
