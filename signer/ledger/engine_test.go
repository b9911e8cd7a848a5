package ledger

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/internal/pgtest"
	"github.com/olr-dev/olr/signer/ledger/postgres"
)

// TestSchemaAlike: both engines' migrations make the same schema
// version, and every audited table with the same columns in the same
// order, which the row hashes depend on.
func TestSchemaAlike(t *testing.T) {
	if len(postgres.Migrations) != SchemaVersion() {
		t.Fatalf("PostgreSQL has %d schema steps, SQLite %d", len(postgres.Migrations), SchemaVersion())
	}
	lite, _ := openTest(t)
	pg, _ := openPostgresTest(t)
	ctx := context.Background()
	for _, tab := range append(auditedTables, auditTable) {
		want := strings.ReplaceAll(tab.cols, " ", "")
		var got [2]string
		if err := lite.db.QueryRowContext(ctx, "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info(?) ORDER BY cid)", tab.name).Scan(&got[0]); err != nil {
			t.Fatal(err)
		}
		if err := pg.db.QueryRowContext(ctx, "SELECT string_agg(column_name::text, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'olr' AND table_name = $1", tab.name).Scan(&got[1]); err != nil {
			t.Fatal(err)
		}
		if got[0] != want || got[1] != want {
			t.Errorf("%s: columns %q on SQLite, %q on PostgreSQL, want %q", tab.name, got[0], got[1], want)
		}
	}
}

func openPostgresTest(t testing.TB, opts ...Option) (*Ledger, string) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	l, err := Create(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, url
}

// steppingClock returns a clock that starts at a fixed time and moves a
// millisecond and a nanosecond on each call.
func steppingClock() func() time.Time {
	at := time.Date(2026, 11, 27, 16, 57, 45, 123456789, time.UTC)
	return func() time.Time {
		at = at.Add(time.Millisecond + 1)
		return at
	}
}

// buildHistory records a bit of everything: an import, activations, a
// re-issue, a transfer, a revocation, CRL numbers, a free-form record
// and a pool.
func buildHistory(t testing.TB, l *Ledger) {
	t.Helper()
	ctx := context.Background()
	keys := []SoldKey{*testKey("K-1"), *testKey("K-2"), *testKey("K-3")}
	keys[2].Expires = time.Time{}
	update(t, l, func(tx *Tx) error { _, err := tx.ImportKeys("sales.csv", keys); return err })
	lic1 := activate(t, l, "K-1", "01")
	activate(t, l, "K-2", "01")
	update(t, l, func(tx *Tx) error {
		if err := tx.Supersede(lic1.ID); err != nil {
			return err
		}
		a, lic := newActivation("K-1", "02")
		return tx.Activate(a, lic)
	})
	update(t, l, func(tx *Tx) error {
		a, lic := newActivation("K-2", "02")
		_, err := tx.Transfer("new server", a, lic, true)
		return err
	})
	update(t, l, func(tx *Tx) error {
		if _, err := tx.NextCRLNumber(); err != nil {
			return err
		}
		_, err := tx.NextCRLNumber()
		return err
	})
	if err := l.Update(ctx, "bob", func(tx *Tx) error {
		return tx.Log("request.refused", "K-3", map[string]any{"reason": "meter key", "n": 3})
	}); err != nil {
		t.Fatal(err)
	}
	update(t, l, func(tx *Tx) error {
		a := &Account{Name: "sam", Role: "support", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA"}
		if err := tx.PutAccount(a); err != nil {
			return err
		}
		a.Disabled = true
		return tx.PutAccount(a)
	})
	// A pool of two keys, a key issued from it and another released.
	makePool(t, l, "partner",
		poolSource("P-1", map[string]Quota{"acb": 50, "obm": 80}),
		poolSource("P-2", map[string]Quota{"acb": 20, "obm": 30, "mobile": Unlimited}))
	for _, k := range []string{"P-NEW-1", "P-NEW-2"} {
		if err := issueFromPool(l, "partner", poolKey(k, map[string]Quota{"obm": 30, "acb": 10})); err != nil {
			t.Fatal(err)
		}
	}
	update(t, l, func(tx *Tx) error { return tx.ReleasePoolKey("P-NEW-2") })
}

// TestEnginesChainAlike: the same history, at the same times, gives the
// same audit log on both engines, record for record and hash for hash.
func TestEnginesChainAlike(t *testing.T) {
	lite, err := Create(filepath.Join(t.TempDir(), "ledger.db"), WithClock(steppingClock()))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, _ := openPostgresTest(t, WithClock(steppingClock()))
	var logs [2][]AuditRecord
	for i, l := range []*Ledger{lite, pg} {
		buildHistory(t, l)
		verifyOK(t, l)
		err := l.View(context.Background(), func(tx *Tx) error {
			return tx.Audit(func(r *AuditRecord) error { logs[i] = append(logs[i], *r); return nil })
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(logs[0]) != len(logs[1]) || len(logs[0]) < 10 {
		t.Fatalf("%d audit records on SQLite, %d on PostgreSQL", len(logs[0]), len(logs[1]))
	}
	for i := range logs[0] {
		a, b := logs[0][i], logs[1][i]
		if a.Hash != b.Hash || string(a.Details) != string(b.Details) || !a.Time.Equal(b.Time) {
			t.Errorf("record %d differs:\nSQLite:     %s %s %x\nPostgreSQL: %s %s %x", a.Seq, a.Action, a.Details, a.Hash, b.Action, b.Details, b.Hash)
		}
	}
	heads := [2]AuditHead{}
	for i, l := range []*Ledger{lite, pg} {
		if heads[i], err = l.Head(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if heads[0] != heads[1] {
		t.Errorf("heads differ: %x and %x", heads[0].Hash, heads[1].Hash)
	}
	// Every row reads back as the same Go values.
	for _, tab := range auditedTables {
		a, b := rowValues(t, lite.db, tab), rowValues(t, pg.db, tab)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: rows differ:\nSQLite:     %#v\nPostgreSQL: %#v", tab.name, a, b)
		}
	}
}

// rowValues returns every row of table t, as the driver returns them.
func rowValues(t *testing.T, db *sql.DB, tab auditedTable) [][]any {
	t.Helper()
	rows, err := db.Query("SELECT " + tab.cols + " FROM " + tab.name + " ORDER BY " + tab.pk)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals, err := scanRowValues(rows, columnCount(tab.cols))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	return out
}
