package olr

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/olr-dev/olr/fingerprint"
)

// LicenseType is the commercial type of a license key. Only OEM keys may
// be activated offline; the other types exist so that the signer can name
// them when it refuses them.
type LicenseType string

// License types, as the vendor's price list names them.
const (
	TypeOEM        LicenseType = "oem"
	TypeMeter      LicenseType = "meter"
	TypeActivePool LicenseType = "active-pool"
	TypeEvaluation LicenseType = "evaluation"
)

// ParseLicenseType accepts the canonical spellings and common variants
// ("OEM", "Active Pool").
func ParseLicenseType(s string) (LicenseType, error) {
	switch strings.ToLower(strings.Join(strings.Fields(strings.ReplaceAll(s, "_", " ")), "-")) {
	case "oem":
		return TypeOEM, nil
	case "meter":
		return TypeMeter, nil
	case "active-pool", "activepool", "pool":
		return TypeActivePool, nil
	case "evaluation", "eval", "trial":
		return TypeEvaluation, nil
	}
	return "", fmt.Errorf("unknown license type %q (want oem, meter, active-pool or evaluation)", s)
}

// OfflineActivationRule is the vendor's rule, quoted where a key of another
// type is refused.
const OfflineActivationRule = "offline license activation is only applicable for the OEM license type; Meter, Active Pool and Evaluation keys do not support offline activation"

// Unlimited is the quota of a module without a limit.
const Unlimited int64 = -1

// Module is a licensed module and its quota (devices, guest VMs, sockets,
// mailboxes, ... as the module counts).
type Module struct {
	Name  string
	Quota int64 // >= 0, or Unlimited
}

// DefaultGrace is the grace period when the vendor sets none.
const DefaultGrace = 14 * 24 * time.Hour

// License is the content of a license.olr file.
type License struct {
	KeyID       KeyID
	ID          string // 32 lower-case hex digits, random
	RequestID   string // the request this license answers
	Issued      time.Time
	NotBefore   time.Time
	Expires     time.Time // zero: never
	Maintenance time.Time // zero: none; end of software maintenance
	Product     string
	Licensee    string
	Type        LicenseType
	Modules     []Module // sorted by name, unique
	Languages   []string // sorted, unique
	GraceDays   int      // 0..365
	Binding     fingerprint.Binding
}

// Grace returns the grace period as a duration.
func (l *License) Grace() time.Duration { return time.Duration(l.GraceDays) * 24 * time.Hour }

// Module returns the named module.
func (l *License) Module(name string) (Module, bool) {
	i, ok := slices.BinarySearchFunc(l.Modules, name, func(m Module, n string) int { return strings.Compare(m.Name, n) })
	if !ok {
		return Module{}, false
	}
	return l.Modules[i], true
}

const (
	licenseBegin   = "-----BEGIN OLR LICENSE-----\n"
	licenseEnd     = "-----END OLR LICENSE-----\n"
	licenseFormat  = "olr-license/v1"
	signatureField = "signature: "
	// licenseSigLabel separates license signatures from any other use of
	// the same key.
	licenseSigLabel = "olr/v1/license-signature\x00"
)

// Validate checks the license's fields against the format's rules.
func (l *License) Validate() error {
	if !isHexID(l.ID) {
		return errors.New("license ID is not 32 lower-case hex digits")
	}
	if !isHexID(l.RequestID) {
		return errors.New("request ID is not 32 lower-case hex digits")
	}
	for _, f := range []struct{ name, v string }{{"product", l.Product}, {"licensee", l.Licensee}} {
		if err := checkValue(f.v); err != nil {
			return fmt.Errorf("%s: %v", f.name, err)
		}
	}
	if l.Type != TypeOEM && l.Type != TypeMeter && l.Type != TypeActivePool && l.Type != TypeEvaluation {
		return fmt.Errorf("unknown license type %q", l.Type)
	}
	if len(l.Modules) > maxModules {
		return fmt.Errorf("more than %d modules", maxModules)
	}
	for i, m := range l.Modules {
		if !isName(m.Name) {
			return fmt.Errorf("module name %q: want lower-case letters, digits and '-'", m.Name)
		}
		if m.Quota < Unlimited {
			return fmt.Errorf("module %s: negative quota", m.Name)
		}
		if i > 0 && l.Modules[i-1].Name >= m.Name {
			return fmt.Errorf("modules not sorted or module %s listed twice", m.Name)
		}
	}
	if len(l.Languages) > maxLanguages {
		return fmt.Errorf("more than %d languages", maxLanguages)
	}
	for i, lang := range l.Languages {
		if !isLanguageTag(lang) {
			return fmt.Errorf("language %q is not a language tag like en or zh-TW", lang)
		}
		if i > 0 && l.Languages[i-1] >= lang {
			return fmt.Errorf("languages not sorted or language %s listed twice", lang)
		}
	}
	if l.GraceDays < 0 || l.GraceDays > maxGraceDays {
		return fmt.Errorf("grace period of %d days is outside 0..%d", l.GraceDays, maxGraceDays)
	}
	if l.Issued.IsZero() || l.NotBefore.IsZero() {
		return errors.New("issue time and not-before are required")
	}
	if !l.Expires.IsZero() && !l.Expires.After(l.NotBefore) {
		return errors.New("expiry is not after not-before")
	}
	b := &l.Binding
	if len(b.Salt) != fingerprint.SaltSize {
		return fmt.Errorf("binding salt is %d bytes, want %d", len(b.Salt), fingerprint.SaltSize)
	}
	if err := b.Policy.Validate(); err != nil {
		return err
	}
	if len(b.Factors) == 0 || len(b.Factors) > maxFactors {
		return fmt.Errorf("binding holds %d factors, want 1..%d", len(b.Factors), maxFactors)
	}
	for i, f := range b.Factors {
		if !f.Kind.Known() {
			return fmt.Errorf("binding names unknown factor kind %q", f.Kind)
		}
		if i > 0 && fingerprint.CompareHashed(b.Factors[i-1], f) >= 0 {
			return errors.New("binding factors not sorted or listed twice")
		}
	}
	return nil
}

// Sign validates l, signs it with key and returns the license.olr file.
func Sign(l *License, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("signing key has the wrong size")
	}
	if id := KeyIDOf(key.Public().(ed25519.PublicKey)); id != l.KeyID {
		return nil, fmt.Errorf("license names key %s but the signing key is %s", l.KeyID, id)
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("invalid license: %w", err)
	}
	return licenseDoc.seal(l.encodeBody(), key), nil
}

func (l *License) encodeBody() []byte {
	var b bytes.Buffer
	w := func(name, value string) { b.WriteString(name + ": " + value + "\n") }
	w("format", licenseFormat)
	w("key-id", l.KeyID.String())
	w("license-id", l.ID)
	w("request-id", l.RequestID)
	w("issued", formatTime(l.Issued))
	w("not-before", formatTime(l.NotBefore))
	if !l.Expires.IsZero() {
		w("expires", formatTime(l.Expires))
	}
	if !l.Maintenance.IsZero() {
		w("maintenance", formatTime(l.Maintenance))
	}
	w("product", l.Product)
	w("licensee", l.Licensee)
	w("type", string(l.Type))
	for _, m := range l.Modules {
		w("module", m.Name+" "+m.QuotaText())
	}
	for _, lang := range l.Languages {
		w("language", lang)
	}
	w("grace-days", strconv.Itoa(l.GraceDays))
	p := l.Binding.Policy
	w("match-threshold", strconv.Itoa(p.Threshold))
	for _, k := range fingerprint.Kinds {
		if wt, ok := p.Weights[k]; ok {
			w("match-weight", string(k)+" "+strconv.Itoa(wt))
		}
	}
	for _, k := range fingerprint.Kinds {
		if slices.Contains(p.Required, k) {
			w("match-require", string(k))
		}
	}
	w("salt", base64.RawStdEncoding.EncodeToString(l.Binding.Salt))
	for _, f := range l.Binding.Factors {
		w("factor", string(f.Kind)+" "+f.Hash.String())
	}
	return b.Bytes()
}

// QuotaText is the quota as licenses write it: a number or "unlimited".
func (m Module) QuotaText() string {
	if m.Quota == Unlimited {
		return "unlimited"
	}
	return strconv.FormatInt(m.Quota, 10)
}

// A FormatError reports a malformed file: where, and what. Wrapped in a
// VerifyError it reads "license malformed: line 3: ...".
type FormatError struct {
	Line int // 1-based line of the file; 0 when not about one line
	Msg  string
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// errUnsupportedFormat marks a well-formed file of a format version this
// code does not know.
var errUnsupportedFormat = errors.New("unsupported license format")

// signedDoc describes one armored, signed text format: license.olr or a
// revocation list. Both share the layout BEGIN line, body, "signature:"
// line, END line, and differ in markers, format tag, size and label.
type signedDoc struct {
	name   string // for errors: "license"
	begin  string
	end    string
	format string
	max    int
	label  string
}

var licenseDoc = &signedDoc{name: "license", begin: licenseBegin, end: licenseEnd, format: licenseFormat,
	max: MaxLicenseSize, label: licenseSigLabel}

// message returns what the signature covers: the label, then the exact
// body bytes from the "format:" line through the newline before the
// "signature:" line.
func (d *signedDoc) message(body []byte) []byte {
	m := make([]byte, 0, len(d.label)+len(body))
	return append(append(m, d.label...), body...)
}

// seal wraps a body and its signature in the armor.
func (d *signedDoc) seal(body []byte, key ed25519.PrivateKey) []byte {
	sig := ed25519.Sign(key, d.message(body))
	var b bytes.Buffer
	b.WriteString(d.begin)
	b.Write(body)
	b.WriteString(signatureField + base64.RawStdEncoding.EncodeToString(sig) + "\n")
	b.WriteString(d.end)
	return b.Bytes()
}

// unpaste undoes what copy and paste, mail programs and Windows editors
// do to a text file, and nothing more: CRLF line endings become LF, and
// blank lines before and after the armor are dropped (the END line keeps
// its LF, or gets it back). Spaces, tabs and lone CRs are not forgiven, so
// every single-byte change of a license still fails: the signature covers
// the LF form.
func unpaste(data []byte) []byte {
	if bytes.Contains(data, []byte("\r\n")) {
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	}
	trimmed := bytes.Trim(data, "\n")
	if len(trimmed) == 0 {
		return nil
	}
	if len(trimmed)+1 == len(data) && data[len(data)-1] == '\n' && data[0] != '\n' {
		return data // the usual case: nothing to undo
	}
	return append(trimmed[:len(trimmed):len(trimmed)], '\n')
}

// split checks the armor and returns the body (the signed bytes) and the
// signature, without interpreting the body beyond its first two lines: the
// format line and the key ID, which are needed to pick the key.
func (d *signedDoc) split(data []byte) (body, sig []byte, id KeyID, err error) {
	if len(data) > d.max {
		return nil, nil, id, &FormatError{Msg: fmt.Sprintf("file is larger than %d bytes", d.max)}
	}
	data = unpaste(data)
	if len(data) == 0 {
		return nil, nil, id, &FormatError{Msg: "file is empty"}
	}
	if !bytes.HasPrefix(data, []byte(strings.TrimSpace(d.begin))) {
		return nil, nil, id, &FormatError{Line: 1, Msg: fmt.Sprintf("not an olr %s: it does not start with %q", d.name, strings.TrimSpace(d.begin))}
	}
	if bytes.IndexByte(data, '\r') >= 0 {
		return nil, nil, id, &FormatError{Msg: "stray CR character: the file was altered"}
	}
	if !bytes.HasPrefix(data, []byte(d.begin)) {
		return nil, nil, id, &FormatError{Line: 1, Msg: fmt.Sprintf("want %q alone on the first line", strings.TrimSpace(d.begin))}
	}
	if !bytes.HasSuffix(data, []byte(d.end)) {
		return nil, nil, id, &FormatError{Msg: fmt.Sprintf("file does not end with %q", strings.TrimSpace(d.end))}
	}
	inner := data[len(d.begin) : len(data)-len(d.end)]
	i := bytes.LastIndex(inner, []byte("\n"+signatureField))
	if i < 0 {
		return nil, nil, id, &FormatError{Msg: "no signature line"}
	}
	body, sigLine := inner[:i+1], inner[i+1+len(signatureField):]
	if len(sigLine) == 0 || sigLine[len(sigLine)-1] != '\n' {
		return nil, nil, id, &FormatError{Msg: "signature line is not the last line before the end marker"}
	}
	sig, err = decodeB64(string(sigLine[:len(sigLine)-1]), ed25519.SignatureSize)
	if err != nil {
		return nil, nil, id, &FormatError{Msg: "signature: " + err.Error()}
	}
	first, rest, _ := bytes.Cut(body, []byte("\n"))
	if v, ok := bytes.CutPrefix(first, []byte("format: ")); !ok {
		return nil, nil, id, &FormatError{Line: 2, Msg: fmt.Sprintf("want \"format: %s\"", d.format)}
	} else if string(v) != d.format {
		return nil, nil, id, fmt.Errorf("%w %q (this olr reads %s)", errUnsupportedFormat, v, d.format)
	}
	second, _, _ := bytes.Cut(rest, []byte("\n"))
	v, ok := bytes.CutPrefix(second, []byte("key-id: "))
	if !ok {
		return nil, nil, id, &FormatError{Line: 3, Msg: `want "key-id: ..."`}
	}
	if id, err = ParseKeyID(string(v)); err != nil {
		return nil, nil, id, &FormatError{Line: 3, Msg: err.Error()}
	}
	return body, sig, id, nil
}

// authenticate splits data and verifies its signature with the trusted
// key it names.
func (d *signedDoc) authenticate(data []byte, trust *Trust) (body []byte, key *TrustedKey, err error) {
	body, sig, id, err := d.split(data)
	if err != nil {
		return nil, nil, err
	}
	key, ok := trust.Key(id)
	if !ok {
		return nil, nil, fmt.Errorf("%w (key %s)", ErrUnknownKey, id)
	}
	if !ed25519.Verify(key.Public, d.message(body), sig) {
		return nil, nil, ErrBadSignature
	}
	return body, key, nil
}

// bodyParser walks the body line by line in the fixed field order.
type bodyParser struct {
	rest string
	line int // line number in the file of the current line
	name string
	val  string
	ok   bool // a line is loaded in name/val
	err  error
}

func (p *bodyParser) fail(format string, a ...any) {
	if p.err == nil {
		p.err = &FormatError{Line: p.line, Msg: fmt.Sprintf(format, a...)}
	}
}

// load reads the next line into name/val, if none is loaded.
func (p *bodyParser) load() bool {
	if p.ok || p.err != nil {
		return p.ok
	}
	if len(p.rest) == 0 {
		return false
	}
	line, rest, nl := strings.Cut(p.rest, "\n")
	p.rest = rest
	p.line++
	if !nl {
		p.fail("the line does not end with a newline")
		return false
	}
	name, val, found := strings.Cut(line, ": ")
	if !found {
		p.fail("want \"name: value\"")
		return false
	}
	if err := checkValue(val); err != nil {
		p.fail("%s: %v", name, err)
		return false
	}
	p.name, p.val, p.ok = name, val, true
	return true
}

// field consumes the next line, which must be name.
func (p *bodyParser) field(name string) string {
	if !p.load() {
		if p.err == nil {
			p.line++
			p.fail("missing field %q", name)
		}
		return ""
	}
	if p.name != name {
		p.fail("want field %q, found %q", name, p.name)
		return ""
	}
	p.ok = false
	return p.val
}

// optional consumes the next line if it is name.
func (p *bodyParser) optional(name string) (string, bool) {
	if !p.load() || p.name != name {
		return "", false
	}
	p.ok = false
	return p.val, true
}

func (p *bodyParser) time(v string) time.Time {
	t, err := parseTime(v)
	if err != nil {
		p.fail("%v", err)
	}
	return t
}

// parseBody parses the signed body. The grammar has one spelling per
// license: fields in a fixed order, repeated fields strictly sorted,
// canonical numbers, times and base64. Parsing after the signature check
// is still strict, so that a vendor bug cannot produce two encodings of
// one license.
func parseBody(body []byte) (*License, error) {
	p := &bodyParser{rest: string(body), line: 1}
	l := &License{}
	// split checked these two lines already; parseBody checks them again
	// so that it stands on its own.
	if f := p.field("format"); p.err == nil && f != licenseFormat {
		p.fail("format %q is not %s", f, licenseFormat)
	}
	id, err := ParseKeyID(p.field("key-id"))
	if p.err == nil && err != nil {
		p.fail("%v", err)
	}
	l.KeyID = id
	l.ID = p.field("license-id")
	l.RequestID = p.field("request-id")
	l.Issued = p.time(p.field("issued"))
	l.NotBefore = p.time(p.field("not-before"))
	if v, ok := p.optional("expires"); ok {
		l.Expires = p.time(v)
	}
	if v, ok := p.optional("maintenance"); ok {
		l.Maintenance = p.time(v)
	}
	l.Product = p.field("product")
	l.Licensee = p.field("licensee")
	l.Type = LicenseType(p.field("type"))
	for v, ok := p.optional("module"); ok; v, ok = p.optional("module") {
		name, q, _ := strings.Cut(v, " ")
		l.Modules = append(l.Modules, Module{Name: name, Quota: p.quota(q)})
	}
	for v, ok := p.optional("language"); ok; v, ok = p.optional("language") {
		l.Languages = append(l.Languages, v)
	}
	l.GraceDays = p.int(p.field("grace-days"), maxGraceDays)
	pol := fingerprint.Policy{Threshold: p.int(p.field("match-threshold"), 100), Weights: make(map[fingerprint.Kind]int, len(fingerprint.Kinds))}
	last := ""
	for v, ok := p.optional("match-weight"); ok; v, ok = p.optional("match-weight") {
		k, w, _ := strings.Cut(v, " ")
		if k <= last {
			p.fail("match weights not sorted by kind, or a kind listed twice")
		}
		last = k
		pol.Weights[fingerprint.Kind(k)] = p.int(w, fingerprint.MaxWeight)
	}
	last = ""
	for v, ok := p.optional("match-require"); ok; v, ok = p.optional("match-require") {
		if v <= last {
			p.fail("required kinds not sorted, or a kind listed twice")
		}
		last = v
		pol.Required = append(pol.Required, fingerprint.Kind(v))
	}
	salt, err := decodeB64(p.field("salt"), fingerprint.SaltSize)
	if err != nil && p.err == nil {
		p.fail("salt: %v", err)
	}
	l.Binding = fingerprint.Binding{Salt: salt, Policy: pol, Factors: make([]fingerprint.HashedFactor, 0, 16)}
	for v, ok := p.optional("factor"); ok; v, ok = p.optional("factor") {
		k, h, _ := strings.Cut(v, " ")
		hb, err := decodeB64(h, len(fingerprint.Hash{}))
		if err != nil {
			p.fail("factor: %v", err)
			break
		}
		l.Binding.Factors = append(l.Binding.Factors, fingerprint.HashedFactor{Kind: fingerprint.Kind(k), Hash: fingerprint.Hash(hb)})
	}
	if p.err == nil && p.load() {
		p.fail("unexpected field %q", p.name)
	}
	if p.err != nil {
		return nil, p.err
	}
	if err := l.Validate(); err != nil {
		return nil, &FormatError{Msg: err.Error()}
	}
	return l, nil
}

// int parses a canonical decimal in 0..max.
func (p *bodyParser) int(s string, max int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max || strconv.Itoa(n) != s {
		p.fail("%q is not a whole number from 0 to %d", s, max)
		return 0
	}
	return n
}

func (p *bodyParser) quota(s string) int64 {
	if s == "unlimited" {
		return Unlimited
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n == math.MaxInt64 || strconv.FormatInt(n, 10) != s {
		p.fail("quota %q is not a whole number or \"unlimited\"", s)
	}
	return n
}

// checkValue enforces what any field value may hold: non-empty UTF-8
// without control characters or surrounding spaces, at most maxValue
// bytes. The same rule applies to names entered at the vendor, so that
// what is signed is what is shown.
func checkValue(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	if len(v) > maxValue {
		return fmt.Errorf("value longer than %d bytes", maxValue)
	}
	if isPlainASCII(v) {
		return nil // the common case, checked without decoding runes
	}
	if !utf8.ValidString(v) {
		return errors.New("value is not valid UTF-8")
	}
	if strings.TrimSpace(v) != v {
		return errors.New("value has leading or trailing spaces")
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return errors.New("value has control characters")
		}
	}
	return nil
}

// isPlainASCII reports whether v is printable ASCII that neither starts
// nor ends with a space: a value checkValue accepts.
func isPlainASCII(v string) bool {
	if v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// CheckText reports whether s can be a license field value such as a
// licensee name or product (what the signer checks before issuing).
func CheckText(s string) error { return checkValue(s) }

func isHexID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidModuleName reports whether s can name a module: 1 to 64 of
// [a-z0-9-], not starting with '-'.
func ValidModuleName(s string) bool { return isName(s) }

// ValidLanguageTag reports whether s is a language tag a license accepts
// (en, zh-TW, sr-Latn).
func ValidLanguageTag(s string) bool { return isLanguageTag(s) }

// MaxGraceDays is the longest grace period a license may grant.
const MaxGraceDays = maxGraceDays

// isName reports whether s is a module name: 1..64 of [a-z0-9-], starting
// with a letter or digit.
func isName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isLanguageTag accepts simple BCP 47 tags: a primary language of 2 or 3
// lower-case letters, then subtags of 1 to 8 letters or digits separated
// by '-': en, zh-TW, pt-BR, sr-Latn.
func isLanguageTag(s string) bool {
	if len(s) > 35 {
		return false
	}
	part, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '-' {
			c := s[i]
			if part == 0 && !('a' <= c && c <= 'z') {
				return false
			}
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return false
			}
			continue
		}
		n := i - start
		if n == 0 || n > 8 || part == 0 && (n < 2 || n > 3) {
			return false
		}
		part, start = part+1, i+1
	}
	return true
}
