package ledger

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/olr-dev/olr/olr"
)

// License pools: a partner's keys sold (the sources) converted into a
// stock of CALs per module, from which new keys are issued. What the
// ledger guarantees here is that a pool never lets out more than its
// sources hold, whoever calls it: a key belongs to one pool for good; a
// source no longer activates on its own (Activate refuses it) and its
// sale no longer changes (PutKey refuses it); the keys issued from a
// pool together never hold more CALs of a module than its live sources,
// nor a language, an unlimited module, a later expiry or a longer
// maintenance than every live source has. Which keys may be pooled, and
// what a new key asks for, is package signer's business.
//
// A source is live until its expiry date has passed; a key issued from
// the pool holds CALs while it is live and not released. A key issued
// from a pool expires no later than every source live at the time, so
// when a source expires, every key that was counted against it has
// expired too, and the balance stays whole.

// PoolRole says how a key belongs to a pool.
type PoolRole string

const (
	// PoolSource is a key sold whose CALs were converted into the pool's;
	// it no longer activates on its own.
	PoolSource PoolRole = "source"
	// PoolIssued is a key issued from the pool, its quotas counted
	// against the pool's CALs.
	PoolIssued PoolRole = "issued"
)

// Pool is a license pool. Licensee and Product are those of every
// source, fixed by the first key added; empty until then.
type Pool struct {
	Name     string
	Licensee string
	Product  string
	Created  time.Time
}

// PoolMember records that a key belongs to a pool.
type PoolMember struct {
	Key   string
	Pool  string
	Role  PoolRole
	Added time.Time
	// Released is when a key issued from the pool gave its CALs back;
	// zero while it holds them.
	Released time.Time
}

// PoolKey is a key of a pool, with its sale and its use.
type PoolKey struct {
	PoolMember
	Sold SoldKey
	// InUse counts the key's licenses that are not revoked (active or
	// superseded): licenses a machine may still hold.
	InUse int
	// Live says that the key had not expired when the pool was read.
	Live bool
}

// Holding reports whether the key's quotas count against the pool: a
// key issued from it, live and not released.
func (k *PoolKey) Holding() bool {
	return k.Role == PoolIssued && k.Live && k.Released.IsZero()
}

// PoolModule is the balance of one module of a pool. Quotas are
// Unlimited for a module that every live source has unlimited.
type PoolModule struct {
	Name string
	// Total is the sum of the live sources' quotas.
	Total Quota
	// Allocated is the sum of the quotas that the keys issued from the
	// pool hold (unlimited quotas take nothing).
	Allocated Quota
	// Available is Total - Allocated: what a new key may still have.
	Available Quota
}

// PoolState is a pool, its keys and its balance at one moment (At).
type PoolState struct {
	Pool
	At      time.Time
	Sources []PoolKey
	Issued  []PoolKey
	// Modules is the balance of each module, by name.
	Modules []PoolModule
	// What a key issued now may carry besides its CALs, so as to hold no
	// more than every live source: the languages they all have; an
	// expiry date no later than Expires (zero: no source expires); and
	// a maintenance date no later than Maintenance (zero: some source
	// has no maintenance, so a new key has none).
	Languages   []string
	Expires     time.Time
	Maintenance time.Time
}

// Module returns the balance of the module name; a module the pool does
// not hold has a zero balance.
func (st *PoolState) Module(name string) PoolModule {
	for _, m := range st.Modules {
		if m.Name == name {
			return m
		}
	}
	return PoolModule{Name: name}
}

var (
	// ErrPooled is returned for a key that belongs to a pool when the
	// change asked for would count its CALs twice: activating a source
	// or a released key, adding a pooled key to a pool, changing the
	// sale of a pooled key.
	ErrPooled = errors.New("ledger: the key is pooled")
	// ErrInUse is returned when a key that still has licenses that are
	// not revoked is added to a pool or released.
	ErrInUse = errors.New("ledger: key in use")
)

// PoolShortError is returned by IssueFromPool when the pool lacks the
// CALs asked for. Short lists each module that is short.
type PoolShortError struct {
	Pool  string
	Short []PoolShortfall
}

// PoolShortfall is one module a pool lacks: what was asked, and the
// module's balance.
type PoolShortfall struct {
	Asked Quota
	PoolModule
}

func (e *PoolShortError) Error() string {
	s := fmt.Sprintf("ledger: pool %q lacks the CALs asked for:", e.Pool)
	for i, f := range e.Short {
		if i > 0 {
			s += ";"
		}
		s += fmt.Sprintf(" %s: %s asked, %s available (%s in the pool, %s allocated)",
			f.Name, f.Asked, f.Available, f.Total, f.Allocated)
	}
	return s
}

// checkPoolName allows 1 to 64 ASCII letters, digits, '.', '_' and '-',
// starting with a letter or digit: a name that reads the same in a
// command line, a URL and a file name.
func checkPoolName(name string) error {
	if name == "" || len(name) > maxPoolNameLen {
		return invalid("pool", "a pool name is 1 to %d characters", maxPoolNameLen)
	}
	for i, c := range []byte(name) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return invalid("pool", "%q: a pool name is letters, digits, '.', '_' and '-', starting with a letter or digit", printable(name))
		}
	}
	return nil
}

// live reports whether a key expiring at the end of day expires (zero:
// never) is still valid at now.
func live(expires, now time.Time) bool {
	return expires.IsZero() || now.Before(expires.AddDate(0, 0, 1))
}

// addQuota adds counted quotas, saturating at the largest quota: a pool
// whose sources hold more than that offers no more than that.
func addQuota(a, b Quota) Quota {
	if a > Quota(olr.MaxQuota)-b {
		return Quota(olr.MaxQuota)
	}
	return a + b
}

func scanPool(row scanner) (*Pool, error) {
	var p Pool
	var licensee, product sql.NullString
	var created string
	if err := row.Scan(&p.Name, &licensee, &product, &created); err != nil {
		return nil, err
	}
	p.Licensee, p.Product = licensee.String, product.String
	var err error
	if p.Created, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("pool created time: %w", err)
	}
	return &p, nil
}

const poolCols = "name, licensee, product, created"

// Pools returns every pool, by name.
func (tx *Tx) Pools() ([]Pool, error) {
	return queryAll(tx, "reading pools", scanPool, "SELECT "+poolCols+" FROM pools ORDER BY name")
}

func (tx *Tx) pool(name string) (*Pool, error) {
	p, err := scanPool(tx.queryRow("SELECT "+poolCols+" FROM pools WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(fmt.Sprintf("pool %q", name))
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading pool: %w", err)
	}
	return p, nil
}

// scanMember reads the five pool_keys columns, then extra destinations.
func scanMember(row scanner, m *PoolMember, extra ...any) error {
	var role, added string
	var released sql.NullString
	if err := row.Scan(append([]any{&m.Key, &m.Pool, &role, &added, &released}, extra...)...); err != nil {
		return err
	}
	return m.set(role, added, released)
}

// set fills in the member's role and times from their stored text.
func (m *PoolMember) set(role, added string, released sql.NullString) error {
	m.Role = PoolRole(role)
	var err error
	if m.Added, err = parseTime(added); err != nil {
		return fmt.Errorf("pool key added time: %w", err)
	}
	if released.Valid {
		if m.Released, err = parseTime(released.String); err != nil {
			return fmt.Errorf("pool key released time: %w", err)
		}
	}
	return nil
}

// PoolMember returns the pool membership of a key, or an error wrapping
// ErrNotFound if the key is in no pool.
func (tx *Tx) PoolMember(licenseKey string) (*PoolMember, error) {
	var m PoolMember
	err := scanMember(tx.queryRow("SELECT license_key, pool, role, added, released FROM pool_keys WHERE license_key = ?", licenseKey), &m)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("pool key")
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading pool key: %w", err)
	}
	return &m, nil
}

// soldKeyColsOf is the sold_keys columns qualified by the alias sk.
var soldKeyColsOf = "sk.license_key, sk.licensee, sk.type, sk.product, sk.modules, sk.languages, sk.expires, sk.maintenance, sk.created, sk.updated"

// Pool returns the pool called name, its keys and its balance as of the
// transaction's time (ErrNotFound if there is no such pool).
func (tx *Tx) Pool(name string) (*PoolState, error) {
	p, err := tx.pool(name)
	if err != nil {
		return nil, err
	}
	st := &PoolState{Pool: *p, At: tx.now}
	keys, err := queryAll(tx, "reading pool keys", func(row scanner) (*PoolKey, error) {
		var k PoolKey
		var sold *SoldKey
		// The member's columns come first, then the sale's, then the
		// count: scanKey reads the sale through a scanner that fills
		// the others.
		sold, err := scanKey(scanFunc(func(dest ...any) error {
			return scanMember(row, &k.PoolMember, append(dest, &k.InUse)...)
		}))
		if err != nil {
			return nil, err
		}
		k.Sold = *sold
		k.Live = live(k.Sold.Expires, tx.now)
		return &k, nil
	}, `SELECT pk.license_key, pk.pool, pk.role, pk.added, pk.released, `+soldKeyColsOf+`,
	(SELECT count(*) FROM issued_licenses il WHERE il.license_key = pk.license_key AND il.status <> 'revoked')
FROM pool_keys pk JOIN sold_keys sk ON sk.license_key = pk.license_key
WHERE pk.pool = ? ORDER BY pk.added, pk.license_key`, name)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.Role == PoolSource {
			st.Sources = append(st.Sources, k)
		} else {
			st.Issued = append(st.Issued, k)
		}
	}
	st.balance()
	return st, nil
}

// scanFunc is a scanner made of a function.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// balance computes the pool's modules and terms from its keys.
func (st *PoolState) balance() {
	var sources, holding []*SoldKey
	for i := range st.Sources {
		if st.Sources[i].Live {
			sources = append(sources, &st.Sources[i].Sold)
		}
	}
	for i := range st.Issued {
		if st.Issued[i].Holding() {
			holding = append(holding, &st.Issued[i].Sold)
		}
	}
	var names []string
	for _, k := range append(slices.Clone(sources), holding...) {
		for name := range k.Modules {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	st.Modules = nil
	for _, name := range names {
		m := PoolModule{Name: name}
		unlimited := len(sources) > 0
		for _, k := range sources {
			if q := k.Modules[name]; q != Unlimited {
				unlimited = false
				m.Total = addQuota(m.Total, q) // 0 when absent
			}
		}
		for _, k := range holding {
			if q := k.Modules[name]; q != Unlimited {
				m.Allocated = addQuota(m.Allocated, q)
			}
		}
		m.Available = m.Total - m.Allocated
		if unlimited {
			m.Total, m.Available = Unlimited, Unlimited
		}
		if m.Total == 0 && m.Allocated == 0 {
			continue // named only as unlimited by some sources
		}
		st.Modules = append(st.Modules, m)
	}

	st.Languages, st.Expires, st.Maintenance = nil, time.Time{}, time.Time{}
	for i, k := range sources {
		if i == 0 {
			st.Languages = slices.Clone(k.Languages)
			st.Maintenance = k.Maintenance
		} else {
			st.Languages = slices.DeleteFunc(st.Languages, func(l string) bool { return !slices.Contains(k.Languages, l) })
			if k.Maintenance.IsZero() || !st.Maintenance.IsZero() && k.Maintenance.Before(st.Maintenance) {
				st.Maintenance = k.Maintenance
			}
		}
		if !k.Expires.IsZero() && (st.Expires.IsZero() || k.Expires.Before(st.Expires)) {
			st.Expires = k.Expires
		}
	}
	slices.Sort(st.Languages)
}

// CreatePool records a new, empty pool (ErrDuplicate if the name is
// taken). Names are case sensitive.
func (tx *Tx) CreatePool(name string) (p *Pool, err error) {
	err = tx.atomic(func() (err error) {
		p, err = tx.createPool(name)
		return err
	})
	return p, err
}

func (tx *Tx) createPool(name string) (*Pool, error) {
	if err := checkPoolName(name); err != nil {
		return nil, err
	}
	if _, err := tx.pool(name); err == nil {
		return nil, fmt.Errorf("%w: pool %q exists", ErrDuplicate, name)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if _, err := tx.exec("INSERT INTO pools (name, created) VALUES (?, ?)", name, formatTime(tx.now)); err != nil {
		return nil, constraintError("recording pool", err)
	}
	if err := tx.audit(ActionPoolCreate, name, nil, rowKey{"pools", name}); err != nil {
		return nil, err
	}
	return &Pool{Name: name, Created: tx.now}, nil
}

// inUse counts the key's licenses that are not revoked.
func (tx *Tx) inUse(licenseKey string) (int, error) {
	var n int
	if err := tx.queryRow("SELECT count(*) FROM issued_licenses WHERE license_key = ? AND status <> 'revoked'", licenseKey).Scan(&n); err != nil {
		return 0, fmt.Errorf("ledger: reading licenses: %w", err)
	}
	return n, nil
}

// AddToPool converts the keys sold into CALs of the pool name, all or
// none, each audited with its own record. Each key must be sold
// (ErrNotFound), in no pool (ErrPooled), and without a license that is
// not revoked (ErrInUse); all must have the licensee and product of the
// pool's first key. Which keys may be pooled (their type, expiry) is
// the caller's rule.
func (tx *Tx) AddToPool(name string, keys ...string) error {
	return tx.atomic(func() error { return tx.addToPool(name, keys) })
}

func (tx *Tx) addToPool(name string, keys []string) error {
	p, err := tx.pool(name)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return invalid("license_key", "no key to add")
	}
	for i, key := range keys {
		if slices.Contains(keys[:i], key) {
			return invalid("license_key", "%q is listed twice", printable(key))
		}
		k, err := tx.Key(key)
		if errors.Is(err, ErrNotFound) {
			return notFound(fmt.Sprintf("license key %q", printable(key)))
		}
		if err != nil {
			return err
		}
		if m, err := tx.PoolMember(key); err == nil {
			return fmt.Errorf("%w: %s is already in pool %q (as %s)", ErrPooled, key, m.Pool, m.Role)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if n, err := tx.inUse(key); err != nil {
			return err
		} else if n > 0 {
			return fmt.Errorf("%w: %s has licenses not revoked (%d)", ErrInUse, key, n)
		}
		rows := []rowKey{{"pool_keys", key}}
		if p.Product == "" {
			if _, err := tx.exec("UPDATE pools SET licensee = ?, product = ? WHERE name = ?", k.Licensee, k.Product, name); err != nil {
				return fmt.Errorf("ledger: updating pool: %w", err)
			}
			p.Licensee, p.Product = k.Licensee, k.Product
			rows = append(rows, rowKey{"pools", name})
		} else if k.Licensee != p.Licensee {
			return &ValidationError{Record: "key " + key, Field: "licensee", Err: fmt.Errorf("the key was sold to %q, the pool's keys to %q", printable(k.Licensee), printable(p.Licensee))}
		} else if k.Product != p.Product {
			return &ValidationError{Record: "key " + key, Field: "product", Err: fmt.Errorf("the key is for product %q, the pool's keys for %q", printable(k.Product), printable(p.Product))}
		}
		if _, err := tx.exec("INSERT INTO pool_keys (license_key, pool, role, added) VALUES (?, ?, 'source', ?)", key, name, formatTime(tx.now)); err != nil {
			return constraintError("recording pool key", err)
		}
		if err := tx.audit(ActionPoolAdd, key, map[string]any{"pool": name}, rows...); err != nil {
			return err
		}
	}
	return nil
}

// IssueFromPool records k, a new key, as issued from the pool name: its
// quotas are counted against the pool's CALs, in the same transaction.
// It is refused with a *PoolShortError when a module's quota exceeds
// what the pool has available (an unlimited quota needs a module the
// pool has unlimited), and with a *ValidationError when k is not for the
// pool's product, or carries a language, an expiry or a maintenance date
// beyond the pool's (see PoolState). The key must be new (ErrDuplicate).
// k.Created and k.Updated are set.
func (tx *Tx) IssueFromPool(name string, k *SoldKey) error {
	return tx.atomic(func() error { return tx.issueFromPool(name, k) })
}

func (tx *Tx) issueFromPool(name string, k *SoldKey) error {
	if err := validateKey(k); err != nil {
		return err
	}
	st, err := tx.Pool(name)
	if err != nil {
		return err
	}
	live := 0
	for _, s := range st.Sources {
		if s.Live {
			live++
		}
	}
	if live == 0 {
		return invalid("pool", "pool %q holds no key that has not expired", name)
	}
	if k.Product != st.Product {
		return invalid("product", "the key is for product %q, the pool's keys for %q", printable(k.Product), printable(st.Product))
	}
	for _, l := range k.Languages {
		if !slices.Contains(st.Languages, l) {
			return invalid("languages", "%q is not a language that every key of pool %q has", l, name)
		}
	}
	if !st.Expires.IsZero() && (k.Expires.IsZero() || k.Expires.After(st.Expires)) {
		return invalid("expires", "a key of pool %q expires on %s at the latest, when its first key does", name, st.Expires.Format(dateLayout))
	}
	if !k.Maintenance.IsZero() && (st.Maintenance.IsZero() || k.Maintenance.After(st.Maintenance)) {
		if st.Maintenance.IsZero() {
			return invalid("maintenance", "pool %q has a key without maintenance, so a key from it has none", name)
		}
		return invalid("maintenance", "a key of pool %q has maintenance until %s at the latest", name, st.Maintenance.Format(dateLayout))
	}
	var short []PoolShortfall
	names := make([]string, 0, len(k.Modules))
	for n := range k.Modules {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		q, m := k.Modules[n], st.Module(n)
		ok := m.Total == Unlimited || q != Unlimited && q <= m.Available
		if !ok {
			short = append(short, PoolShortfall{Asked: q, PoolModule: m})
		}
	}
	if len(short) > 0 {
		return &PoolShortError{Pool: name, Short: short}
	}
	if _, err := tx.Key(k.Key); err == nil {
		return fmt.Errorf("%w: key %s was sold already", ErrDuplicate, k.Key)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := tx.insertKey(k); err != nil {
		return err
	}
	if _, err := tx.exec("INSERT INTO pool_keys (license_key, pool, role, added) VALUES (?, ?, 'issued', ?)", k.Key, name, formatTime(tx.now)); err != nil {
		return constraintError("recording pool key", err)
	}
	return tx.audit(ActionPoolIssue, k.Key, map[string]any{"pool": name},
		rowKey{"sold_keys", k.Key}, rowKey{"pool_keys", k.Key})
}

// ReleasePoolKey gives the CALs of a key issued from a pool back to the
// pool. The key must have no license that is not revoked (ErrInUse):
// it was never activated, or its licenses were revoked. A released key
// never activates again. Sources stay in their pool.
func (tx *Tx) ReleasePoolKey(licenseKey string) error {
	return tx.atomic(func() error { return tx.releasePoolKey(licenseKey) })
}

func (tx *Tx) releasePoolKey(licenseKey string) error {
	m, err := tx.PoolMember(licenseKey)
	if errors.Is(err, ErrNotFound) {
		return notFound(fmt.Sprintf("key %q in a pool", printable(licenseKey)))
	}
	if err != nil {
		return err
	}
	switch {
	case m.Role == PoolSource:
		return invalid("license_key", "%s is a source of pool %q: the CALs of a key sold stay in its pool", licenseKey, m.Pool)
	case !m.Released.IsZero():
		return fmt.Errorf("%w: %s was released on %s", ErrDuplicate, licenseKey, m.Released.UTC().Format(dateLayout))
	}
	if n, err := tx.inUse(licenseKey); err != nil {
		return err
	} else if n > 0 {
		return fmt.Errorf("%w: %s has licenses not revoked (%d)", ErrInUse, licenseKey, n)
	}
	if _, err := tx.exec("UPDATE pool_keys SET released = ? WHERE license_key = ?", formatTime(tx.now), licenseKey); err != nil {
		return fmt.Errorf("ledger: releasing pool key: %w", err)
	}
	return tx.audit(ActionPoolRelease, licenseKey, map[string]any{"pool": m.Pool}, rowKey{"pool_keys", licenseKey})
}
