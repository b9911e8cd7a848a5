package ledger

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/olr-dev/olr/olr"
)

// CSVColumns are the columns of a sales export in CSV. The header row is
// required; columns may come in any order, but each must appear exactly
// once and no other column is accepted.
var CSVColumns = []string{"license_key", "licensee", "type", "product", "modules", "languages", "expires", "maintenance"}

// readLimited reads all of r, refusing more than MaxImportBytes.
func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(&io.LimitedReader{R: r, N: MaxImportBytes + 1})
	if err != nil {
		return nil, fmt.Errorf("ledger: import: %w", err)
	}
	if len(b) > MaxImportBytes {
		return nil, fmt.Errorf("ledger: import: file is too long (more than %d bytes)", MaxImportBytes)
	}
	return b, nil
}

// ImportCSV parses a sales export in CSV (RFC 4180, UTF-8, comma
// separated, an optional UTF-8 byte order mark). The first row is the
// header, naming the columns of CSVColumns:
//
//	license_key,licensee,type,product,modules,languages,expires,maintenance
//	OEM-7F3A-22,"Example Backup, Ltd.",oem,cbs,obm=50;acb=20;vmware-vm=10;m365=unlimited,en;fr;zh-TW,2027-12-31,
//
// license_key, licensee and product are required and kept exactly (case
// sensitive; leading or trailing spaces, control and invisible characters
// are refused). type is oem, meter, active-pool or evaluation. modules is
// a ';'-separated list of name=quota, quota a non-negative integer or
// "unlimited", possibly empty. languages is a ';'-separated list of
// language tags, possibly empty. expires and maintenance are YYYY-MM-DD
// or empty for none.
//
// Errors name the line and the column. A key appearing twice is an
// error. Nothing is recorded: pass the result to Tx.ImportKeys.
func ImportCSV(r io.Reader) ([]SoldKey, error) {
	b, err := readLimited(r)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	cr := csv.NewReader(bytes.NewReader(b))
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("ledger: import: empty file (a header row is required)")
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := make(map[string]int, len(header))
	for i, h := range header {
		if !slices.Contains(CSVColumns, h) {
			return nil, &ValidationError{Record: "line 1", Field: "header", Err: fmt.Errorf("unknown column %q (want %s)", printable(h), strings.Join(CSVColumns, ","))}
		}
		if _, dup := col[h]; dup {
			return nil, &ValidationError{Record: "line 1", Field: "header", Err: fmt.Errorf("column %q appears twice", h)}
		}
		col[h] = i
	}
	for _, c := range CSVColumns {
		if _, ok := col[c]; !ok {
			return nil, &ValidationError{Record: "line 1", Field: "header", Err: fmt.Errorf("missing column %q", c)}
		}
	}
	cr.FieldsPerRecord = len(header)

	var keys []SoldKey
	lines := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		where := fmt.Sprintf("line %d", line)
		if len(keys) == maxImportKeys {
			return nil, &ValidationError{Record: where, Err: fmt.Errorf("more than %d keys in one import", maxImportKeys)}
		}
		get := func(c string) string { return rec[col[c]] }
		k, err := keyFromFields(get("license_key"), get("licensee"), get("type"), get("product"), get("expires"), get("maintenance"))
		if err == nil {
			k.Modules, err = parseModulesCSV(get("modules"))
		}
		if err == nil {
			k.Languages, err = parseLanguagesCSV(get("languages"))
		}
		if err == nil {
			err = validateKey(k)
		}
		if err != nil {
			return nil, locate(err, where)
		}
		if first, dup := lines[k.Key]; dup {
			return nil, &ValidationError{Record: where, Field: "license_key", Err: fmt.Errorf("duplicate key, first on line %d", first)}
		}
		lines[k.Key] = line
		keys = append(keys, *k)
	}
	return keys, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ValidationError{Record: fmt.Sprintf("line %d", pe.Line), Err: pe.Err}
	}
	return fmt.Errorf("ledger: import: %w", err)
}

// locate adds the record location to a validation error.
func locate(err error, where string) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		if ve.Record == "" {
			ve.Record = where
		}
		return ve
	}
	return &ValidationError{Record: where, Err: err}
}

// keyFromFields parses the scalar fields shared by both formats.
func keyFromFields(key, licensee, typ, product, expires, maintenance string) (*SoldKey, error) {
	k := &SoldKey{Key: key, Licensee: licensee, Type: olr.LicenseType(typ), Product: product}
	var err error
	if k.Expires, err = parseDate(expires); err != nil {
		return nil, &ValidationError{Field: "expires", Err: err}
	}
	if k.Maintenance, err = parseDate(maintenance); err != nil {
		return nil, &ValidationError{Field: "maintenance", Err: err}
	}
	return k, nil
}

// parseModulesCSV parses "obm=50;acb=20;m365=unlimited".
func parseModulesCSV(s string) (map[string]Quota, error) {
	if s == "" {
		return nil, nil
	}
	m := map[string]Quota{}
	for _, item := range strings.Split(s, ";") {
		name, qs, ok := strings.Cut(item, "=")
		if !ok {
			return nil, invalid("modules", "%q is not name=quota", printable(item))
		}
		if err := checkModuleName(name); err != nil {
			return nil, invalid("modules", "%v", err)
		}
		if _, dup := m[name]; dup {
			return nil, invalid("modules", "module %q listed twice", name)
		}
		q, err := parseQuota(qs)
		if err != nil {
			return nil, invalid("modules", "module %q: %v", name, err)
		}
		m[name] = q
		if len(m) > olr.MaxModules {
			return nil, invalid("modules", "more than %d modules", olr.MaxModules)
		}
	}
	return m, nil
}

// parseLanguagesCSV parses "en;fr;zh-TW".
func parseLanguagesCSV(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	langs := strings.Split(s, ";")
	if len(langs) > olr.MaxLanguages {
		return nil, invalid("languages", "more than %d languages", olr.MaxLanguages)
	}
	return langs, nil
}

// jsonKey is one element of a JSON sales export.
type jsonKey struct {
	LicenseKey  *string                    `json:"license_key"`
	Licensee    *string                    `json:"licensee"`
	Type        *string                    `json:"type"`
	Product     *string                    `json:"product"`
	Modules     map[string]json.RawMessage `json:"modules"`
	Languages   []string                   `json:"languages"`
	Expires     *string                    `json:"expires"`
	Maintenance *string                    `json:"maintenance"`
}

// ImportJSON parses a sales export in JSON: an array of objects with the
// fields of the CSV columns.
//
//	[
//	  {"license_key": "OEM-7F3A-22", "licensee": "Example Backup, Ltd.",
//	   "type": "oem", "product": "cbs",
//	   "modules": {"obm": 50, "acb": 20, "m365": "unlimited"},
//	   "languages": ["en", "fr", "zh-TW"],
//	   "expires": "2027-12-31", "maintenance": null}
//	]
//
// license_key, licensee, type and product are required strings. modules
// is an object mapping a module name to a non-negative integer or
// "unlimited"; languages an array of language tags; both may be absent or
// null. expires and maintenance are "YYYY-MM-DD", or absent, null or ""
// for none. Unknown fields, duplicate fields and trailing data are
// refused. Errors name the record (1-based) and its line.
func ImportJSON(r io.Reader) ([]SoldKey, error) {
	b, err := readLimited(r)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	dec := json.NewDecoder(bytes.NewReader(b))
	lineAt := func(off int64) int { return 1 + bytes.Count(b[:min(int(off), len(b))], []byte("\n")) }
	jerr := func(err error) error {
		return &ValidationError{Record: fmt.Sprintf("line %d", lineAt(dec.InputOffset())), Err: fmt.Errorf("malformed JSON: %v", err)}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, jerr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, &ValidationError{Record: "line 1", Err: errors.New("the file must be a JSON array of keys")}
	}
	var keys []SoldKey
	lines := map[string]string{}
	for n := 1; dec.More(); n++ {
		// InputOffset is the end of the previous token: skip the
		// separator and white space to find the line of this element.
		off := dec.InputOffset()
		for off < int64(len(b)) && strings.IndexByte(", \t\r\n", b[off]) >= 0 {
			off++
		}
		where := fmt.Sprintf("record %d (line %d)", n, lineAt(off))
		if len(keys) == maxImportKeys {
			return nil, &ValidationError{Record: where, Err: fmt.Errorf("more than %d keys in one import", maxImportKeys)}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jerr(err)
		}
		k, err := parseJSONKey(raw)
		if err != nil {
			return nil, locate(err, where)
		}
		if first, dup := lines[k.Key]; dup {
			return nil, &ValidationError{Record: where, Field: "license_key", Err: fmt.Errorf("duplicate key, first in %s", first)}
		}
		lines[k.Key] = where
		keys = append(keys, *k)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, jerr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ValidationError{Record: fmt.Sprintf("line %d", lineAt(dec.InputOffset())), Err: errors.New("trailing data after the array")}
	}
	return keys, nil
}

func parseJSONKey(raw json.RawMessage) (*SoldKey, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("each key must be a JSON object")
	}
	if err := checkDuplicateFields(raw); err != nil {
		return nil, err
	}
	var jk jsonKey
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jk); err != nil {
		return nil, fmt.Errorf("%v", strings.TrimPrefix(err.Error(), "json: "))
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"license_key", jk.LicenseKey}, {"licensee", jk.Licensee}, {"type", jk.Type}, {"product", jk.Product}} {
		if f.v == nil {
			return nil, invalid(f.name, "is missing")
		}
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	k, err := keyFromFields(*jk.LicenseKey, *jk.Licensee, *jk.Type, *jk.Product, deref(jk.Expires), deref(jk.Maintenance))
	if err != nil {
		return nil, err
	}
	if jk.Modules != nil {
		if len(jk.Modules) > olr.MaxModules {
			return nil, invalid("modules", "more than %d modules", olr.MaxModules)
		}
		k.Modules = make(map[string]Quota, len(jk.Modules))
		for name, v := range jk.Modules {
			if err := checkModuleName(name); err != nil {
				return nil, invalid("modules", "%v", err)
			}
			q, err := parseQuotaJSON(v)
			if err != nil {
				return nil, invalid("modules", "module %q: %v", name, err)
			}
			k.Modules[name] = q
		}
	}
	k.Languages = jk.Languages
	if err := validateKey(k); err != nil {
		return nil, err
	}
	return k, nil
}

// checkDuplicateFields refuses an object that names a field twice,
// which encoding/json would silently resolve to the last value. Module
// objects are checked too.
func checkDuplicateFields(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		obj   bool
		keys  map[string]bool
		inKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("malformed JSON: %v", err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		// In an object, tokens alternate key, value; dec.Token returns
		// keys as strings.
		isKey := top != nil && top.obj && !top.inKey
		if isKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			s := tok.(string)
			if top.keys[s] {
				return fmt.Errorf("field %q appears twice", printable(s))
			}
			top.keys[s] = true
			top.inKey = true
			continue
		}
		if top != nil && top.obj {
			top.inKey = false // this token is the value (or opens it)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}
