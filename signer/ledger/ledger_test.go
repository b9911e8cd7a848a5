package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/internal/pgtest"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger/sqlite"
)

const testOperator = "alice@vendor.example"

// onEngines runs test once on each engine, as subtests named sqlite and
// postgres; openTest, called within, opens a ledger on the subtest's
// engine.
func onEngines(t *testing.T, test func(t *testing.T)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, test)
	}
}

// openTest opens a new, empty ledger: in a temporary file, or, within
// the postgres subtest of onEngines, in a new database of the package's
// PostgreSQL cluster. It returns the ledger and its location.
func openTest(t testing.TB, opts ...Option) (*Ledger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	if name := strings.Split(t.Name(), "/"); len(name) > 1 && name[1] == "postgres" {
		path = pgtest.NewDatabase(t)
	}
	l, err := Create(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func testKey(key string) *SoldKey {
	return &SoldKey{
		Key: key, Licensee: "Example Backup, Ltd.", Type: olr.TypeOEM, Product: "cbs",
		Modules:   map[string]Quota{"obm": 50, "acb": 20, "m365": Unlimited},
		Languages: []string{"en", "zh-TW"},
		Expires:   time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC),
	}
}

func putKeys(t testing.TB, l *Ledger, keys ...*SoldKey) {
	t.Helper()
	err := l.Update(context.Background(), testOperator, func(tx *Tx) error {
		for _, k := range keys {
			if _, err := tx.PutKey(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// newActivation returns an activation and license for key, unique by n.
func newActivation(key, n string) (*Activation, *IssuedLicense) {
	a := &Activation{Key: key, Fingerprint: []byte(`{"mac":["52:54:00:12:34:` + n + `"],"machine-id":"m-` + n + `"}`)}
	lic := &IssuedLicense{ID: "L-" + key + "-" + n, RequestID: "R-" + key + "-" + n, File: []byte("olr license " + n)}
	return a, lic
}

func activate(t testing.TB, l *Ledger, key, n string) *IssuedLicense {
	t.Helper()
	a, lic := newActivation(key, n)
	if err := l.Update(context.Background(), testOperator, func(tx *Tx) error { return tx.Activate(a, lic) }); err != nil {
		t.Fatal(err)
	}
	return lic
}

func verifyOK(t testing.TB, l *Ledger) {
	t.Helper()
	if err := l.Verify(context.Background()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenMigratesAndReopens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "ledger.db")
	l, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	putKeys(t, l, testKey("K-1"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ledger file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("ledger directory mode = %v, %v; want 0700", fi.Mode(), err)
	}

	db := rawDB(t, path)
	var version, appID int
	var mode string
	db.QueryRow("PRAGMA user_version").Scan(&version)
	db.QueryRow("PRAGMA application_id").Scan(&appID)
	db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	if version != SchemaVersion() || appID != sqlite.ApplicationID || mode != "wal" {
		t.Errorf("user_version %d, application_id %#x, journal_mode %s", version, appID, mode)
	}
	db.Close()

	l, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer l.Close()
	err = l.View(context.Background(), func(tx *Tx) error {
		k, err := tx.Key("K-1")
		if err != nil {
			return err
		}
		if !k.SameSale(testKey("K-1")) {
			t.Errorf("key after reopen = %+v", k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, l)
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	l, path := openTest(t)
	l.Close()
	db := rawDB(t, path)
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(path)
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "99") {
		t.Fatalf("Open = %v, want ErrSchemaTooNew naming version 99", err)
	}
}

func TestOpenRefusesOtherDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db := rawDB(t, path)
	if _, err := db.Exec("CREATE TABLE customers (name TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path); !errors.Is(err, ErrNotLedger) {
		t.Fatalf("Open = %v, want ErrNotLedger", err)
	}
}

// TestOpenNeverCreates: only Create makes a ledger. A missing, empty or
// truncated file is refused by Open and OpenReadOnly and left as it was,
// so that a damaged ledger is never silently replaced by an empty one.
func TestOpenNeverCreates(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte("not a database, but text that is long enough to have a header\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, open := range []struct {
		name string
		fn   func(string, ...Option) (*Ledger, error)
	}{{"Open", Open}, {"OpenReadOnly", OpenReadOnly}} {
		t.Run(open.name, func(t *testing.T) {
			if _, err := open.fn(missing); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("missing file: %v, want fs.ErrNotExist", err)
			}
			if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a missing ledger was created")
			}
			if _, err := open.fn(empty); !errors.Is(err, ErrNotInitialised) {
				t.Errorf("empty file: %v, want ErrNotInitialised", err)
			}
			if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
				t.Errorf("the empty file was written to: %v %v", fi, err)
			}
			if _, err := open.fn(garbage); !errors.Is(err, ErrNotLedger) {
				t.Errorf("garbage file: %v, want ErrNotLedger", err)
			}
			if _, err := open.fn(dir); err == nil {
				t.Errorf("a directory opened as a ledger")
			}
		})
	}
	if _, err := Create(empty); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an empty file: %v, want fs.ErrExist", err)
	}
	l, err := Create(missing)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := Create(missing); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over a ledger: %v, want fs.ErrExist", err)
	}
}

// TestOpenReadOnly: a read-only ledger reads while another connection
// holds the write lock, and refuses to write.
func TestOpenReadOnly(t *testing.T) {
	l, path := openTest(t)
	putKeys(t, l, testKey("K-1"))
	writer := rawDB(t, path)
	conn, err := writer.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	ro, err := OpenReadOnly(path, WithBusyTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("OpenReadOnly while a writer holds the lock: %v", err)
	}
	defer ro.Close()
	if _, err := ro.Key(context.Background(), "K-1"); err != nil {
		t.Errorf("Key: %v", err)
	}
	if err := ro.Verify(context.Background()); err != nil {
		t.Errorf("Verify: %v", err)
	}
	err = ro.Update(context.Background(), testOperator, func(tx *Tx) error { return nil })
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("Update on a read-only ledger: %v", err)
	}

	// A writer waits, then says who holds the ledger.
	w, err := Open(path, WithBusyTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.Update(context.Background(), testOperator, func(tx *Tx) error { return nil })
	var busy *BusyError
	if !errors.As(err, &busy) || !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "another olr-sign holds the ledger; waited") {
		t.Errorf("Update while another holds the lock: %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("OLR_LEDGER", "/srv/olr/l.db")
	if p, _ := DefaultPath(); p != "/srv/olr/l.db" {
		t.Errorf("with OLR_LEDGER: %q", p)
	}
	t.Setenv("OLR_LEDGER", "")
	t.Setenv("XDG_DATA_HOME", "/data")
	if p, _ := DefaultPath(); p != "/data/olr/ledger.db" {
		t.Errorf("with XDG_DATA_HOME: %q", p)
	}
	t.Setenv("XDG_DATA_HOME", "relative")
	t.Setenv("HOME", "/home/u")
	if p, _ := DefaultPath(); p != "/home/u/.local/share/olr/ledger.db" {
		t.Errorf("default: %q", p)
	}
}

// update runs fn in Update as testOperator, failing the test on error.
func update(t testing.TB, l *Ledger, fn func(tx *Tx) error) {
	t.Helper()
	if err := l.Update(context.Background(), testOperator, fn); err != nil {
		t.Fatal(err)
	}
}

// activated returns a fresh ledger where K-1 is sold and activated.
func activated(t testing.TB) (*Ledger, *IssuedLicense) {
	t.Helper()
	l, _ := openTest(t)
	putKeys(t, l, testKey("K-1"))
	return l, activate(t, l, "K-1", "01")
}

func TestActivate(t *testing.T) { onEngines(t, testActivate) }

func testActivate(t *testing.T) {
	l, lic := activated(t)
	if lic.Status != LicenseActive || lic.Operator != testOperator || lic.Key != "K-1" {
		t.Errorf("issued license = %+v", lic)
	}
	update(t, l, func(tx *Tx) error {
		st, err := tx.KeyState("K-1", lic.RequestID)
		if err != nil {
			return err
		}
		if st.Sold == nil || st.Active == nil || st.ActiveLicense.ID != lic.ID || st.Answer.ID != lic.ID || st.AnswerActivation.ID != st.Active.ID {
			t.Errorf("KeyState = %+v", st)
		}
		return nil
	})
	verifyOK(t, l)
}

func TestActivateStorageInvariants(t *testing.T) { onEngines(t, testActivateStorageInvariants) }

func testActivateStorageInvariants(t *testing.T) {
	l, lic1 := activated(t)
	tests := []struct {
		name    string
		key, n  string
		edit    func(*IssuedLicense)
		wantErr error
	}{
		{name: "one active activation per key", key: "K-1", n: "02", wantErr: ErrAlreadyActive},
		{name: "unknown key", key: "K-9", n: "01", wantErr: ErrNotFound},
		{name: "keys are case sensitive", key: "k-1", n: "01", wantErr: ErrNotFound},
		{name: "request ID recorded once", key: "K-1", n: "01",
			edit: func(lic *IssuedLicense) { lic.ID = "L-other" }, wantErr: ErrDuplicate},
		{name: "license ID recorded once", key: "K-1", n: "03",
			edit: func(lic *IssuedLicense) { lic.ID = lic1.ID }, wantErr: ErrDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, lic := newActivation(tt.key, tt.n)
			if tt.edit != nil {
				tt.edit(lic)
			}
			err := l.Update(context.Background(), testOperator, func(tx *Tx) error {
				if tt.wantErr == ErrDuplicate {
					// Free the key, so that only the ID is in the way.
					if err := tx.Supersede(lic1.ID); err != nil {
						return err
					}
				}
				return tx.Activate(a, lic)
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Activate = %v, want %v", err, tt.wantErr)
			}
		})
	}
	verifyOK(t, l)
}

func TestReplayFindsLicense(t *testing.T) { onEngines(t, testReplayFindsLicense) }

func testReplayFindsLicense(t *testing.T) {
	l, lic1 := activated(t)
	err := l.View(context.Background(), func(tx *Tx) error {
		got, err := tx.LicenseByRequest(lic1.RequestID)
		if err != nil {
			return err
		}
		if got.ID != lic1.ID || string(got.File) != string(lic1.File) {
			t.Errorf("LicenseByRequest = %+v", got)
		}
		st, err := tx.KeyState("K-1", lic1.RequestID)
		if err != nil {
			return err
		}
		if st.Answer == nil || st.Answer.ID != lic1.ID || string(st.AnswerActivation.Fingerprint) == "" {
			t.Errorf("KeyState of a replay = %+v", st)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReissue(t *testing.T) { onEngines(t, testReissue) }

func testReissue(t *testing.T) {
	l, lic1 := activated(t)
	a2, lic2 := newActivation("K-1", "02")
	update(t, l, func(tx *Tx) error {
		cur, err := tx.ActiveActivation("K-1")
		if err != nil {
			return err
		}
		if cur.LicenseID != lic1.ID {
			t.Errorf("active activation is for %s", cur.LicenseID)
		}
		if err := tx.Supersede(cur.LicenseID); err != nil {
			return err
		}
		return tx.Activate(a2, lic2)
	})
	wantHistory(t, l, "superseded,active", "key.create,activate,supersede,activate")
}

func TestTransfer(t *testing.T) { onEngines(t, testTransfer) }

func testTransfer(t *testing.T) {
	for _, revokeOld := range []bool{false, true} {
		t.Run(fmt.Sprintf("revokeOld=%v", revokeOld), func(t *testing.T) {
			l, lic1 := activated(t)
			a2, lic2 := newActivation("K-1", "02")
			var tr *Transfer
			err := l.Update(context.Background(), "bob", func(tx *Tx) error {
				var err error
				tr, err = tx.Transfer("mainboard replaced, ticket 4711", a2, lic2, revokeOld)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if tr.FromLicense != lic1.ID || tr.ToLicense != lic2.ID || tr.Operator != "bob" {
				t.Errorf("transfer = %+v", tr)
			}
			wantStatus := LicenseSuperseded
			wantActions := "key.create,activate,transfer"
			if revokeOld {
				wantStatus = LicenseRevoked
				wantActions += ",revoke"
			}
			wantHistory(t, l, "transferred-away,active", wantActions)
			err = l.View(context.Background(), func(tx *Tx) error {
				old, err := tx.License(lic1.ID)
				if err != nil {
					return err
				}
				if old.Status != wantStatus {
					t.Errorf("old license is %s, want %s", old.Status, wantStatus)
				}
				trs, err := tx.Transfers("K-1")
				if err != nil || len(trs) != 1 || trs[0].Reason != "mainboard replaced, ticket 4711" {
					t.Errorf("Transfers = %+v, %v", trs, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRevokeAndCRLNumbers(t *testing.T) { onEngines(t, testRevokeAndCRLNumbers) }

func testRevokeAndCRLNumbers(t *testing.T) {
	l, lic1 := activated(t)
	var crl1, crl2 uint64
	err := l.Update(context.Background(), "carol", func(tx *Tx) error {
		if _, err := tx.Revoke(lic1.ID, "chargeback"); err != nil {
			return err
		}
		if _, err := tx.Revoke(lic1.ID, "again"); !errors.Is(err, ErrDuplicate) {
			t.Errorf("second revocation: %v", err)
		}
		var err error
		if crl1, err = tx.NextCRLNumber(); err != nil {
			return err
		}
		crl2, err = tx.NextCRLNumber()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if crl1 != 1 || crl2 != 2 {
		t.Errorf("CRL numbers %d, %d", crl1, crl2)
	}
	wantHistory(t, l, "revoked", "key.create,activate,revoke,crl.number,crl.number")
	err = l.View(context.Background(), func(tx *Tx) error {
		if _, err := tx.ActiveActivation("K-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ActiveActivation after revocation: %v", err)
		}
		revs, err := tx.Revocations()
		if err != nil || len(revs) != 1 || revs[0].Operator != "carol" || revs[0].Reason != "chargeback" {
			t.Errorf("Revocations = %+v, %v", revs, err)
		}
		if _, err := tx.PutKey(testKey("X")); !errors.Is(err, ErrReadOnly) {
			t.Errorf("PutKey in View: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// After a revocation the key may be activated again.
	activate(t, l, "K-1", "04")
	verifyOK(t, l)
}

// wantHistory checks K-1's activation states and the audit log's actions.
func wantHistory(t *testing.T, l *Ledger, states, actions string) {
	t.Helper()
	err := l.View(context.Background(), func(tx *Tx) error {
		acts, err := tx.Activations("K-1")
		if err != nil {
			return err
		}
		var got []string
		for _, a := range acts {
			got = append(got, string(a.State))
		}
		if g := strings.Join(got, ","); g != states {
			t.Errorf("activation states %s, want %s", g, states)
		}
		var acted []string
		err = tx.Audit(func(r *AuditRecord) error {
			acted = append(acted, r.Action)
			return nil
		})
		if g := strings.Join(acted, ","); g != actions {
			t.Errorf("audit actions\n got %s\nwant %s", g, actions)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, l)
}

func TestUpdateRollsBackOnError(t *testing.T) { onEngines(t, testUpdateRollsBackOnError) }

func testUpdateRollsBackOnError(t *testing.T) {
	l, _ := openTest(t)
	boom := errors.New("boom")
	err := l.Update(context.Background(), testOperator, func(tx *Tx) error {
		if _, err := tx.PutKey(testKey("K-1")); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update = %v", err)
	}
	err = l.View(context.Background(), func(tx *Tx) error {
		_, err := tx.Key("K-1")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("key after rollback: %v", err)
		}
		h, err := tx.Head()
		if h.Seq != 0 {
			t.Errorf("audit head after rollback: %d", h.Seq)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, l)
}

func TestUpdateRefusesBadOperator(t *testing.T) { onEngines(t, testUpdateRefusesBadOperator) }

func testUpdateRefusesBadOperator(t *testing.T) {
	l, _ := openTest(t)
	for _, op := range []string{"", " alice", "al\nice", "al\u202eice"} {
		if err := l.Update(context.Background(), op, func(*Tx) error { return nil }); err == nil {
			t.Errorf("operator %q accepted", op)
		}
	}
}

func TestLog(t *testing.T) { onEngines(t, testLog) }

func testLog(t *testing.T) {
	l, _ := openTest(t)
	err := l.Update(context.Background(), testOperator, func(tx *Tx) error {
		if err := tx.Log(ActionActivate, "K", nil); err == nil {
			t.Error("Log accepted a built-in action")
		}
		if err := tx.Log("refuse", "K", map[string]any{"rows": 1}); err == nil {
			t.Error("Log accepted reserved details")
		}
		return tx.Log("refuse", "K-1", map[string]any{"why": "meter key"})
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, l)
}

func ExampleLedger_Update() {
	dir, _ := os.MkdirTemp("", "ledger")
	defer os.RemoveAll(dir)
	l, err := Create(filepath.Join(dir, "ledger.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx := context.Background()
	keys, _ := ImportCSV(strings.NewReader("license_key,licensee,type,product,modules,languages,expires,maintenance\n" +
		"OEM-7F3A-22,Example Backup,oem,cbs,obm=50;m365=unlimited,en,,\n"))
	l.Update(ctx, "alice", func(tx *Tx) error {
		_, err := tx.ImportKeys("sales.csv", keys)
		return err
	})
	// An issuing decision (package signer makes it): read the key's
	// state once, decide, then make one write.
	err = l.Update(ctx, "alice", func(tx *Tx) error {
		st, err := tx.KeyState("OEM-7F3A-22", "req-1")
		if err != nil {
			return err
		}
		switch {
		case st.Sold == nil || st.Sold.Type != olr.TypeOEM:
			return errors.New("not an OEM key sold")
		case st.Answer != nil:
			return errors.New("request answered before")
		case st.Active != nil:
			return errors.New("key already active on another machine")
		}
		return tx.Activate(
			&Activation{Key: st.Sold.Key, Fingerprint: []byte(`{"mac":["52:54:00:12:34:56"]}`)},
			&IssuedLicense{ID: "lic-1", RequestID: "req-1", File: []byte("...")})
	})
	fmt.Println(err, l.Verify(ctx))
	// Output: <nil> <nil>
}

func hexString(h [32]byte) string { return fmt.Sprintf("%x", h[:]) }

// TestKeyStateAgreesWithItsParts: KeyState, one statement in the common
// case, returns what the single reads (Key, LicenseByRequest, PoolMember,
// ActiveActivation, License, ActivationByLicense) return, for keys sold
// or not, active, superseded, pooled or released, and requests answered
// or not, for this key or another.
func TestKeyStateAgreesWithItsParts(t *testing.T) { onEngines(t, testKeyStateAgreesWithItsParts) }

func testKeyStateAgreesWithItsParts(t *testing.T) {
	l, _ := openTest(t)
	putKeys(t, l, testKey("K-1"), testKey("K-2"), testKey("K-3"))
	activate(t, l, "K-1", "01")
	old := activate(t, l, "K-3", "01")
	update(t, l, func(tx *Tx) error { return tx.Supersede(old.ID) })
	activate(t, l, "K-3", "02")
	makePool(t, l, "p1", poolSource("S-1", map[string]Quota{"obm": 10}))
	for _, k := range []string{"I-1", "I-2"} {
		if err := issueFromPool(l, "p1", poolKey(k, map[string]Quota{"obm": 1})); err != nil {
			t.Fatal(err)
		}
	}
	update(t, l, func(tx *Tx) error { return tx.ReleasePoolKey("I-2") })
	activate(t, l, "I-1", "01")

	optional := func(err error) error {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	parts := func(tx *Tx, key, request string) (*KeyState, error) {
		var st KeyState
		var err error
		if st.Sold, err = tx.Key(key); optional(err) != nil {
			return nil, err
		}
		if st.Answer, err = tx.LicenseByRequest(request); optional(err) != nil {
			return nil, err
		}
		if st.Answer != nil {
			if st.AnswerActivation, err = tx.ActivationByLicense(st.Answer.ID); err != nil {
				return nil, err
			}
		}
		if st.Sold == nil {
			return &st, nil
		}
		if st.Pool, err = tx.PoolMember(key); optional(err) != nil {
			return nil, err
		}
		if st.Active, err = tx.ActiveActivation(key); optional(err) != nil {
			return nil, err
		}
		if st.Active != nil {
			if st.ActiveLicense, err = tx.License(st.Active.LicenseID); err != nil {
				return nil, err
			}
		}
		return &st, nil
	}
	err := l.View(context.Background(), func(tx *Tx) error {
		for _, key := range []string{"K-1", "K-2", "K-3", "K-9", "S-1", "I-1", "I-2"} {
			for _, request := range []string{"R-K-1-01", "R-K-3-01", "R-K-3-02", "R-I-1-01", "R-none"} {
				got, err := tx.KeyState(key, request)
				if err != nil {
					t.Fatalf("KeyState(%s, %s): %v", key, request, err)
				}
				want, err := parts(tx, key, request)
				if err != nil {
					t.Fatalf("%s, %s: %v", key, request, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("KeyState(%s, %s) = %+v, want %+v", key, request, got, want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
