package signtest

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/olr-dev/olr/internal/pgtest"
)

// The roles of the README's PostgreSQL setup, with their passwords here.
var pgRoles = map[string]string{
	"olr_admin": "admin: not a secret",
	"olr_sign":  "sign: not a secret",
	"olr_audit": "audit: not a secret",
}

var makeRoles sync.Once

// roleURL returns the URL of database db as role, over TCP, with the
// role's password in it.
func roleURL(c *pgtest.Cluster, db, role string) string {
	u, _ := url.Parse(c.TCPURL(db, role))
	u.User = url.UserPassword(role, pgRoles[role])
	return u.String()
}

// TestPostgresRoles sets a ledger up as the README says, with the
// README's GRANT statements: olr_admin owns the database and makes the
// ledger, olr_sign issues, revokes and publishes the revocation list,
// and olr_audit verifies the ledger and can change nothing. olr_sign
// cannot touch the audit log or the guards, nor delete a license; what
// it may change behind olr-sign's back, ledger verify finds.
func TestPostgresRoles(t *testing.T) {
	t.Parallel()
	c := pgtest.Shared(t)
	var err error
	makeRoles.Do(func() {
		for role, pw := range pgRoles {
			if err = c.Exec("postgres", fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, pw)); err != nil {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	const db = "olr_roles"
	if err := c.Exec("postgres", "CREATE DATABASE "+db+" OWNER olr_admin"); err != nil {
		t.Fatal(err)
	}
	grants, err := os.ReadFile(filepath.Join("testdata", "postgres-grants.sql"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), string(grants)) {
		t.Error("README.md does not give the GRANT statements of testdata/postgres-grants.sql as they are")
	}

	admin, sign, audit := roleURL(c, db, "olr_admin"), roleURL(c, db, "olr_sign"), roleURL(c, db, "olr_audit")
	e := newEnvAt(t, admin, policyKeys) // olr_admin makes the ledger
	if _, err := c.Psql(admin, string(grants)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []result{e.run("keys", "list", "--ledger", admin)} {
		for _, pw := range pgRoles {
			if strings.Contains(r.stdout+r.stderr, pw) {
				t.Fatalf("olr-sign printed a password: %v", r)
			}
		}
	}

	req, _ := e.request("m0.olr", Request{Licensee: licensee, Key: "OEM-0001-AAAA", Machine: 0})
	if r := e.run("issue", "-i", vendorKey, "--ledger", sign, req, "-o", "m0.license.olr", "--operator", "alice"); r.code != 0 {
		t.Fatalf("olr_sign issues: %v", r)
	}
	lic := e.license("m0.license.olr")
	e.must("revoke", "--ledger", sign, "--operator", "bob", "--reason", "refund", lic.ID)
	e.must("crl", "-i", vendorKey, "--ledger", sign, "-o", "revoked.olr")
	if r := e.must("ledger", "verify", "--ledger", audit); !strings.Contains(r.stdout, "chain intact") || strings.Contains(r.stdout, pgRoles["olr_audit"]) {
		t.Fatalf("olr_audit verifies: %v", r)
	}
	req1, _ := e.request("m1.olr", Request{Licensee: licensee, Key: "OEM-0002-BBBB", Machine: 1})
	r := e.run("issue", "-i", vendorKey, "--ledger", audit, req1, "-o", "m1.license.olr")
	if r.code == 0 || !strings.Contains(r.stderr, "permission denied") || !strings.Contains(r.stderr, "cannot be written") || strings.Contains(r.stderr, pgRoles["olr_audit"]) {
		t.Fatalf("olr_audit issues: %v", r)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "m1.license.olr")); err == nil {
		t.Error("a refused issue left a license file")
	}

	// What olr_sign may not do at all.
	for _, sql := range []string{
		"UPDATE olr.audit SET operator = 'mallory' WHERE seq = 1;",
		"DELETE FROM olr.audit;",
		"DELETE FROM olr.issued_licenses;",
		"TRUNCATE olr.activations;",
		"ALTER TABLE olr.audit DISABLE TRIGGER audit_no_update;",
		"UPDATE olr.issued_licenses SET file = 'x';",
		"DROP TABLE olr.revocations;",
	} {
		if out, err := c.Psql(sign, sql); err == nil || !strings.Contains(out, "permission denied") && !strings.Contains(out, "must be owner") {
			t.Errorf("olr_sign: %s: want it refused, got %v: %s", sql, err, out)
		}
	}
	// What it may do, and ledger verify finds.
	if _, err := c.Psql(sign, "UPDATE olr.activations SET state = 'active', ended = NULL WHERE license_id = '"+lic.ID+"';"); err != nil {
		t.Fatal(err)
	}
	if r := e.run("ledger", "verify", "--ledger", audit); r.code != 1 || !strings.Contains(r.stderr, "activations row") {
		t.Fatalf("verify after olr_sign edited an activation: %v", r)
	}
}
