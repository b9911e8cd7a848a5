package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testOperator = "alice@vendor.example"

func openTest(t testing.TB) (*Ledger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func testKey(key string) *SoldKey {
	return &SoldKey{
		Key: key, Licensee: "Example Backup, Ltd.", Type: TypeOEM, Product: "cbs",
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
	l, err := Open(path)
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
	if version != SchemaVersion() || appID != applicationID || mode != "wal" {
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
		if !k.sameContent(testKey("K-1")) {
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

func TestActivationLifecycle(t *testing.T) {
	l, _ := openTest(t)
	ctx := context.Background()
	meter := testKey("M-1")
	meter.Type = TypeMeter
	putKeys(t, l, testKey("K-1"), meter)

	lic1 := activate(t, l, "K-1", "01")
	if lic1.Status != LicenseActive || lic1.Operator != testOperator || lic1.Key != "K-1" {
		t.Errorf("issued license = %+v", lic1)
	}

	// One key, one machine.
	a, lic := newActivation("K-1", "02")
	err := l.Update(ctx, testOperator, func(tx *Tx) error { return tx.Activate(a, lic) })
	if !errors.Is(err, ErrAlreadyActive) {
		t.Fatalf("second activation: %v, want ErrAlreadyActive", err)
	}
	// Only OEM keys.
	a, lic = newActivation("M-1", "01")
	err = l.Update(ctx, testOperator, func(tx *Tx) error { return tx.Activate(a, lic) })
	if !errors.Is(err, ErrOfflineNotAllowed) {
		t.Fatalf("meter activation: %v, want ErrOfflineNotAllowed", err)
	}
	// Unknown keys; keys are case sensitive.
	a, lic = newActivation("k-1", "01")
	err = l.Update(ctx, testOperator, func(tx *Tx) error { return tx.Activate(a, lic) })
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v, want ErrNotFound", err)
	}

	// A replayed request finds its license; recording it again is refused.
	err = l.Update(ctx, testOperator, func(tx *Tx) error {
		got, err := tx.LicenseByRequest(lic1.RequestID)
		if err != nil {
			return err
		}
		if got.ID != lic1.ID || string(got.File) != string(lic1.File) {
			t.Errorf("LicenseByRequest = %+v", got)
		}
		if err := tx.Supersede(lic1.ID); err != nil {
			return err
		}
		a, lic := newActivation("K-1", "01")
		lic.ID = "L-other"
		if err := tx.Activate(a, lic); !errors.Is(err, ErrDuplicate) {
			t.Errorf("replayed request ID: %v, want ErrDuplicate", err)
		}
		return errors.New("roll back")
	})
	if err == nil || err.Error() != "roll back" {
		t.Fatal(err)
	}

	// Lost file: same machine asks again.
	a2, lic2 := newActivation("K-1", "02")
	err = l.Update(ctx, testOperator, func(tx *Tx) error {
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
	if err != nil {
		t.Fatal(err)
	}

	// Transfer to new hardware.
	a3, lic3 := newActivation("K-1", "03")
	var tr *Transfer
	err = l.Update(ctx, "bob", func(tx *Tx) error {
		var err error
		tr, err = tx.Transfer("mainboard replaced, ticket 4711", a3, lic3)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if tr.FromLicense != lic2.ID || tr.ToLicense != lic3.ID || tr.Operator != "bob" {
		t.Errorf("transfer = %+v", tr)
	}

	// Revoke the old and the current license; CRL numbers grow.
	var crl1, crl2 uint64
	err = l.Update(ctx, "carol", func(tx *Tx) error {
		if _, err := tx.Revoke(lic2.ID, "transferred away"); err != nil {
			return err
		}
		if _, err := tx.Revoke(lic3.ID, "chargeback"); err != nil {
			return err
		}
		if _, err := tx.Revoke(lic3.ID, "again"); !errors.Is(err, ErrDuplicate) {
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

	err = l.View(ctx, func(tx *Tx) error {
		acts, err := tx.Activations("K-1")
		if err != nil {
			return err
		}
		var states []string
		for _, a := range acts {
			states = append(states, string(a.State))
		}
		if got := strings.Join(states, ","); got != "superseded,transferred-away,revoked" {
			t.Errorf("activation states %s", got)
		}
		if _, err := tx.ActiveActivation("K-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ActiveActivation after revocation: %v", err)
		}
		revs, err := tx.Revocations()
		if err != nil || len(revs) != 2 || revs[1].Operator != "carol" {
			t.Errorf("Revocations = %+v, %v", revs, err)
		}
		lics, err := tx.Licenses("K-1")
		if err != nil || len(lics) != 3 || lics[0].Status != LicenseSuperseded || lics[2].Status != LicenseRevoked {
			t.Errorf("Licenses = %+v, %v", lics, err)
		}
		trs, err := tx.Transfers("K-1")
		if err != nil || len(trs) != 1 || trs[0].Reason != "mainboard replaced, ticket 4711" {
			t.Errorf("Transfers = %+v, %v", trs, err)
		}
		if _, err := tx.PutKey(testKey("X")); !errors.Is(err, ErrReadOnly) {
			t.Errorf("PutKey in View: %v", err)
		}
		var actions []string
		err = tx.Audit(func(r *AuditRecord) error {
			actions = append(actions, r.Action)
			return nil
		})
		want := "key.create,key.create,activate,supersede,activate,transfer,revoke,revoke,crl.number,crl.number"
		if got := strings.Join(actions, ","); got != want {
			t.Errorf("audit actions\n got %s\nwant %s", got, want)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// After a revocation the key may be activated again.
	activate(t, l, "K-1", "04")
	verifyOK(t, l)
}

func TestUpdateRollsBackOnError(t *testing.T) {
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

func TestUpdateRefusesBadOperator(t *testing.T) {
	l, _ := openTest(t)
	for _, op := range []string{"", " alice", "al\nice", "al\u202eice"} {
		if err := l.Update(context.Background(), op, func(*Tx) error { return nil }); err == nil {
			t.Errorf("operator %q accepted", op)
		}
	}
}

func TestLog(t *testing.T) {
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
	l, err := Open(filepath.Join(dir, "ledger.db"))
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
	// The issuing policy: check the key, the current activation, record.
	err = l.Update(ctx, "alice", func(tx *Tx) error {
		k, err := tx.Key("OEM-7F3A-22")
		if err != nil {
			return err
		}
		if !k.Type.OfflineActivation() {
			return fmt.Errorf("%s keys cannot be activated offline", k.Type)
		}
		if _, err := tx.ActiveActivation(k.Key); err == nil {
			return errors.New("key already active on another machine")
		}
		return tx.Activate(
			&Activation{Key: k.Key, Fingerprint: []byte(`{"mac":["52:54:00:12:34:56"]}`)},
			&IssuedLicense{ID: "lic-1", RequestID: "req-1", File: []byte("...")})
	})
	fmt.Println(err, l.Verify(ctx))
	// Output: <nil> <nil>
}

func hexString(h [32]byte) string { return fmt.Sprintf("%x", h[:]) }
