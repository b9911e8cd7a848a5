package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// buildTampered writes a small ledger whose audit log is, in order:
//
//	1 key.create K-1    5 activate K-1 (L-K-1-01, activation 1)
//	2 key.create K-2    6 activate K-2 (L-K-2-01, activation 2)
//	3 key.create K-3    7 supersede L-K-1-01
//	4 keys.import       8 activate K-1 (L-K-1-02, activation 3)
//	                    9 revoke L-K-2-01
//	                   10 crl.number
//
// and returns its path, closed.
func buildTampered(t *testing.T) string {
	t.Helper()
	l, path := openTest(t)
	ctx := context.Background()
	keys := []SoldKey{*testKey("K-1"), *testKey("K-2"), *testKey("K-3")}
	err := l.Update(ctx, testOperator, func(tx *Tx) error { _, err := tx.ImportKeys("sales.csv", keys); return err })
	if err != nil {
		t.Fatal(err)
	}
	lic := activate(t, l, "K-1", "01")
	lic2 := activate(t, l, "K-2", "01")
	err = l.Update(ctx, testOperator, func(tx *Tx) error {
		if err := tx.Supersede(lic.ID); err != nil {
			return err
		}
		a, lic := newActivation("K-1", "02")
		return tx.Activate(a, lic)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = l.Update(ctx, testOperator, func(tx *Tx) error {
		if _, err := tx.Revoke(lic2.ID, "refund"); err != nil {
			return err
		}
		_, err := tx.NextCRLNumber()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = l.View(ctx, func(tx *Tx) error {
		h, err := tx.Head()
		if h.Seq != 10 {
			t.Fatalf("test ledger has %d audit records, want 10", h.Seq)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var tampers = []struct {
	name    string
	sql     string
	seq     int64
	problem string
}{
	{
		name:    "edited record",
		sql:     "DROP TRIGGER audit_no_update; UPDATE audit SET operator = 'mallory' WHERE seq = 6;",
		seq:     6,
		problem: "hash does not match its content (edited?)",
	},
	{
		name:    "edited details",
		sql:     "DROP TRIGGER audit_no_update; UPDATE audit SET details = replace(details, 'refund', 'fraud') WHERE seq = 9;",
		seq:     9,
		problem: "hash does not match its content (edited?)",
	},
	{
		name:    "deleted record in the middle",
		sql:     "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 7;",
		seq:     8,
		problem: "follows record 6: record 7 is missing (deleted?)",
	},
	{
		name:    "deleted records in the middle",
		sql:     "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq IN (2, 3, 4);",
		seq:     5,
		problem: "follows record 1: records 2 to 4 are missing (deleted?)",
	},
	{
		name:    "deleted last record",
		sql:     "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit);",
		seq:     10,
		problem: "records deleted from the end?",
	},
	{
		name:    "deleted last three records",
		sql:     "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq >= 8;",
		seq:     8,
		problem: "missing: the log ends at record 7 but its head is record 10",
	},
	{
		name: "two records swapped",
		sql: "DROP TRIGGER audit_no_update; UPDATE audit SET seq = -seq WHERE seq IN (5, 6); " +
			"UPDATE audit SET seq = 6 WHERE seq = -5; UPDATE audit SET seq = 5 WHERE seq = -6;",
		seq:     5,
		problem: "hash does not match its content (edited?)",
	},
	{
		name: "two records swapped, links kept",
		// Swap every column but seq and prev_hash: each record's own hash
		// then fails to cover its new position.
		sql: "DROP TRIGGER audit_no_update; CREATE TEMP TABLE s AS SELECT * FROM audit WHERE seq IN (5, 6); " +
			"UPDATE audit SET (time, operator, action, subject, details, hash) = " +
			"(SELECT time, operator, action, subject, details, hash FROM s WHERE s.seq = 11 - audit.seq) WHERE seq IN (5, 6);",
		seq:     5,
		problem: "hash does not match its content (edited?)",
	},
	{
		name:    "head edited",
		sql:     "UPDATE audit_head SET hash = '" + strings.Repeat("ab", 32) + "';",
		seq:     10,
		problem: "hash differs from the head of the log",
	},
	{
		name:    "edited activation",
		sql:     `UPDATE activations SET fingerprint = '{"mac":["02:00:00:00:00:01"]}' WHERE id = 1;`,
		seq:     7,
		problem: `activations row "1" does not match this record (edited?)`,
	},
	{
		name:    "edited key licensee",
		sql:     "UPDATE sold_keys SET licensee = 'Mallory Inc.' WHERE license_key = 'K-1';",
		seq:     1,
		problem: `sold_keys row "K-1" does not match this record (edited?)`,
	},
	{
		name:    "edited license status",
		sql:     "UPDATE issued_licenses SET status = 'active' WHERE license_id = 'L-K-1-01';",
		seq:     7,
		problem: `issued_licenses row "L-K-1-01" does not match this record (edited?)`,
	},
	{
		name:    "deleted activation",
		sql:     "DELETE FROM activations WHERE id = 3;",
		seq:     8,
		problem: `describes activations row "3", which is missing (deleted?)`,
	},
	{
		name:    "inserted revocation",
		sql:     "INSERT INTO revocations VALUES ('L-K-1-02', 'x', '2026-01-01T00:00:00.000000000Z', 'mallory');",
		seq:     0,
		problem: `revocations row "L-K-1-02" has no audit record`,
	},
	{
		name:    "dropped guard trigger",
		sql:     "DROP TRIGGER revocations_no_delete;",
		seq:     0,
		problem: "guard trigger revocations_no_delete is missing",
	},
}

func checkTamper(t *testing.T, path string, seq int64, problem string) {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = l.Verify(context.Background())
	var ce *ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("Verify = %v, want a *ChainError", err)
	}
	if ce.Seq != seq || !strings.Contains(ce.Problem, problem) {
		t.Errorf("Verify = %v\nwant record %d: ...%s...", err, seq, problem)
	}
}

func TestVerifyDetectsTamperingSQL(t *testing.T) {
	for _, tc := range tampers {
		t.Run(tc.name, func(t *testing.T) {
			path := buildTampered(t)
			db := rawDB(t, path)
			if _, err := db.Exec(tc.sql); err != nil {
				t.Fatalf("tampering: %v", err)
			}
			db.Close()
			checkTamper(t, path, tc.seq, tc.problem)
		})
	}
}

func TestVerifyDetectsTamperingCLI(t *testing.T) {
	sqlite3, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("sqlite3 command not installed")
	}
	for _, tc := range tampers {
		t.Run(tc.name, func(t *testing.T) {
			path := buildTampered(t)
			cmd := exec.Command(sqlite3, "-bail", path)
			cmd.Stdin = strings.NewReader(tc.sql)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sqlite3: %v\n%s", err, out)
			}
			checkTamper(t, path, tc.seq, tc.problem)
		})
	}
}

func TestGuardTriggers(t *testing.T) {
	path := buildTampered(t)
	db := rawDB(t, path)
	for _, q := range []string{
		"UPDATE audit SET operator = 'x' WHERE seq = 1",
		"DELETE FROM audit WHERE seq = 10",
		"DELETE FROM audit_head",
		"DELETE FROM revocations",
		"UPDATE revocations SET reason = 'x'",
		"UPDATE crl_counter SET number = 0",
		"UPDATE issued_licenses SET file = x'00' WHERE license_id = 'L-K-1-01'",
		"UPDATE issued_licenses SET status = 'active' WHERE license_id = 'L-K-2-01'",
		"DELETE FROM issued_licenses WHERE license_id = 'L-K-1-01'",
	} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "olr ledger:") {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestVerifyEmpty(t *testing.T) { onEngines(t, testVerifyEmpty) }

func testVerifyEmpty(t *testing.T) {
	l, _ := openTest(t)
	verifyOK(t, l)
}

// TestRecordHashVector pins the record encoding documented in the
// package doc, so a change to it cannot go unnoticed.
func TestRecordHashVector(t *testing.T) {
	h := RecordHash(1, "2026-11-27T16:57:45.000000000Z", "alice", "key.create", "K-1", []byte(`{"type":"oem"}`), [32]byte{})
	const want = "f57dc276d7366a2937b9dddf03b15dcbae920990da5eef4e12b62dba4e43fc7a"
	if got := hexString(h); got != want {
		t.Errorf("RecordHash = %s", got)
	}
}

// TestAuditorRecheck re-checks the chain the way an auditor with another
// tool would: plain SQL and the encoding from the package doc, without
// this package's code.
func TestAuditorRecheck(t *testing.T) {
	path := buildTampered(t)
	db := rawDB(t, path)
	rows, err := db.Query("SELECT seq, time, operator, action, subject, details, prev_hash, hash FROM audit ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	field := func(b []byte) []byte {
		return append(binary.BigEndian.AppendUint64(nil, uint64(len(b))), b...)
	}
	prev := strings.Repeat("0", 64)
	var n int64
	for rows.Next() {
		var seq int64
		var ts, op, action, subject, details, prevHash, hash string
		if err := rows.Scan(&seq, &ts, &op, &action, &subject, &details, &prevHash, &hash); err != nil {
			t.Fatal(err)
		}
		n++
		ph, _ := hex.DecodeString(prevHash)
		msg := field([]byte("olr-ledger-audit-v1"))
		msg = append(msg, field(binary.BigEndian.AppendUint64(nil, uint64(seq)))...)
		for _, s := range []string{ts, op, action, subject, details} {
			msg = append(msg, field([]byte(s))...)
		}
		msg = append(msg, field(ph)...)
		sum := sha256.Sum256(msg)
		if seq != n || prevHash != prev || hex.EncodeToString(sum[:]) != hash {
			t.Fatalf("record %d does not re-check", seq)
		}
		prev = hash
	}
	var headSeq int64
	var headHash string
	db.QueryRow("SELECT seq, hash FROM audit_head").Scan(&headSeq, &headHash)
	if headSeq != n || headHash != prev {
		t.Errorf("head %d %s, chain ends at %d %s", headSeq, headHash, n, prev)
	}
}

// TestVerifyAnchor rewrites the whole chain with correct hashes, as
// someone who knows the format could, and checks that an anchor noted
// before catches it.
func TestVerifyAnchor(t *testing.T) {
	path := buildTampered(t)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	anchor, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, err := ParseAnchor(anchor.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(ctx, anchor.Anchor(), short); err != nil {
		t.Fatalf("Verify with a good anchor: %v", err)
	}
	l.Close()

	// Rewrite record 2's operator and recompute the chain from there.
	db := rawDB(t, path)
	if _, err := db.Exec("DROP TRIGGER audit_no_update"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE audit SET operator = 'mallory' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	var prev [32]byte
	for seq := int64(1); seq <= anchor.Seq; seq++ {
		var ts, op, action, subject, details string
		db.QueryRow("SELECT time, operator, action, subject, details FROM audit WHERE seq = ?", seq).Scan(&ts, &op, &action, &subject, &details)
		h := RecordHash(seq, ts, op, action, subject, []byte(details), prev)
		if _, err := db.Exec("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", hex.EncodeToString(prev[:]), hex.EncodeToString(h[:]), seq); err != nil {
			t.Fatal(err)
		}
		prev = h
	}
	db.Exec("UPDATE audit_head SET hash = ?", hex.EncodeToString(prev[:]))
	// Put the guard back, so only the anchor can tell.
	if _, err := db.Exec("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'olr ledger: the audit log is append-only'); END"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Verify(ctx); err != nil {
		t.Fatalf("a consistent rewrite is not detected without an anchor, but Verify says %v", err)
	}
	var ce *ChainError
	if err := l.Verify(ctx, anchor.Anchor()); !errors.As(err, &ce) || ce.Seq != anchor.Seq {
		t.Fatalf("Verify with anchor = %v", err)
	}
	if err := l.Verify(ctx, short); !errors.As(err, &ce) || ce.Seq != anchor.Seq {
		t.Fatalf("Verify with the short anchor = %v", err)
	}
}

// TestVerifyAnchorAfterTail: an anchor past the end of the chain (a tail
// cut off with the head moved back, or an older copy restored) fails.
func TestVerifyAnchorAfterTail(t *testing.T) {
	l, _ := openTest(t)
	putKeys(t, l, testKey("K-1"))
	old, err := l.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	putKeys(t, l, testKey("K-2"))
	later, err := l.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(context.Background(), old.Anchor(), later.Anchor()); err != nil {
		t.Fatalf("both anchors are in the chain: %v", err)
	}
	future := AuditHead{Seq: later.Seq + 5, Hash: later.Hash}
	var ce *ChainError
	if err := l.Verify(context.Background(), future.Anchor()); !errors.As(err, &ce) || !strings.Contains(err.Error(), "the log ends at record") {
		t.Errorf("an anchor past the end: %v", err)
	}
}

func TestParseAnchor(t *testing.T) {
	full := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		in   string
		ok   bool
		seq  int64
		size int
	}{
		{in: "42:" + full, ok: true, seq: 42, size: 32},
		{in: "1:" + full[:32], ok: true, seq: 1, size: 16},
		{in: "1:" + full[:30]},             // too short to trust
		{in: "1:" + strings.ToUpper(full)}, // one spelling
		{in: "0:" + full},
		{in: "01:" + full},
		{in: "-1:" + full},
		{in: full},
		{in: "1:" + full + "ab"},
		{in: "1:" + full[:33]},
		{in: "x:" + full},
	} {
		a, err := ParseAnchor(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseAnchor(%q) = %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (a.Seq != tt.seq || len(a.Hash) != tt.size) {
			t.Errorf("ParseAnchor(%q) = %+v", tt.in, a)
		}
	}
}

func TestUpdatePanicReleasesLock(t *testing.T) { onEngines(t, testUpdatePanicReleasesLock) }

func testUpdatePanicReleasesLock(t *testing.T) {
	l, _ := openTest(t)
	func() {
		defer func() { recover() }()
		l.Update(context.Background(), testOperator, func(tx *Tx) error {
			tx.PutKey(testKey("K-1"))
			panic("policy bug")
		})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	putKeys(t, l, testKey("K-2"))
	if err := l.View(ctx, func(tx *Tx) error {
		if _, err := tx.Key("K-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("key from a panicking Update was recorded: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	verifyOK(t, l)
}
