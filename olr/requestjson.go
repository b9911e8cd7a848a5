package olr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/olr-dev/olr/fingerprint"
)

// A request's plaintext is read in two passes: decodeJSONObject checks the
// JSON itself (SPEC.md section 2, "well-formed") and returns a tree of
// map[string]any, []any, string, bool, json.Number and nil; then, once the
// format is known, requestFromJSON checks the members against the schema
// and fills a Request. encoding/json's struct decoding is not used: it
// matches member names case-insensitively, keeps the last of two
// duplicates, reads null as the zero value and turns a lone surrogate
// escape into U+FFFD, all silently.

// decodeJSONObject parses plain as one JSON object followed by a single LF,
// with no duplicate member names at any depth, no escape of a lone UTF-16
// surrogate, valid UTF-8 and at most maxJSONDepth nested arrays and
// objects.
func decodeJSONObject(plain []byte) (map[string]any, error) {
	if !utf8.Valid(plain) {
		return nil, errors.New("not valid UTF-8")
	}
	if len(plain) == 0 || plain[0] != '{' {
		return nil, errors.New("not a JSON object: the plaintext must start with '{'")
	}
	if err := checkSurrogates(plain); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	v, err := readJSON(dec, 1)
	if err != nil {
		return nil, err
	}
	if rest := plain[dec.InputOffset():]; string(rest) != "\n" {
		if len(rest) == 0 {
			return nil, errors.New("the object is not followed by a newline")
		}
		return nil, errors.New("trailing data after the request object (want a single newline)")
	}
	return v.(map[string]any), nil
}

// readJSON reads one value. depth is the nesting of the arrays and objects
// around it, counting the one it may open.
func readJSON(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("arrays and objects nested more than %d deep", maxJSONDepth)
	}
	switch d {
	case '{':
		m := map[string]any{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			name := tok.(string) // the decoder allows only strings here
			if _, dup := m[name]; dup {
				return nil, fmt.Errorf("member %s appears twice in one object", quoteShort(name))
			}
			if m[name], err = readJSON(dec, depth+1); err != nil {
				return nil, err
			}
		}
		_, err := dec.Token() // '}'
		return m, err
	case '[':
		a := []any{}
		for dec.More() {
			v, err := readJSON(dec, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token() // ']'
		return a, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// checkSurrogates refuses a \u escape of a UTF-16 surrogate that is not a
// high surrogate followed by an escaped low one: such a string has no
// Unicode value (RFC 7493, section 2.1). Backslashes appear only inside
// strings in valid JSON, so the bytes can be scanned without parsing.
func checkSurrogates(b []byte) error {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 < len(b) && b[i+1] != 'u' {
			i++ // an escaped character, possibly a backslash
			continue
		}
		r, ok := hex4(b, i+2)
		switch {
		case !ok || r < 0xd800 || r > 0xdfff:
		case r <= 0xdbff:
			if lo, ok := hex4(b, i+8); ok && b[i+6] == '\\' && b[i+7] == 'u' && 0xdc00 <= lo && lo <= 0xdfff {
				i += 6
				break
			}
			fallthrough
		default:
			return fmt.Errorf("a \\u escape of the lone UTF-16 surrogate %04X, which is no character", r)
		}
		i += 5
	}
	return nil
}

// hex4 decodes the 4 hex digits at b[i:], if there are.
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
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
	return r, true
}

// A member of a request object: its name, JSON type, and whether it must
// be present.
type member struct {
	name     string
	typ      string // "string", "boolean", "object", "array"
	required bool
}

var (
	requestMembers = []member{
		{"format", "string", true}, {"request_id", "string", true}, {"created", "string", true},
		{"product", "string", true}, {"licensee", "string", true}, {"license_key", "string", true},
		{"hostname", "string", true}, {"tool", "string", true}, {"fingerprint", "object", true},
	}
	// requestMembersV2 adds the TPM's endorsement keys.
	requestMembersV2   = append(slices.Clip(requestMembers), member{"tpm", "object", true})
	fingerprintMembers = []member{{"factors", "array", true}, {"machine", "object", true}, {"notes", "array", false}}
	factorMembers      = []member{{"kind", "string", true}, {"value", "string", true}, {"source", "string", true}, {"removable", "boolean", false}}
	machineMembers     = []member{{"class", "string", true}, {"detail", "string", false}}
)

// checkMembers checks an object against its members: no unknown name (an
// exact, case-sensitive comparison), every required member present, and
// every member of its JSON type (null is of no type).
func checkMembers(where string, obj map[string]any, members []member) error {
	for _, name := range sortedKeys(obj) {
		i := slices.IndexFunc(members, func(m member) bool { return m.name == name })
		if i < 0 {
			return fmt.Errorf("unknown member %s in %s", quoteShort(name), where)
		}
		if !isJSONType(obj[name], members[i].typ) {
			return fmt.Errorf("member %q of %s is not a %s", name, where, members[i].typ)
		}
	}
	for _, m := range members {
		if _, ok := obj[m.name]; m.required && !ok {
			return fmt.Errorf("%s has no member %q", where, m.name)
		}
	}
	return nil
}

func isJSONType(v any, typ string) bool {
	switch v.(type) {
	case string:
		return typ == "string"
	case bool:
		return typ == "boolean"
	case map[string]any:
		return typ == "object"
	case []any:
		return typ == "array"
	}
	return false // null or a number: no member is either
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// requestFromJSON checks the decoded plaintext against the request's
// members and returns the request it holds, not yet validated.
func requestFromJSON(root map[string]any) (*Request, error) {
	members := requestMembers
	if root["format"] == RequestFormatV2 {
		members = requestMembersV2
	}
	if err := checkMembers("the request", root, members); err != nil {
		return nil, err
	}
	str := func(m map[string]any, name string) string { s, _ := m[name].(string); return s }
	r := &Request{
		Format: str(root, "format"), ID: str(root, "request_id"), Created: str(root, "created"),
		Product: str(root, "product"), Licensee: str(root, "licensee"), LicenseKey: str(root, "license_key"),
		Hostname: str(root, "hostname"), Tool: str(root, "tool"),
	}
	fp := root["fingerprint"].(map[string]any)
	if err := checkMembers("the fingerprint", fp, fingerprintMembers); err != nil {
		return nil, err
	}
	for i, f := range fp["factors"].([]any) {
		where := fmt.Sprintf("factor %d", i+1)
		obj, ok := f.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not an object", where)
		}
		if err := checkMembers(where, obj, factorMembers); err != nil {
			return nil, err
		}
		removable, _ := obj["removable"].(bool)
		r.Fingerprint.Factors = append(r.Fingerprint.Factors, fingerprint.Factor{
			Kind: fingerprint.Kind(str(obj, "kind")), Value: str(obj, "value"), Source: str(obj, "source"), Removable: removable,
		})
	}
	machine := fp["machine"].(map[string]any)
	if err := checkMembers("the machine", machine, machineMembers); err != nil {
		return nil, err
	}
	r.Fingerprint.Machine = fingerprint.MachineKind{Class: str(machine, "class"), Detail: str(machine, "detail")}
	notes, _ := fp["notes"].([]any)
	for i, n := range notes {
		s, ok := n.(string)
		if !ok {
			return nil, fmt.Errorf("note %d is not a string", i+1)
		}
		r.Fingerprint.Notes = append(r.Fingerprint.Notes, s)
	}
	if t, ok := root["tpm"].(map[string]any); ok {
		var err error
		if r.TPM, err = requestTPMFromJSON(t); err != nil {
			return nil, err
		}
	}
	return r, nil
}
