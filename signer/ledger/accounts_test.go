package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestAccounts: an account is created, updated (role, password, state)
// and read back; each change is one audit record under the operator that
// names what changed and never the hash; storing it unchanged writes
// nothing; an account cannot be deleted, and one edited behind the
// ledger's back fails Verify. On both engines.
func TestAccounts(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		l, path := openTest(t)
		testAccounts(t, l, rawDB(t, path))
	})
	t.Run("postgres", func(t *testing.T) {
		l, url := openPostgresTest(t)
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("SET search_path TO olr"); err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1) // the search_path is the session's
		testAccounts(t, l, db)
	})
}

func testAccounts(t *testing.T, l *Ledger, db *sql.DB) {
	ctx := context.Background()
	a := &Account{Name: "sam", Role: "support", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA"}
	update(t, l, func(tx *Tx) error { return tx.PutAccount(a) })
	got := func(name string) *Account {
		t.Helper()
		var acc *Account
		err := l.View(ctx, func(tx *Tx) (err error) {
			acc, err = tx.Account(name)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return acc
	}
	if g := got("sam"); g.Role != "support" || g.Disabled || g.PasswordHash != a.PasswordHash || g.Created.IsZero() {
		t.Fatalf("account: %+v", g)
	}
	h1, _ := l.Head(ctx)
	update(t, l, func(tx *Tx) error { return tx.PutAccount(a) })
	if h2, _ := l.Head(ctx); h2 != h1 {
		t.Fatal("storing an unchanged account wrote an audit record")
	}
	b := *a
	b.Role, b.PasswordHash, b.Disabled = "admin", "$argon2id$new", true
	update(t, l, func(tx *Tx) error { return tx.PutAccount(&b) })
	if g := got("sam"); g.Role != "admin" || !g.Disabled || g.PasswordHash != "$argon2id$new" {
		t.Fatalf("updated account: %+v", g)
	}
	var records []AuditRecord
	l.View(ctx, func(tx *Tx) error {
		return tx.Audit(func(r *AuditRecord) error {
			if strings.HasPrefix(r.Action, "account.") {
				records = append(records, *r)
			}
			return nil
		})
	})
	if len(records) != 2 || records[0].Action != ActionAccountCreate || records[1].Action != ActionAccountUpdate || records[1].Operator != testOperator {
		t.Fatalf("audit: %+v", records)
	}
	var details struct{ Changed []string }
	json.Unmarshal(records[1].Details, &details)
	if strings.Join(details.Changed, ",") != "role,password,disabled" || strings.Contains(string(records[1].Details), "argon2id") {
		t.Fatalf("update details: %s", records[1].Details)
	}
	for _, bad := range []*Account{
		{Name: "", Role: "support", PasswordHash: "x"},
		{Name: "eve", Role: "root", PasswordHash: "x"},
		{Name: "eve", Role: "support", PasswordHash: ""},
	} {
		err := l.Update(ctx, testOperator, func(tx *Tx) error { return tx.PutAccount(bad) })
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("PutAccount(%+v) = %v, want a ValidationError", bad, err)
		}
	}
	if err := l.Update(ctx, testOperator, func(tx *Tx) error { return tx.Log(ActionAccountCreate, "eve", nil) }); err == nil {
		t.Error("Log may write an account record")
	}
	verifyOK(t, l)
	if _, err := db.Exec("DELETE FROM accounts WHERE name = 'sam'"); err == nil {
		t.Fatal("an account was deleted")
	}
	if _, err := db.Exec("UPDATE accounts SET role = 'admin', disabled = 0 WHERE name = 'sam'"); err != nil {
		t.Fatal(err)
	}
	var ce *ChainError
	if err := l.Verify(ctx); !errors.As(err, &ce) {
		t.Fatalf("Verify after editing an account: %v", err)
	}
}
