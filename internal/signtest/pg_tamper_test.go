package signtest

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/olr-dev/olr/internal/pgtest"
)

// pgDatabase returns the database name of a unix-socket URL from
// pgtest.NewDatabase.
func pgDatabase(t testing.TB, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(p.Path, "/")
}

var clones atomic.Int64

// cloneDatabase makes a new database as a copy of db (CREATE DATABASE …
// TEMPLATE) and returns its URL.
func cloneDatabase(t testing.TB, c *pgtest.Cluster, db string) string {
	t.Helper()
	name := fmt.Sprintf("%s_clone%d", db, clones.Add(1))
	if err := c.Exec("postgres", fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, db)); err != nil {
		t.Fatal(err)
	}
	return c.URL(name)
}

// TestLedgerTamperedPostgres edits, deletes and reorders records of a
// PostgreSQL ledger the binary wrote, with psql, as someone with access
// to its tables would: the owner of the tables, who can disable the
// guard triggers around an edit, or a role that may only insert and
// update. olr-sign ledger verify must fail with exit 1 and name the
// record at fault.
func TestLedgerTamperedPostgres(t *testing.T) {
	t.Parallel()
	c := pgtest.Shared(t)
	e := newEnvAt(t, pgtest.NewDatabase(t), policyKeys)
	for m, key := range []string{"OEM-0001-AAAA", "OEM-0002-BBBB"} {
		req, _ := e.request(fmt.Sprintf("m%d.olr", m), Request{Licensee: licensee, Key: key, Machine: m})
		if r := e.issue(req, fmt.Sprintf("m%d.license.olr", m), "--operator", "alice"); r.code != 0 {
			t.Fatal(r)
		}
	}
	lic0 := e.license("m0.license.olr")
	e.must("revoke", "--ledger", e.ledger, "--operator", "bob", "--reason", "refund", lic0.ID)
	if r := e.must("ledger", "verify", "--ledger", e.ledger); !strings.Contains(r.stdout, "chain intact") {
		t.Fatalf("pristine ledger: %v", r)
	}
	db := pgDatabase(t, e.ledger)

	seqOf := func(action, subject string) int {
		out, err := c.Psql(e.ledger, fmt.Sprintf("SELECT seq FROM olr.audit WHERE action = '%s' AND subject = '%s' ORDER BY seq LIMIT 1;", action, subject))
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("seq of %s %s: %q", action, subject, out)
		}
		return n
	}
	act0, act1 := seqOf("activate", "OEM-0001-AAAA"), seqOf("activate", "OEM-0002-BBBB")
	rev := seqOf("revoke", lic0.ID)
	if act1 != act0+1 || rev != act1+1 {
		t.Fatalf("unexpected log: activations %d, %d, revocation %d", act0, act1, rev)
	}
	// behind disables the named guards around sql, as the tables' owner
	// can.
	behind := func(sql string, guards ...string) string {
		var b strings.Builder
		for _, g := range guards {
			table, _, _ := strings.Cut(g, ".")
			fmt.Fprintf(&b, "ALTER TABLE olr.%s DISABLE TRIGGER %s;\n", table, strings.TrimPrefix(g, table+"."))
		}
		b.WriteString(sql + "\n")
		for _, g := range guards {
			table, _, _ := strings.Cut(g, ".")
			fmt.Fprintf(&b, "ALTER TABLE olr.%s ENABLE TRIGGER %s;\n", table, strings.TrimPrefix(g, table+"."))
		}
		return b.String()
	}
	swap := func(a, b int) string {
		return fmt.Sprintf("UPDATE olr.audit SET seq = -1 WHERE seq = %[1]d; UPDATE olr.audit SET seq = %[1]d WHERE seq = %[2]d; UPDATE olr.audit SET seq = %[2]d WHERE seq = -1;", a, b)
	}
	tests := []struct {
		name string
		sql  string
		want string // in the error; "" for a ledger that still verifies
	}{
		{"edit audit operator", behind(fmt.Sprintf("UPDATE olr.audit SET operator = 'mallory' WHERE seq = %d;", act1), "audit.audit_no_update"),
			fmt.Sprintf("audit record %d: hash does not match", act1)},
		{"edit audit details", behind(fmt.Sprintf("UPDATE olr.audit SET details = replace(details, 'refund', 'fraud') WHERE seq = %d;", rev), "audit.audit_no_update"),
			fmt.Sprintf("audit record %d: hash does not match", rev)},
		{"edit activation state", "UPDATE olr.activations SET state = 'active', ended = NULL WHERE license_id = '" + lic0.ID + "';",
			fmt.Sprintf("audit record %d: activations row", rev)},
		{"edit sold key", `UPDATE olr.sold_keys SET modules = '{"obm":5000}' WHERE license_key = 'OEM-0002-BBBB';`,
			"audit record "},
		{"delete audit record", behind(fmt.Sprintf("DELETE FROM olr.audit WHERE seq = %d;", act1), "audit.audit_no_delete"),
			fmt.Sprintf("audit record %d: follows record %d: record %d is missing", rev, act0, act1)},
		{"delete last audit record", behind(fmt.Sprintf("DELETE FROM olr.audit WHERE seq = %d;", rev), "audit.audit_no_delete"),
			fmt.Sprintf("audit record %d: missing", rev)},
		{"delete activation", "DELETE FROM olr.activations WHERE license_key = 'OEM-0002-BBBB';",
			fmt.Sprintf("audit record %d: describes activations row", act1)},
		{"delete license", behind("DELETE FROM olr.activations WHERE license_key = 'OEM-0002-BBBB'; DELETE FROM olr.issued_licenses WHERE license_key = 'OEM-0002-BBBB';", "issued_licenses.issued_licenses_no_delete"),
			fmt.Sprintf("audit record %d: describes", act1)},
		{"reorder audit records", behind(swap(act0, act1), "audit.audit_no_update"),
			fmt.Sprintf("audit record %d: hash does not match", act0)},
		{"swap twice, back as it was (control)", behind(swap(act1, rev)+"\n"+swap(act1, rev), "audit.audit_no_update"), ""},
		{"drop a guard", "DROP TRIGGER audit_no_delete ON olr.audit;", "guard trigger audit_no_delete is missing"},
		{"disable a guard", "ALTER TABLE olr.issued_licenses DISABLE TRIGGER issued_licenses_no_truncate;", "guard trigger issued_licenses_no_truncate is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ledger := cloneDatabase(t, c, db)
			if _, err := c.Psql(ledger, tc.sql); err != nil {
				t.Fatal(err)
			}
			r := e.run("ledger", "verify", "--ledger", ledger)
			if tc.want == "" {
				if r.code != 0 {
					t.Fatalf("want the chain intact: %v", r)
				}
				return
			}
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want exit 1 and %q: %v", tc.want, r)
			}
		})
	}
}
