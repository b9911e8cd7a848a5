package vectors

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// specRequest reads a request vector by the steps of SPEC.md section 2,
// "Reading a request, in order", and returns the outcome.
func specRequest(v *Vector) string {
	ids, err := age.ParseIdentities(strings.NewReader(strings.Join(v.All("identity"), "\n") + "\n"))
	if err != nil {
		return "bad identity headers"
	}
	// 1. Size and kind of file.
	data := v.Body
	armored := bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN AGE ENCRYPTED FILE-----"))
	binary := bytes.HasPrefix(data, []byte("age-encryption.org/"))
	if len(data) > 1<<20 || !armored && !binary {
		return "not-age"
	}
	// 2. age.
	var src io.Reader = bytes.NewReader(data)
	if armored {
		src = armor.NewReader(src)
	}
	r, err := age.Decrypt(src, ids...)
	var nm *age.NoIdentityMatchError
	if errors.As(err, &nm) {
		return "wrong-key"
	}
	if err != nil {
		return "corrupt"
	}
	payload, err := io.ReadAll(r)
	if err != nil {
		return "corrupt"
	}
	// 3. A gzip member.
	plain := payload
	if bytes.HasPrefix(payload, []byte{0x1f, 0x8b}) {
		br := bytes.NewReader(payload)
		zr, err := gzip.NewReader(br)
		if err != nil {
			return "malformed"
		}
		zr.Multistream(false)
		plain, err = io.ReadAll(io.LimitReader(zr, 1<<20+1))
		if err != nil || len(plain) > 1<<20 || br.Len() > 0 {
			return "malformed"
		}
	}
	// 4. Well-formed JSON: one object, then one LF.
	if !utf8.Valid(plain) || len(plain) == 0 || plain[0] != '{' {
		return "malformed"
	}
	p := &specJSON{data: plain}
	root, ok := p.value(1)
	if !ok || string(plain[p.pos:]) != "\n" {
		return "malformed"
	}
	// 5. The format.
	obj := root.(map[string]any)
	format, ok := obj["format"].(string)
	if !ok {
		return "malformed"
	}
	if format != "olr-request/v1" && format != "olr-request/v2" {
		return "unsupported-format"
	}
	// 6. The members and their JSON types.
	if !specMembers(obj) || !specTPMMembers(obj) {
		return "malformed"
	}
	// 7. The values.
	if !specRequestValues(obj) || !specTPMValues(obj) {
		return "invalid"
	}
	return "ok"
}

// specJSON is a small JSON parser (RFC 8259) that refuses what SPEC.md
// section 2 refuses: a member twice in one object, a lone surrogate
// escape, nesting deeper than 16. Objects are map[string]any, arrays
// []any, numbers float64 (no member is a number), null is nil.
type specJSON struct {
	data []byte
	pos  int
}

func (p *specJSON) ws() {
	for p.pos < len(p.data) && strings.IndexByte(" \t\n\r", p.data[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *specJSON) lit(s string) bool {
	if bytes.HasPrefix(p.data[p.pos:], []byte(s)) {
		p.pos += len(s)
		return true
	}
	return false
}

// value parses a value at depth (the number of arrays and objects around
// it, counting one it opens).
func (p *specJSON) value(depth int) (any, bool) {
	p.ws()
	if p.pos >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		if depth > 16 {
			return nil, false
		}
		p.pos++
		m := map[string]any{}
		p.ws()
		if p.lit("}") {
			return m, true
		}
		for {
			p.ws()
			name, ok := p.str()
			if !ok {
				return nil, false
			}
			if _, dup := m[name]; dup {
				return nil, false
			}
			p.ws()
			if !p.lit(":") {
				return nil, false
			}
			if m[name], ok = p.value(depth + 1); !ok {
				return nil, false
			}
			p.ws()
			if p.lit("}") {
				return m, true
			}
			if !p.lit(",") {
				return nil, false
			}
		}
	case c == '[':
		if depth > 16 {
			return nil, false
		}
		p.pos++
		a := []any{}
		p.ws()
		if p.lit("]") {
			return a, true
		}
		for {
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			a = append(a, v)
			p.ws()
			if p.lit("]") {
				return a, true
			}
			if !p.lit(",") {
				return nil, false
			}
		}
	case c == '"':
		return p.str()
	case p.lit("true"):
		return true, true
	case p.lit("false"):
		return false, true
	case p.lit("null"):
		return nil, true
	default:
		return p.number()
	}
}

func (p *specJSON) number() (any, bool) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && '0' <= p.data[p.pos] && p.data[p.pos] <= '9' {
			p.pos, n = p.pos+1, n+1
		}
		return n
	}
	p.lit("-")
	if !p.lit("0") && digits() == 0 {
		return nil, false
	}
	if p.lit(".") && digits() == 0 {
		return nil, false
	}
	if p.lit("e") || p.lit("E") {
		if !p.lit("+") {
			p.lit("-")
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return float64(p.pos - start), true
}

func (p *specJSON) str() (string, bool) {
	if !p.lit(`"`) {
		return "", false
	}
	var b strings.Builder
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b.WriteByte(c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.data) {
			return "", false
		}
		e := p.data[p.pos]
		p.pos++
		if i := strings.IndexByte(`"\/bfnrt`, e); i >= 0 {
			b.WriteByte("\"\\/\b\f\n\r\t"[i])
			continue
		}
		if e != 'u' {
			return "", false
		}
		r, ok := p.hex4()
		if !ok {
			return "", false
		}
		if utf16.IsSurrogate(r) {
			// Only a high surrogate followed by an escaped low one.
			if r >= 0xdc00 || !p.lit(`\u`) {
				return "", false
			}
			lo, ok := p.hex4()
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return "", false
			}
			r = utf16.DecodeRune(r, lo)
		}
		b.WriteRune(r)
	}
	return "", false
}

func (p *specJSON) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

// specSchema is the member table of SPEC.md section 2: JSON type, and
// whether the member is required.
type specMember struct {
	typ      string
	required bool
}

var (
	specRequestSchema = map[string]specMember{
		"format": {"string", true}, "request_id": {"string", true}, "created": {"string", true},
		"product": {"string", true}, "licensee": {"string", true}, "license_key": {"string", true},
		"hostname": {"string", true}, "tool": {"string", true}, "fingerprint": {"object", true},
	}
	specFingerprintSchema = map[string]specMember{"factors": {"array", true}, "machine": {"object", true}, "notes": {"array", false}}
	specFactorSchema      = map[string]specMember{"kind": {"string", true}, "value": {"string", true}, "source": {"string", true}, "removable": {"bool", false}}
	specMachineSchema     = map[string]specMember{"class": {"string", true}, "detail": {"string", false}}
)

func specType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "number or null"
}

func specObject(obj map[string]any, schema map[string]specMember) bool {
	for name, v := range obj {
		m, ok := schema[name]
		if !ok || specType(v) != m.typ {
			return false
		}
	}
	for name, m := range schema {
		if _, ok := obj[name]; m.required && !ok {
			return false
		}
	}
	return true
}

// specMembers checks step 6: the members and their JSON types.
func specMembers(root map[string]any) bool {
	schema := specRequestSchema
	if root["format"] == "olr-request/v2" {
		schema = maps.Clone(schema)
		schema["tpm"] = specMember{"object", true}
	}
	if !specObject(root, schema) {
		return false
	}
	fp := root["fingerprint"].(map[string]any)
	if !specObject(fp, specFingerprintSchema) || !specObject(fp["machine"].(map[string]any), specMachineSchema) {
		return false
	}
	for _, f := range fp["factors"].([]any) {
		if obj, ok := f.(map[string]any); !ok || !specObject(obj, specFactorSchema) {
			return false
		}
	}
	notes, _ := fp["notes"].([]any)
	for _, n := range notes {
		if _, ok := n.(string); !ok {
			return false
		}
	}
	return true
}

// specRequestValues checks step 7: every value as the table says.
func specRequestValues(root map[string]any) bool {
	if !specHex32RE.MatchString(root["request_id"].(string)) {
		return false
	}
	if _, ok := specTime(root["created"].(string)); !ok {
		return false
	}
	for _, name := range []string{"product", "licensee", "license_key", "hostname", "tool"} {
		if !specText(root[name].(string), 256) {
			return false
		}
	}
	fp := root["fingerprint"].(map[string]any)
	factors := fp["factors"].([]any)
	if len(factors) < 1 || len(factors) > 256 {
		return false
	}
	seen := map[string]bool{}
	for _, f := range factors {
		obj := f.(map[string]any)
		kind, value := obj["kind"].(string), obj["value"].(string)
		if !slices.Contains(specKinds, kind) || !specNormal(kind, value) || !specText(obj["source"].(string), 256) || seen[kind+"\x00"+value] {
			return false
		}
		seen[kind+"\x00"+value] = true
	}
	machine := fp["machine"].(map[string]any)
	if !slices.Contains([]string{"bare-metal", "virtual-machine", "container", "unknown"}, machine["class"].(string)) {
		return false
	}
	if d, _ := machine["detail"].(string); d != "" && !specText(d, 256) {
		return false
	}
	notes, _ := fp["notes"].([]any)
	if len(notes) > 64 {
		return false
	}
	for _, n := range notes {
		if !specText(n.(string), 512) {
			return false
		}
	}
	return true
}

var (
	specTPMSchema = map[string]specMember{"manufacturer": {"string", false}, "eks": {"array", true}, "chain": {"array", false}}
	specEKSchema  = map[string]specMember{"kind": {"string", true}, "public": {"string", true}, "cert": {"string", false}}
)

// specB64 decodes canonical unpadded base64.
func specB64(v any) ([]byte, bool) {
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	return b, err == nil
}

// specTPMMembers checks step 6 for the tpm member of an olr-request/v2:
// its members, their types, and byte strings in canonical base64.
func specTPMMembers(root map[string]any) bool {
	t, ok := root["tpm"].(map[string]any)
	if !ok {
		return true
	}
	if !specObject(t, specTPMSchema) {
		return false
	}
	for _, e := range t["eks"].([]any) {
		ek, ok := e.(map[string]any)
		if !ok || !specObject(ek, specEKSchema) {
			return false
		}
		if _, ok := specB64(ek["public"]); !ok {
			return false
		}
		if c, present := ek["cert"]; present {
			if _, ok := specB64(c); !ok {
				return false
			}
		}
	}
	chain, _ := t["chain"].([]any)
	for _, c := range chain {
		if _, ok := specB64(c); !ok {
			return false
		}
	}
	return true
}

// specTPMValues checks step 7 for the tpm member: the EK kinds in order,
// the sizes, the manufacturer's text.
func specTPMValues(root map[string]any) bool {
	t, ok := root["tpm"].(map[string]any)
	if !ok {
		return true
	}
	if m, ok := t["manufacturer"].(string); ok && !specText(m, 256) {
		return false
	}
	eks := t["eks"].([]any)
	order := []string{"ecc-p256", "rsa-2048"}
	next := 0
	if len(eks) == 0 {
		return false
	}
	for _, e := range eks {
		ek := e.(map[string]any)
		k := slices.Index(order, ek["kind"].(string))
		if k < next {
			return false
		}
		next = k + 1
		pub, _ := specB64(ek["public"])
		cert, _ := specB64(ek["cert"])
		if len(pub) == 0 || len(pub) > 1024 || len(cert) > 4096 {
			return false
		}
	}
	chain, _ := t["chain"].([]any)
	if len(chain) > 8 {
		return false
	}
	for _, c := range chain {
		if b, _ := specB64(c); len(b) == 0 || len(b) > 4096 {
			return false
		}
	}
	return true
}
