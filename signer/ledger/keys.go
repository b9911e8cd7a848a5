package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/olr-dev/olr/olr"
)

// Sold keys: what the sales system says was sold, imported with
// ImportCSV or ImportJSON and Tx.ImportKeys.

var (
	keyCols  = tableSpec("sold_keys").cols
	keyQuery = "SELECT " + keyCols + " FROM sold_keys WHERE license_key = ?"
)

// keyRow is a sold_keys row as scanned: every column may be NULL, as
// when a LEFT JOIN finds no key.
type keyRow struct {
	key, licensee, typ, product, modules, languages, expires, maintenance, created, updated sql.NullString
}

// dest returns the scan destinations of the columns, in keyCols order.
func (r *keyRow) dest() []any {
	return []any{&r.key, &r.licensee, &r.typ, &r.product, &r.modules, &r.languages, &r.expires, &r.maintenance, &r.created, &r.updated}
}

// soldKey returns the key the row holds, or nil for a row of NULLs. Its
// errors carry no "ledger:" prefix: the caller adds it once.
func (r *keyRow) soldKey() (*SoldKey, error) {
	if !r.key.Valid {
		return nil, nil
	}
	k := SoldKey{Key: r.key.String, Licensee: r.licensee.String, Type: olr.LicenseType(r.typ.String), Product: r.product.String}
	var err error
	if k.Modules, err = decodeModules(r.modules.String); err != nil {
		return nil, fmt.Errorf("key modules: %w", err)
	}
	if k.Languages, err = decodeLanguages(r.languages.String); err != nil {
		return nil, fmt.Errorf("key languages: %w", err)
	}
	if k.Expires, err = parseDate(r.expires.String); err != nil {
		return nil, fmt.Errorf("key expiry: %w", err)
	}
	if k.Maintenance, err = parseDate(r.maintenance.String); err != nil {
		return nil, fmt.Errorf("key maintenance date: %w", err)
	}
	if k.Created, err = parseTime(r.created.String); err != nil {
		return nil, fmt.Errorf("key created time: %w", err)
	}
	if k.Updated, err = parseTime(r.updated.String); err != nil {
		return nil, fmt.Errorf("key updated time: %w", err)
	}
	return &k, nil
}

// decodeModules decodes the modules of a sale as stored: the JSON object
// encodeSale writes ({"acb":20,"mobile":"unlimited"}) is read directly,
// since every issuing reads a sale; anything else goes through
// encoding/json, which says what is wrong with it.
func decodeModules(s string) (map[string]Quota, error) {
	slow := func() (map[string]Quota, error) {
		var m map[string]Quota
		err := json.Unmarshal([]byte(s), &m)
		return m, err
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return slow()
	}
	m := map[string]Quota{}
	for rest := s[1 : len(s)-1]; rest != ""; {
		name, after, ok := jsonPlainString(rest)
		if !ok || after == "" || after[0] != ':' {
			return slow()
		}
		value, next, _ := strings.Cut(after[1:], ",")
		var q Quota
		switch n, err := olr.ParseQuota(value); {
		case value == `"unlimited"`:
			q = Unlimited
		case err == nil && value[0] != 'u': // ParseQuota also takes unlimited bare
			q = Quota(n)
		default:
			return slow()
		}
		if _, dup := m[name]; dup || next == "" && strings.HasSuffix(after, ",") {
			return slow()
		}
		m[name] = q
		rest = next
	}
	return m, nil
}

// decodeLanguages decodes the languages of a sale as stored, a JSON
// array of strings, as decodeModules does.
func decodeLanguages(s string) ([]string, error) {
	slow := func() ([]string, error) {
		var l []string
		err := json.Unmarshal([]byte(s), &l)
		return l, err
	}
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return slow()
	}
	l := []string{}
	for rest := s[1 : len(s)-1]; rest != ""; {
		tag, after, ok := jsonPlainString(rest)
		if !ok {
			return slow()
		}
		l = append(l, tag)
		if after == "" {
			break
		}
		if after[0] != ',' || len(after) == 1 {
			return slow()
		}
		rest = after[1:]
	}
	return l, nil
}

// jsonPlainString reads a JSON string at the start of s that holds only
// letters, digits and '-' (module names, language tags), and returns it
// and what follows; ok is false for anything else.
func jsonPlainString(s string) (str, rest string, ok bool) {
	if len(s) < 2 || s[0] != '"' {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[1:i], s[i+1:], i > 1
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// scanKey reads one sold_keys row. Its errors carry no "ledger:" prefix:
// the caller adds it once.
func scanKey(row scanner) (*SoldKey, error) {
	var r keyRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, err
	}
	k, err := r.soldKey()
	if err == nil && k == nil {
		err = errors.New("key row of NULLs")
	}
	return k, err
}

// Key returns the sold key, compared exactly (case sensitive). It
// returns an error wrapping ErrNotFound if the key was never sold.
func (tx *Tx) Key(licenseKey string) (*SoldKey, error) {
	return keyResult(scanKey(tx.queryRow(keyQuery, licenseKey)))
}

// Key returns the sold key as the ledger records it now, as Tx.Key does
// but without a transaction of its own: one statement sees one
// consistent state, which is all a single read needs.
func (l *Ledger) Key(ctx context.Context, licenseKey string) (*SoldKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	qctx := context.WithoutCancel(ctx) // as Tx.qctx
	st, err := l.stmt(qctx, keyQuery)
	if err != nil {
		return nil, fmt.Errorf("ledger: reading key: %w", err)
	}
	return keyResult(scanKey(st.QueryRowContext(qctx, licenseKey)))
}

func keyResult(k *SoldKey, err error) (*SoldKey, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("license key")
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading key: %w", err)
	}
	return k, nil
}

// Keys returns every sold key, ordered by key.
func (tx *Tx) Keys() ([]SoldKey, error) {
	return queryAll(tx, "reading keys", scanKey, "SELECT "+keyCols+" FROM sold_keys ORDER BY license_key")
}

// PutKey records a sold key, inserting it or updating what was sold
// (licensee, type, product, modules, languages, dates). Storing the same
// content again changes nothing and writes no audit record; changed
// reports whether anything was written. k.Created and k.Updated are set.
func (tx *Tx) PutKey(k *SoldKey) (changed bool, err error) {
	err = tx.atomic(func() (err error) {
		changed, _, err = tx.putKey(k)
		return err
	})
	return changed, err
}

// putKey is PutKey without its savepoint; existed reports whether the key
// was recorded before.
func (tx *Tx) putKey(k *SoldKey) (changed, existed bool, err error) {
	if err := validateKey(k); err != nil {
		return false, false, err
	}
	old, err := tx.Key(k.Key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, false, err
	}
	if old != nil && old.SameSale(k) {
		k.Created, k.Updated = old.Created, old.Updated
		return false, true, nil
	}
	ref := rowKey{"sold_keys", k.Key}
	if old == nil {
		if err := tx.insertKey(k); err != nil {
			return false, false, err
		}
		return true, false, tx.audit(ActionKeyCreate, k.Key, map[string]any{"type": k.Type}, ref)
	}
	// A pooled key's CALs are counted in its pool: its sale is fixed.
	if m, err := tx.PoolMember(k.Key); err == nil {
		return false, true, fmt.Errorf("%w: %s is in pool %q (as %s), so what was sold for it cannot change", ErrPooled, k.Key, m.Pool, m.Role)
	} else if !errors.Is(err, ErrNotFound) {
		return false, true, err
	}
	modules, languages, err := encodeSale(k)
	if err != nil {
		return false, true, err
	}
	now := formatTime(tx.now)
	_, err = tx.exec(
		"UPDATE sold_keys SET licensee = ?, type = ?, product = ?, modules = ?, languages = ?, expires = ?, maintenance = ?, updated = ? WHERE license_key = ?",
		k.Licensee, string(k.Type), k.Product, modules, languages,
		formatDate(k.Expires), formatDate(k.Maintenance), now, k.Key)
	if err != nil {
		return false, true, fmt.Errorf("ledger: updating key: %w", err)
	}
	k.Created, k.Updated = old.Created, tx.now
	return true, true, tx.audit(ActionKeyUpdate, k.Key, map[string]any{"changed": old.changedFields(k)}, ref)
}

// encodeSale returns the JSON texts of k's modules and languages, as
// stored.
func encodeSale(k *SoldKey) (modules, languages string, err error) {
	m, err := json.Marshal(nonNilModules(k.Modules))
	if err != nil {
		return "", "", fmt.Errorf("ledger: encoding modules: %w", err)
	}
	langs := k.Languages
	if langs == nil {
		langs = []string{}
	}
	l, err := json.Marshal(langs)
	if err != nil {
		return "", "", fmt.Errorf("ledger: encoding languages: %w", err)
	}
	return string(m), string(l), nil
}

// insertKey inserts a new sold key, without auditing (the caller does),
// and sets k.Created and k.Updated.
func (tx *Tx) insertKey(k *SoldKey) error {
	modules, languages, err := encodeSale(k)
	if err != nil {
		return err
	}
	now := formatTime(tx.now)
	_, err = tx.exec("INSERT INTO sold_keys ("+keyCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		k.Key, k.Licensee, string(k.Type), k.Product, modules, languages,
		formatDate(k.Expires), formatDate(k.Maintenance), now, now)
	if err != nil {
		return fmt.Errorf("ledger: recording key: %w", err)
	}
	k.Created, k.Updated = tx.now, tx.now
	return nil
}

func nonNilModules(m map[string]Quota) map[string]Quota {
	if m == nil {
		return map[string]Quota{}
	}
	return m
}

// ImportResult says what an import changed. Each list holds license keys
// in the order of the import.
type ImportResult struct {
	Created   []string
	Updated   []string
	Unchanged []string
}

// ImportKeys records keys from a sales export (see ImportCSV and
// ImportJSON), all within the caller's transaction: if any key is
// refused, the Update fails and nothing is recorded. source labels the
// import in the audit log (such as the file name). Keys whose content is
// already recorded are left alone; when anything changed, a summary
// record follows the per-key records.
func (tx *Tx) ImportKeys(source string, keys []SoldKey) (res *ImportResult, err error) {
	err = tx.atomic(func() (err error) {
		res, err = tx.importKeys(source, keys)
		return err
	})
	return res, err
}

func (tx *Tx) importKeys(source string, keys []SoldKey) (*ImportResult, error) {
	if err := checkText("source", source, maxTextLen, true); err != nil {
		return nil, err
	}
	seen := make(map[string]int, len(keys))
	for i := range keys {
		if j, dup := seen[keys[i].Key]; dup {
			return nil, &ValidationError{Record: fmt.Sprintf("key %d", i+1), Field: "license_key", Err: fmt.Errorf("duplicate of key %d", j+1)}
		}
		seen[keys[i].Key] = i
	}
	res := &ImportResult{}
	// ImportKeys runs all of this under one savepoint, so each key needs
	// none of its own: a key refused undoes the whole import.
	for i := range keys {
		changed, existed, err := tx.putKey(&keys[i])
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) && ve.Record == "" {
				ve.Record = fmt.Sprintf("key %d", i+1)
			}
			return nil, err
		}
		switch {
		case !changed:
			res.Unchanged = append(res.Unchanged, keys[i].Key)
		case existed:
			res.Updated = append(res.Updated, keys[i].Key)
		default:
			res.Created = append(res.Created, keys[i].Key)
		}
	}
	if len(res.Created)+len(res.Updated) > 0 {
		err := tx.audit(ActionKeyImport, source, map[string]any{
			"created": len(res.Created), "updated": len(res.Updated), "unchanged": len(res.Unchanged),
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}
