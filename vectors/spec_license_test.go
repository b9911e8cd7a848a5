package vectors

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// specLicenseResult is the outcome of verifying a license vector by
// SPEC.md section 3, with the match and the end of grace when the
// verification got that far.
type specLicenseResult struct {
	outcome    string
	match      string // "SCORE/TOTAL"
	graceUntil time.Time
}

// specLicense verifies a license vector by the steps of SPEC.md section
// 3, "Verification, in order".
func specLicense(v *Vector) specLicenseResult {
	fail := func(outcome string) specLicenseResult { return specLicenseResult{outcome: outcome} }

	// 1 to 4: the armor, the format, the key and the signature.
	bodyLines, key, outcome := specAuthenticate(v, specLicenseDoc)
	if outcome != "" {
		return fail(outcome)
	}

	// 5. The grammar.
	l, ok := specParseBody(bodyLines)
	if !ok {
		return fail("malformed")
	}

	// 6. The key's window.
	if !key.validAt(l.issued) {
		return fail("key-not-valid")
	}

	// 7. The revocation list.
	if slices.Contains(v.All("revoked"), l.fields["license-id"][0]) {
		return fail("revoked")
	}

	// 8. The product.
	if p, ok := v.Get("product"); ok && p != l.fields["product"][0] {
		return fail("wrong-product")
	}

	// 9. The dates.
	nowText, _ := v.Get("now")
	now, _ := time.Parse(time.RFC3339, nowText)
	if now.Before(l.notBefore) {
		return fail("not-yet-valid")
	}
	if !l.expires.IsZero() && !now.Before(l.expires) {
		return fail("expired")
	}

	// 10. The TPM binding: the machine's TPM signs a fresh challenge.
	if l.tpmKey != nil {
		if outcome := specTPMProof(v, l); outcome != "" {
			return fail(outcome)
		}
	}

	// 11. The hardware, and grace.
	r := specLicenseResult{}
	score, total, pass, partial := specMatch(v, l)
	r.match = fmt.Sprintf("%d/%d", score, total)
	switch since, installed := v.Get("mismatch-since"); {
	case pass:
		r.outcome = "valid"
	case installed && partial:
		t, _ := time.Parse(time.RFC3339, since)
		r.graceUntil = t.Add(time.Duration(l.graceDays) * 24 * time.Hour)
		r.outcome = "grace"
		if !now.Before(r.graceUntil) {
			r.outcome = "grace-expired"
		}
	default:
		r.outcome = "hardware-mismatch"
	}
	return r
}

// specDoc is one of the two signed formats: the license and the
// revocation list share steps 1 to 4 of SPEC.md section 3. formats are
// the format tags a reader reads (a license: versions 1 and 2).
type specDoc struct {
	begin, end string
	formats    []string
	label      string
}

var (
	specLicenseDoc = specDoc{"-----BEGIN OLR LICENSE-----\n", "-----END OLR LICENSE-----\n", []string{"olr-license/v1", "olr-license/v2"}, "olr/v1/license-signature\x00"}
	specCRLDoc     = specDoc{"-----BEGIN OLR REVOCATION LIST-----\n", "-----END OLR REVOCATION LIST-----\n", []string{"olr-crl/v1"}, "olr/v1/crl-signature\x00"}
)

// specAuthenticate runs steps 1 to 4 of SPEC.md section 3 and returns the
// body's lines and the key, or the outcome of the step that failed.
func specAuthenticate(v *Vector, d specDoc) (bodyLines []string, key *specKey, outcome string) {
	// 1. Size, copy and paste, armor, signature line.
	data := v.Body
	max := 64 << 10
	if d.formats[0] == "olr-crl/v1" {
		max = 4 << 20
	}
	if len(data) > max {
		return nil, nil, "malformed"
	}
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	s := strings.Trim(string(data), "\n") + "\n"
	if strings.Contains(s, "\r") || !strings.HasPrefix(s, d.begin) || !strings.HasSuffix(s, d.end) || len(s) < len(d.begin)+len(d.end) {
		return nil, nil, "malformed"
	}
	lines := strings.SplitAfter(s[len(d.begin):len(s)-len(d.end)], "\n")
	if lines[len(lines)-1] != "" {
		return nil, nil, "malformed" // the END line does not start a line
	}
	lines = lines[:len(lines)-1]
	if len(lines) == 0 {
		return nil, nil, "malformed"
	}
	sigText, ok := strings.CutPrefix(strings.TrimSuffix(lines[len(lines)-1], "\n"), "signature: ")
	sig, err := base64.RawStdEncoding.Strict().DecodeString(sigText)
	if !ok || err != nil || len(sig) != 64 || len(sigText) != 86 {
		return nil, nil, "malformed"
	}
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(l, "signature:") || strings.HasPrefix(l, "-----") {
			return nil, nil, "malformed"
		}
	}
	body := strings.Join(lines[:len(lines)-1], "")
	bodyLines = strings.Split(strings.TrimSuffix(body, "\n"), "\n")

	// 2. The format line.
	format, ok := strings.CutPrefix(bodyLines[0], "format: ")
	if !ok {
		return nil, nil, "malformed"
	}
	if !slices.Contains(d.formats, format) {
		return nil, nil, "unsupported-format"
	}

	// 3. The key ID, and the key.
	if len(bodyLines) < 2 || !strings.HasPrefix(bodyLines[1], "key-id: ") || !specKeyIDRE.MatchString(bodyLines[1][8:]) {
		return nil, nil, "malformed"
	}
	key = specTrustedKey(v, bodyLines[1][8:])
	if key == nil {
		return nil, nil, "untrusted-key"
	}

	// 4. The signature.
	if !ed25519.Verify(key.pub, []byte(d.label+body), sig) {
		return nil, nil, "bad-signature"
	}
	return bodyLines, key, ""
}

// validAt reports whether the key's window holds t.
func (k *specKey) validAt(t time.Time) bool {
	return (k.from.IsZero() || !t.Before(k.from)) && (k.to.IsZero() || !t.After(k.to))
}

// specKey is a trusted key of a vector's trust headers.
type specKey struct {
	pub      ed25519.PublicKey
	from, to time.Time
}

func specTrustedKey(v *Vector, id string) *specKey {
	for _, tl := range v.All("trust") {
		f := strings.Split(tl, " ")
		if len(f) != 4 || f[0] != id {
			continue
		}
		pub, _ := base64.RawStdEncoding.Strict().DecodeString(f[1])
		k := &specKey{pub: pub}
		k.from, _ = specTime(f[2])
		k.to, _ = specTime(f[3])
		return k
	}
	return nil
}

// specFields are the body's fields in order, with how often each may
// appear.
var specFields = []struct {
	name     string
	min, max int
}{
	{"format", 1, 1}, {"key-id", 1, 1}, {"license-id", 1, 1}, {"request-id", 1, 1},
	{"issued", 1, 1}, {"not-before", 1, 1}, {"expires", 0, 1}, {"maintenance", 0, 1},
	{"product", 1, 1}, {"licensee", 1, 1}, {"type", 1, 1}, {"module", 0, 256}, {"language", 0, 128},
	{"grace-days", 1, 1}, {"match-threshold", 1, 1}, {"match-weight", 0, len(specKinds)},
	{"match-require", 0, len(specKinds)}, {"salt", 1, 1}, {"factor", 1, 256},
	{"tpm-bind", 0, 1}, {"tpm-key", 0, 1}, {"tpm-blob", 0, 1},
}

// specBody is a parsed license body.
type specBody struct {
	fields             map[string][]string
	issued, notBefore  time.Time
	expires            time.Time
	graceDays          int
	threshold          int
	weights            map[string]int
	required           []string
	salt               []byte
	factorKinds        []string
	factorHashes       [][]byte
	recordedKindsTotal int
	tpmKind            string // with tpmKey and tpmBlob, for olr-license/v2
	tpmKey, tpmBlob    []byte
}

var specModuleRE = regexp.MustCompile(`^([a-z0-9][a-z0-9-]{0,63}) (0|[1-9][0-9]*|unlimited)$`)

// specParseBody checks the body's grammar (SPEC.md section 3).
func specParseBody(lines []string) (*specBody, bool) {
	b := &specBody{fields: map[string][]string{}, weights: map[string]int{}}
	i := 0
	for _, f := range specFields {
		n := 0
		for i < len(lines) && n < f.max {
			name, value, ok := strings.Cut(lines[i], ": ")
			if !ok || name != f.name {
				break
			}
			limit := 256
			if name == "tpm-blob" {
				limit = 2732 // the base64 of 2048 bytes
			}
			if !specText(value, limit) {
				return nil, false
			}
			b.fields[name] = append(b.fields[name], value)
			i, n = i+1, n+1
		}
		if n < f.min {
			return nil, false
		}
	}
	if i != len(lines) {
		return nil, false
	}
	one := func(name string) string { return b.fields[name][0] }
	if !specTPMLines(b) || !specKeyIDRE.MatchString(one("key-id")) ||
		!specHex32RE.MatchString(one("license-id")) || !specHex32RE.MatchString(one("request-id")) {
		return nil, false
	}
	var ok bool
	if b.issued, ok = specTime(one("issued")); !ok {
		return nil, false
	}
	if b.notBefore, ok = specTime(one("not-before")); !ok {
		return nil, false
	}
	for _, name := range []string{"expires", "maintenance"} {
		for _, v := range b.fields[name] {
			t, ok := specTime(v)
			if !ok {
				return nil, false
			}
			if name == "expires" {
				if !t.After(b.notBefore) {
					return nil, false
				}
				b.expires = t
			}
		}
	}
	if !slices.Contains([]string{"oem", "meter", "active-pool", "evaluation"}, one("type")) {
		return nil, false
	}
	// Repeated fields strictly increase by their key.
	increasing := func(keys []string) bool {
		for j := 1; j < len(keys); j++ {
			if keys[j-1] >= keys[j] {
				return false
			}
		}
		return true
	}
	var names []string
	for _, m := range b.fields["module"] {
		sm := specModuleRE.FindStringSubmatch(m)
		if sm == nil {
			return nil, false
		}
		if q := sm[2]; q != "unlimited" && (len(q) > 19 || len(q) == 19 && q > "9223372036854775806") {
			return nil, false
		}
		names = append(names, sm[1])
	}
	if !increasing(names) || !increasing(b.fields["language"]) {
		return nil, false
	}
	for _, tag := range b.fields["language"] {
		if !specLanguage(tag) {
			return nil, false
		}
	}
	days, ok1 := specNumber(one("grace-days"), 0, 365)
	threshold, ok2 := specNumber(one("match-threshold"), 1, 100)
	if !ok1 || !ok2 {
		return nil, false
	}
	b.graceDays, b.threshold = int(days), int(threshold)
	var kinds []string
	for _, w := range b.fields["match-weight"] {
		k, n, _ := strings.Cut(w, " ")
		weight, ok := specNumber(n, 0, 1000)
		if !ok || !slices.Contains(specKinds, k) {
			return nil, false
		}
		b.weights[k] = int(weight)
		kinds = append(kinds, k)
	}
	if !increasing(kinds) || !increasing(b.fields["match-require"]) {
		return nil, false
	}
	for _, k := range b.fields["match-require"] {
		if !slices.Contains(specKinds, k) {
			return nil, false
		}
	}
	b.required = b.fields["match-require"]
	salt, err := base64.RawStdEncoding.Strict().DecodeString(one("salt"))
	if err != nil || len(salt) != 32 || len(one("salt")) != 43 {
		return nil, false
	}
	b.salt = salt
	recorded := map[string]bool{}
	for j, f := range b.fields["factor"] {
		k, h, _ := strings.Cut(f, " ")
		hash, err := base64.RawStdEncoding.Strict().DecodeString(h)
		if err != nil || len(hash) != 32 || len(h) != 43 || !slices.Contains(specKinds, k) {
			return nil, false
		}
		if j > 0 {
			pk := b.factorKinds[j-1]
			if pk > k || pk == k && bytes.Compare(b.factorHashes[j-1], hash) >= 0 {
				return nil, false
			}
		}
		b.factorKinds, b.factorHashes = append(b.factorKinds, k), append(b.factorHashes, hash)
		if !recorded[k] {
			recorded[k] = true
			b.recordedKindsTotal += b.weights[k]
		}
	}
	if b.recordedKindsTotal == 0 {
		return nil, false
	}
	return b, true
}

// specMatch applies the match policy (SPEC.md section 1) to the vector's
// factor headers.
func specMatch(v *Vector, b *specBody) (score, total int, pass, partial bool) {
	current := map[string]bool{}
	for _, f := range v.All("factor") {
		kind, value, _ := strings.Cut(f, " ")
		h := sha256.Sum256(fmt.Appendf(nil, "olr/v1/factor-hash\x00%s%s\x00%s", b.salt, kind, value))
		current[kind+" "+string(h[:])] = true
	}
	matched := map[string]bool{}
	for j, k := range b.factorKinds {
		if current[k+" "+string(b.factorHashes[j])] {
			matched[k] = true
		}
	}
	requiredMissed := false
	seen := map[string]bool{}
	for _, k := range b.factorKinds {
		if seen[k] {
			continue
		}
		seen[k] = true
		total += b.weights[k]
		if matched[k] {
			score += b.weights[k]
			if b.weights[k] > 0 && k != "ip" && k != "machine-id" {
				partial = true
			}
		} else if slices.Contains(b.required, k) {
			requiredMissed = true
		}
	}
	pass = total > 0 && score*100 >= b.threshold*total && !requiredMissed
	return score, total, pass, partial
}

// specTPMLines checks the TPM lines against the format: all three in an
// olr-license/v2 body, none in a version 1 one (SPEC.md section 3,
// "Version 2").
func specTPMLines(b *specBody) bool {
	n := len(b.fields["tpm-bind"]) + len(b.fields["tpm-key"]) + len(b.fields["tpm-blob"])
	switch b.fields["format"][0] {
	case "olr-license/v1":
		return n == 0
	case "olr-license/v2":
	default:
		return false
	}
	if n != 3 {
		return false
	}
	kind, ok := strings.CutPrefix(b.fields["tpm-bind"][0], "import ")
	if !ok || kind != "ecc-p256" && kind != "rsa-2048" {
		return false
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(b.fields["tpm-key"][0])
	if err != nil || len(key) != 65 {
		return false
	}
	if _, err := ecdh.P256().NewPublicKey(key); err != nil {
		return false
	}
	blob, err := base64.RawStdEncoding.Strict().DecodeString(b.fields["tpm-blob"][0])
	if err != nil || len(blob) == 0 || len(blob) > 2048 {
		return false
	}
	b.tpmKind, b.tpmKey, b.tpmBlob = kind, key, blob
	return true
}

// specTPMProof challenges the vector's TPM (its "tpm" header: the kind and
// the SHA-256 of the one blob it imports, and the scalar it signs with)
// and returns "" when the answer verifies with tpm-key.
func specTPMProof(v *Vector, b *specBody) string {
	h, ok := v.Get("tpm")
	if !ok {
		return "tpm-unavailable"
	}
	f := strings.Fields(h)
	blobHash := sha256.Sum256(b.tpmBlob)
	if f[0] != b.tpmKind || f[1] != hex.EncodeToString(blobHash[:]) {
		return "tpm-mismatch" // the TPM cannot import a key wrapped to another EK
	}
	d, _ := base64.RawStdEncoding.DecodeString(f[2])
	tpmKey, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return "tpm-mismatch"
	}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	challenge := sha256.Sum256(slices.Concat([]byte("olr/v2/tpm-challenge\x00"), []byte(b.fields["license-id"][0]), []byte{0}, nonce))
	sig, err := ecdsa.SignASN1(rand.Reader, tpmKey, challenge[:])
	if err != nil {
		return "tpm-mismatch"
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b.tpmKey)
	if err != nil || !ecdsa.VerifyASN1(pub, challenge[:], sig) {
		return "tpm-mismatch"
	}
	return ""
}
