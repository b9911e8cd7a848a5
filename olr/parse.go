package olr

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/olr-dev/olr/fingerprint"
)

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
	if err := checkFieldValue(name, val); err != nil {
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
	format := p.field("format")
	if p.err == nil && format != licenseFormat && format != licenseFormatV2 {
		p.fail("format %q is not %s or %s", format, licenseFormat, licenseFormatV2)
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
		var hash fingerprint.Hash
		if err := decodeB64Into(hash[:], h); err != nil {
			p.fail("factor: %v", err)
			break
		}
		l.Binding.Factors = append(l.Binding.Factors, fingerprint.HashedFactor{Kind: fingerprint.Kind(k), Hash: hash})
	}
	if format == licenseFormatV2 {
		l.TPM = p.tpmBinding()
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
	n, err := ParseQuota(s)
	if err != nil {
		p.fail("%v", err)
	}
	return n
}
