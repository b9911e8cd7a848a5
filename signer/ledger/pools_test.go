package ledger

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// poolSource returns a key sold to the partner with the given quotas.
func poolSource(key string, modules map[string]Quota) *SoldKey {
	k := testKey(key)
	k.Modules = modules
	return k
}

// poolKey returns a key to issue from a pool, for the product and
// expiry of testKey.
func poolKey(key string, modules map[string]Quota) *SoldKey {
	k := testKey(key)
	k.Modules = modules
	k.Languages = nil
	return k
}

func readPool(t testing.TB, l *Ledger, name string) *PoolState {
	t.Helper()
	var st *PoolState
	err := l.View(context.Background(), func(tx *Tx) (err error) {
		st, err = tx.Pool(name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// balances returns a pool's modules as "name total/allocated/available".
func balances(st *PoolState) string {
	var b []string
	for _, m := range st.Modules {
		b = append(b, fmt.Sprintf("%s %s/%s/%s", m.Name, m.Total, m.Allocated, m.Available))
	}
	return strings.Join(b, ", ")
}

// makePool creates pool name from the keys sold.
func makePool(t testing.TB, l *Ledger, name string, keys ...*SoldKey) {
	t.Helper()
	putKeys(t, l, keys...)
	update(t, l, func(tx *Tx) error {
		if _, err := tx.CreatePool(name); err != nil {
			return err
		}
		var names []string
		for _, k := range keys {
			names = append(names, k.Key)
		}
		return tx.AddToPool(name, names...)
	})
}

func issueFromPool(l *Ledger, name string, k *SoldKey) error {
	return l.Update(context.Background(), testOperator, func(tx *Tx) error { return tx.IssueFromPool(name, k) })
}

// TestPoolExample is the example of the License Management Portal:
// LICENSE001 (50 ACB, 80 OBM) and LICENSE002 (20 ACB, 30 OBM) make a pool
// of 70 ACB and 110 OBM; keys issued from it take their CALs, a key
// asking for more than is left is refused with the numbers, and a
// released key gives its CALs back.
func TestPoolExample(t *testing.T) { onEngines(t, testPoolExample) }

func testPoolExample(t *testing.T) {
	l, _ := openTest(t)
	makePool(t, l, "partner",
		poolSource("LICENSE001", map[string]Quota{"acb": 50, "obm": 80}),
		poolSource("LICENSE002", map[string]Quota{"acb": 20, "obm": 30}))
	st := readPool(t, l, "partner")
	if got, want := balances(st), "acb 70/0/70, obm 110/0/110"; got != want {
		t.Fatalf("pool: %s, want %s", got, want)
	}
	if st.Licensee != testKey("").Licensee || st.Product != "cbs" || len(st.Sources) != 2 {
		t.Errorf("pool %+v", st.Pool)
	}

	if err := issueFromPool(l, "partner", poolKey("NEW-1", map[string]Quota{"obm": 30, "acb": 10})); err != nil {
		t.Fatal(err)
	}
	if err := issueFromPool(l, "partner", poolKey("NEW-2", map[string]Quota{"obm": 80, "acb": 60})); err != nil {
		t.Fatal(err)
	}
	if got, want := balances(readPool(t, l, "partner")), "acb 70/70/0, obm 110/110/0"; got != want {
		t.Fatalf("after issuing all: %s, want %s", got, want)
	}
	err := issueFromPool(l, "partner", poolKey("NEW-3", map[string]Quota{"obm": 1, "acb": 0}))
	var short *PoolShortError
	if !errors.As(err, &short) || len(short.Short) != 1 || short.Short[0].Name != "obm" || short.Short[0].Asked != 1 {
		t.Fatalf("over-allocation: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "obm: 1 asked, 0 available (110 in the pool, 110 allocated)") {
		t.Errorf("message without the numbers: %s", msg)
	}
	update(t, l, func(tx *Tx) error { return tx.ReleasePoolKey("NEW-2") })
	if got, want := balances(readPool(t, l, "partner")), "acb 70/10/60, obm 110/30/80"; got != want {
		t.Fatalf("after release: %s, want %s", got, want)
	}
	err = issueFromPool(l, "partner", poolKey("NEW-3", map[string]Quota{"obm": 81, "acb": 61}))
	if !errors.As(err, &short) || len(short.Short) != 2 {
		t.Fatalf("two modules short: %v", err)
	}
	if _, err := readKey(l, "NEW-3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused key was recorded: %v", err)
	}
	verifyOK(t, l)
}

func readKey(l *Ledger, key string) (*SoldKey, error) {
	return l.Key(context.Background(), key)
}

// TestPoolInvariants: what the ledger refuses whoever calls it, so that
// no CAL is counted twice.
func TestPoolInvariants(t *testing.T) { onEngines(t, testPoolInvariants) }

func testPoolInvariants(t *testing.T) {
	l, _ := openTest(t)
	other := testKey("OTHER")
	other.Licensee = "Another Partner"
	otherProduct := testKey("OTHER-PRODUCT")
	otherProduct.Product = "ubs"
	putKeys(t, l, testKey("USED"), other, otherProduct)
	activate(t, l, "USED", "01")
	makePool(t, l, "p1", poolSource("S-1", map[string]Quota{"obm": 10}))
	update(t, l, func(tx *Tx) error { _, err := tx.CreatePool("p2"); return err })
	if err := issueFromPool(l, "p1", poolKey("I-1", map[string]Quota{"obm": 4})); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		fn   func(tx *Tx) error
		want error
		text string
	}{
		{"a pool name taken", func(tx *Tx) error { _, err := tx.CreatePool("p1"); return err }, ErrDuplicate, `pool "p1" exists`},
		{"a bad pool name", func(tx *Tx) error { _, err := tx.CreatePool("a b"); return err }, nil, "pool name"},
		{"no such pool", func(tx *Tx) error { return tx.AddToPool("nope", "USED") }, ErrNotFound, `pool "nope"`},
		{"no such key", func(tx *Tx) error { return tx.AddToPool("p2", "NOPE") }, ErrNotFound, `"NOPE"`},
		{"a key in use", func(tx *Tx) error { return tx.AddToPool("p2", "USED") }, ErrInUse, "USED has licenses not revoked (1)"},
		{"a source in another pool", func(tx *Tx) error { return tx.AddToPool("p2", "S-1") }, ErrPooled, `already in pool "p1" (as source)`},
		{"an issued key as a source", func(tx *Tx) error { return tx.AddToPool("p2", "I-1") }, ErrPooled, `already in pool "p1" (as issued)`},
		{"another licensee", func(tx *Tx) error { return tx.AddToPool("p1", "OTHER") }, nil, "sold to"},
		{"another product", func(tx *Tx) error { return tx.AddToPool("p1", "OTHER-PRODUCT") }, nil, "product"},
		{"a key twice", func(tx *Tx) error { return tx.AddToPool("p2", "OTHER", "OTHER") }, nil, "listed twice"},
		{"activating a source", func(tx *Tx) error {
			a, lic := newActivation("S-1", "09")
			return tx.Activate(a, lic)
		}, ErrPooled, "does not activate"},
		{"changing a source's sale", func(tx *Tx) error {
			_, err := tx.PutKey(poolSource("S-1", map[string]Quota{"obm": 1000}))
			return err
		}, ErrPooled, "cannot change"},
		{"changing an issued key's sale", func(tx *Tx) error {
			_, err := tx.PutKey(poolKey("I-1", map[string]Quota{"obm": 1000}))
			return err
		}, ErrPooled, "cannot change"},
		{"an issued key under a sold key's name", func(tx *Tx) error {
			return tx.IssueFromPool("p1", poolKey("USED", map[string]Quota{"obm": 1}))
		}, ErrDuplicate, "sold already"},
		{"an issued key for another product", func(tx *Tx) error {
			k := poolKey("I-2", map[string]Quota{"obm": 1})
			k.Product = "ubs"
			return tx.IssueFromPool("p1", k)
		}, nil, "product"},
		{"unlimited from counted CALs", func(tx *Tx) error {
			return tx.IssueFromPool("p1", poolKey("I-2", map[string]Quota{"obm": Unlimited}))
		}, nil, "obm: unlimited asked, 6 available"},
		{"a module the pool lacks", func(tx *Tx) error {
			return tx.IssueFromPool("p1", poolKey("I-2", map[string]Quota{"acb": 1}))
		}, nil, "acb: 1 asked, 0 available"},
		{"from an empty pool", func(tx *Tx) error {
			return tx.IssueFromPool("p2", poolKey("I-2", map[string]Quota{"obm": 1}))
		}, nil, "no key"},
		{"releasing a source", func(tx *Tx) error { return tx.ReleasePoolKey("S-1") }, nil, "stay in its pool"},
		{"releasing a key in no pool", func(tx *Tx) error { return tx.ReleasePoolKey("USED") }, ErrNotFound, "in a pool"},
		{"writing in a view", nil, ErrReadOnly, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, err := l.Head(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tc.fn == nil {
				err = l.View(context.Background(), func(tx *Tx) error { return tx.AddToPool("p2", "OTHER") })
			} else {
				err = l.Update(context.Background(), testOperator, tc.fn)
			}
			if err == nil {
				t.Fatal("not refused")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			var ve *ValidationError
			var short *PoolShortError
			if tc.want == nil && !errors.As(err, &ve) && !errors.As(err, &short) {
				t.Errorf("error %v (%T), want a validation or shortfall error", err, err)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			if after, _ := l.Head(context.Background()); after != before {
				t.Errorf("a refused change wrote %d audit records", after.Seq-before.Seq)
			}
		})
	}

	// An issued key activates; while its license is not revoked it is
	// not released, then it is, once, and never activates again.
	lic := activate(t, l, "I-1", "01")
	rel := func() error {
		return l.Update(context.Background(), testOperator, func(tx *Tx) error { return tx.ReleasePoolKey("I-1") })
	}
	if err := rel(); !errors.Is(err, ErrInUse) {
		t.Fatalf("releasing a key in use: %v", err)
	}
	update(t, l, func(tx *Tx) error { _, err := tx.Revoke(lic.ID, "moved to the pool"); return err })
	if err := rel(); err != nil {
		t.Fatal(err)
	}
	if err := rel(); !errors.Is(err, ErrDuplicate) {
		t.Errorf("releasing twice: %v", err)
	}
	err := l.Update(context.Background(), testOperator, func(tx *Tx) error {
		a, lic := newActivation("I-1", "02")
		return tx.Activate(a, lic)
	})
	if !errors.Is(err, ErrPooled) {
		t.Errorf("activating a released key: %v", err)
	}
	err = l.View(context.Background(), func(tx *Tx) error {
		st, err := tx.KeyState("I-1", "R-none")
		if err != nil {
			return err
		}
		if st.Pool == nil || st.Pool.Pool != "p1" || st.Pool.Role != PoolIssued || st.Pool.Released.IsZero() {
			t.Errorf("key state's pool: %+v", st.Pool)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := balances(readPool(t, l, "p1")), "obm 10/0/10"; got != want {
		t.Errorf("pool: %s, want %s", got, want)
	}
	verifyOK(t, l)
}

// TestPoolTerms: a key issued from a pool carries no language, unlimited
// module, expiry or maintenance beyond what every live source has; an
// expired source's CALs leave the pool, as do the keys counted against
// it, which expired with it.
func TestPoolTerms(t *testing.T) { onEngines(t, testPoolTerms) }

func testPoolTerms(t *testing.T) {
	at := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	l, _ := openTest(t, WithClock(clock))
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	s1 := poolSource("S-1", map[string]Quota{"obm": 100, "mobile": Unlimited, "m365": Unlimited})
	s1.Languages, s1.Expires, s1.Maintenance = []string{"zh-TW", "en", "fr"}, date(2028, 12, 31), date(2027, 12, 31)
	s2 := poolSource("S-2", map[string]Quota{"obm": 50, "mobile": Unlimited})
	s2.Languages, s2.Expires, s2.Maintenance = []string{"en", "zh-TW"}, date(2027, 9, 30), date(2028, 12, 31)
	makePool(t, l, "p", s1, s2)
	st := readPool(t, l, "p")
	if got, want := balances(st), "mobile unlimited/0/unlimited, obm 150/0/150"; got != want {
		t.Errorf("pool: %s, want %s (m365 is unlimited in one source only)", got, want)
	}
	if !reflect.DeepEqual(st.Languages, []string{"en", "zh-TW"}) || !st.Expires.Equal(date(2027, 9, 30)) || !st.Maintenance.Equal(date(2027, 12, 31)) {
		t.Errorf("terms: languages %v, expires %v, maintenance %v", st.Languages, st.Expires, st.Maintenance)
	}

	k := func(key string, mods map[string]Quota, langs []string, expires, maint time.Time) *SoldKey {
		sk := poolKey(key, mods)
		sk.Languages, sk.Expires, sk.Maintenance = langs, expires, maint
		return sk
	}
	refused := []struct {
		key  *SoldKey
		text string
	}{
		{k("X", map[string]Quota{"obm": 1}, []string{"fr"}, date(2027, 9, 30), time.Time{}), "languages"},
		{k("X", map[string]Quota{"obm": 1}, nil, date(2027, 10, 1), time.Time{}), "expires on 2027-09-30"},
		{k("X", map[string]Quota{"obm": 1}, nil, time.Time{}, time.Time{}), "expires on 2027-09-30"},
		{k("X", map[string]Quota{"obm": 1}, nil, date(2027, 9, 30), date(2028, 1, 1)), "maintenance until 2027-12-31"},
		{k("X", map[string]Quota{"m365": Unlimited}, nil, date(2027, 9, 30), time.Time{}), "m365: unlimited asked, 0 available"},
	}
	for _, r := range refused {
		if err := issueFromPool(l, "p", r.key); err == nil || !strings.Contains(err.Error(), r.text) {
			t.Errorf("%+v: %v, want %q", r.key, err, r.text)
		}
	}
	// Within the terms: 150 obm, the languages, the dates, unlimited mobile.
	full := k("K-1", map[string]Quota{"obm": 150, "mobile": Unlimited}, []string{"en", "zh-TW"}, date(2027, 9, 30), date(2027, 12, 31))
	if err := issueFromPool(l, "p", full); err != nil {
		t.Fatal(err)
	}
	if got, want := balances(readPool(t, l, "p")), "mobile unlimited/0/unlimited, obm 150/150/0"; got != want {
		t.Errorf("pool: %s, want %s", got, want)
	}

	// S-2 and K-1 expire at the end of 2027-09-30: the pool holds S-1's
	// 100 obm, all available, and a new key may run to S-1's expiry.
	at = date(2027, 10, 1)
	st = readPool(t, l, "p")
	if got, want := balances(st), "m365 unlimited/0/unlimited, mobile unlimited/0/unlimited, obm 100/0/100"; got != want {
		t.Errorf("after S-2 expired: %s, want %s", got, want)
	}
	if !st.Expires.Equal(date(2028, 12, 31)) || !reflect.DeepEqual(st.Languages, []string{"en", "fr", "zh-TW"}) {
		t.Errorf("after S-2 expired: expires %v, languages %v", st.Expires, st.Languages)
	}
	if err := issueFromPool(l, "p", k("K-2", map[string]Quota{"obm": 100}, []string{"fr"}, date(2028, 12, 31), time.Time{})); err != nil {
		t.Fatal(err)
	}
	// An issued key without maintenance is always within the terms; a
	// source without maintenance means none for the keys issued.
	s3 := poolSource("S-3", map[string]Quota{"obm": 5})
	s3.Expires = time.Time{}
	putKeys(t, l, s3)
	update(t, l, func(tx *Tx) error { return tx.AddToPool("p", "S-3") })
	if st := readPool(t, l, "p"); !st.Maintenance.IsZero() {
		t.Errorf("maintenance %v with a source that has none", st.Maintenance)
	}
	verifyOK(t, l)
}

// TestPoolAudited: every pool change has its audit record under the
// operator, and the rows it wrote are what Verify checks.
func TestPoolAudited(t *testing.T) { onEngines(t, testPoolAudited) }

func testPoolAudited(t *testing.T) {
	l, path := openTest(t)
	makePool(t, l, "p", poolSource("S-1", map[string]Quota{"obm": 10}))
	if err := issueFromPool(l, "p", poolKey("I-1", map[string]Quota{"obm": 3})); err != nil {
		t.Fatal(err)
	}
	update(t, l, func(tx *Tx) error { return tx.ReleasePoolKey("I-1") })
	if err := issueFromPool(l, "p", poolKey("I-2", map[string]Quota{"obm": 3})); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := l.View(context.Background(), func(tx *Tx) error {
		return tx.Audit(func(r *AuditRecord) error {
			if strings.HasPrefix(r.Action, "pool.") {
				got = append(got, r.Action+" "+r.Subject+" "+r.Operator)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pool.create p " + testOperator, "pool.add S-1 " + testOperator, "pool.issue I-1 " + testOperator,
		"pool.release I-1 " + testOperator, "pool.issue I-2 " + testOperator}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("audit records %q, want %q", got, want)
	}
	verifyOK(t, l)

	// Releasing a key behind olr's back is detected.
	db := l.db
	if !strings.HasPrefix(path, "postgres") {
		db = rawDB(t, path)
	}
	if _, err := db.Exec(l.e.Rebind("UPDATE pool_keys SET released = added WHERE license_key = ?"), "I-2"); err != nil {
		t.Fatal(err)
	}
	var ce *ChainError
	if err := l.Verify(context.Background()); !errors.As(err, &ce) || !strings.Contains(ce.Problem, `pool_keys row "I-2"`) {
		t.Errorf("Verify after an edited pool key: %v", err)
	}
}

// TestPoolGuards: the guard triggers refuse deleting pools and pooled
// keys, moving a key between pools, and un-releasing a key.
func TestPoolGuards(t *testing.T) { onEngines(t, testPoolGuards) }

func testPoolGuards(t *testing.T) {
	l, path := openTest(t)
	makePool(t, l, "p", poolSource("S-1", map[string]Quota{"obm": 10}))
	if err := issueFromPool(l, "p", poolKey("I-1", map[string]Quota{"obm": 3})); err != nil {
		t.Fatal(err)
	}
	update(t, l, func(tx *Tx) error { return tx.ReleasePoolKey("I-1") })
	update(t, l, func(tx *Tx) error { _, err := tx.CreatePool("q"); return err })
	db := l.db
	if !strings.HasPrefix(path, "postgres") {
		db = rawDB(t, path)
	}
	for _, stmt := range []string{
		"DELETE FROM pools WHERE name = 'p'",
		"DELETE FROM pool_keys WHERE license_key = 'S-1'",
		"UPDATE pool_keys SET pool = 'q' WHERE license_key = 'S-1'",
		"UPDATE pool_keys SET role = 'issued' WHERE license_key = 'S-1'",
		"UPDATE pool_keys SET released = NULL WHERE license_key = 'I-1'",
		"UPDATE pools SET product = 'other' WHERE name = 'p'",
		"UPDATE pools SET licensee = 'other' WHERE name = 'p'",
	} {
		if _, err := db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "olr ledger:") {
			t.Errorf("%s: %v", stmt, err)
		}
	}
	verifyOK(t, l)
}
