package signtest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The guard triggers of the ledger schema that a tamperer must drop (and
// may put back) to edit the audit log or delete licenses with sqlite3.
var guards = map[string]string{
	"audit_no_update":           `CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'olr ledger: the audit log is append-only'); END;`,
	"audit_no_delete":           `CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'olr ledger: the audit log is append-only'); END;`,
	"issued_licenses_no_delete": `CREATE TRIGGER issued_licenses_no_delete BEFORE DELETE ON issued_licenses BEGIN SELECT RAISE(ABORT, 'olr ledger: issued licenses are never deleted'); END;`,
}

// behind drops the named guard triggers, runs sql, and puts them back,
// as a careful tamperer would.
func behind(sql string, triggers ...string) string {
	var b strings.Builder
	for _, t := range triggers {
		fmt.Fprintf(&b, "DROP TRIGGER %s;\n", t)
	}
	b.WriteString(sql + "\n")
	for _, t := range triggers {
		b.WriteString(guards[t] + "\n")
	}
	return b.String()
}

// TestLedgerTampered edits, deletes and reorders records of a ledger the
// binary wrote, with the sqlite3 CLI; olr-sign ledger verify must fail
// with exit 1 and name the record at fault.
func TestLedgerTampered(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("no sqlite3 CLI")
	}
	e := newEnv(t, policyKeys)
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
	orig := mustRead(t, e.ledger)
	if _, err := os.Stat(e.ledger + "-wal"); err == nil {
		t.Fatal("the ledger still has a WAL file after olr-sign exited")
	}

	seqOf := func(action, subject string) int {
		q := fmt.Sprintf("SELECT seq FROM audit WHERE action = '%s' AND subject = '%s' ORDER BY seq LIMIT 1;", action, subject)
		out, err := exec.Command("sqlite3", e.ledger, q).Output()
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("%q: %q", q, out)
		}
		return n
	}
	act0, act1 := seqOf("activate", "OEM-0001-AAAA"), seqOf("activate", "OEM-0002-BBBB")
	rev := seqOf("revoke", lic0.ID)
	if act1 != act0+1 || rev != act1+1 {
		t.Fatalf("unexpected log: activations %d, %d, revocation %d", act0, act1, rev)
	}

	tests := []struct {
		name string
		sql  string
		want string // in the error
	}{
		{"edit audit operator", behind(fmt.Sprintf("UPDATE audit SET operator = 'mallory' WHERE seq = %d;", act1), "audit_no_update"),
			fmt.Sprintf("audit record %d: hash does not match", act1)},
		{"edit audit details", behind(fmt.Sprintf("UPDATE audit SET details = replace(details, 'refund', 'fraud') WHERE seq = %d;", rev), "audit_no_update"),
			fmt.Sprintf("audit record %d: hash does not match", rev)},
		{"edit activation state", "UPDATE activations SET state = 'active', ended = NULL WHERE license_id = '" + lic0.ID + "';",
			fmt.Sprintf("audit record %d: activations row", rev)},
		{"edit sold key", "UPDATE sold_keys SET modules = '{\"obm\":5000}' WHERE license_key = 'OEM-0002-BBBB';",
			"audit record "},
		{"delete audit record", behind(fmt.Sprintf("DELETE FROM audit WHERE seq = %d;", act1), "audit_no_delete"),
			fmt.Sprintf("audit record %d: follows record %d: record %d is missing", rev, act0, act1)},
		{"delete last audit record", behind(fmt.Sprintf("DELETE FROM audit WHERE seq = %d;", rev), "audit_no_delete"),
			fmt.Sprintf("audit record %d: missing", rev)},
		{"delete activation", "DELETE FROM activations WHERE license_key = 'OEM-0002-BBBB';",
			fmt.Sprintf("audit record %d: describes activations row", act1)},
		{"delete license", behind("DELETE FROM activations WHERE license_key = 'OEM-0002-BBBB'; DELETE FROM issued_licenses WHERE license_key = 'OEM-0002-BBBB';", "issued_licenses_no_delete"),
			fmt.Sprintf("audit record %d: describes", act1)},
		{"reorder audit records", behind(fmt.Sprintf("UPDATE audit SET seq = -1 WHERE seq = %[1]d; UPDATE audit SET seq = %[1]d WHERE seq = %[2]d; UPDATE audit SET seq = %[2]d WHERE seq = -1;", act0, act1), "audit_no_update"),
			fmt.Sprintf("audit record %d: hash does not match", act0)},
		{"swap twice, back as it was (control)", behind(fmt.Sprintf(
			"UPDATE audit SET seq = -1 WHERE seq = %[1]d; UPDATE audit SET seq = %[1]d WHERE seq = %[2]d; UPDATE audit SET seq = %[2]d WHERE seq = -1;"+
				"UPDATE audit SET seq = -1 WHERE seq = %[1]d; UPDATE audit SET seq = %[1]d WHERE seq = %[2]d; UPDATE audit SET seq = %[2]d WHERE seq = -1;", act1, rev), "audit_no_update"),
			""}, // swapped twice: back as it was, verify passes
		{"drop a guard", "DROP TRIGGER audit_no_delete;", "guard trigger audit_no_delete is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(e.ledger, orig, 0o600); err != nil {
				t.Fatal(err)
			}
			os.Remove(e.ledger + "-wal")
			os.Remove(e.ledger + "-shm")
			cmd := exec.Command("sqlite3", e.ledger)
			cmd.Stdin = strings.NewReader(".bail on\n" + tc.sql)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sqlite3: %v\n%s", err, out)
			}
			r := e.run("ledger", "verify", "--ledger", e.ledger)
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
