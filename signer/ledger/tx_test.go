package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestActivateRefusesBadInput(t *testing.T) { onEngines(t, testActivateRefusesBadInput) }

func testActivateRefusesBadInput(t *testing.T) {
	l, _ := openTest(t)
	putKeys(t, l, testKey("K-1"))
	cases := []struct {
		name string
		edit func(*Activation, *IssuedLicense)
		want string
	}{
		{"other key", func(a *Activation, l *IssuedLicense) { l.Key = "K-2" }, "name different keys"},
		{"other license", func(a *Activation, l *IssuedLicense) { a.LicenseID = "L-x" }, "names another license"},
		{"other request", func(a *Activation, l *IssuedLicense) { a.RequestID = "R-x" }, "different requests"},
		{"empty license ID", func(a *Activation, l *IssuedLicense) { l.ID = "" }, "license_id: is empty"},
		{"request ID with newline", func(a *Activation, l *IssuedLicense) { l.RequestID = "R\n" }, "request_id: contains control"},
		{"empty file", func(a *Activation, l *IssuedLicense) { l.File = nil }, "license_file"},
		{"fingerprint not JSON", func(a *Activation, l *IssuedLicense) { a.Fingerprint = []byte("mac=1") }, "fingerprint: is not a JSON"},
		{"fingerprint a string", func(a *Activation, l *IssuedLicense) { a.Fingerprint = []byte(`"x"`) }, "fingerprint: is not a JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, lic := newActivation("K-1", "01")
			tc.edit(a, lic)
			err := l.Update(context.Background(), testOperator, func(tx *Tx) error { return tx.Activate(a, lic) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Activate = %v, want %q", err, tc.want)
			}
		})
	}
	err := l.Update(context.Background(), testOperator, func(tx *Tx) error {
		a, lic := newActivation("K-1", "01")
		_, err := tx.Transfer("new board", a, lic, false)
		if !errors.Is(err, ErrNotActive) {
			t.Errorf("Transfer of an inactive key: %v", err)
		}
		if err := tx.Supersede("L-none"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Supersede of an unknown license: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, l)
}

func TestClockAndReads(t *testing.T) {
	at := time.Date(2026, 11, 27, 17, 0, 0, 123456789, time.FixedZone("CET", 3600))
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Create(path, WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Path() != path {
		t.Errorf("Path = %q", l.Path())
	}
	putKeys(t, l, testKey("K-2"), testKey("K-1"))
	lic := activate(t, l, "K-1", "01")
	if !lic.Issued.Equal(at) || lic.Issued.Location() != time.UTC {
		t.Errorf("issued %v", lic.Issued)
	}
	err = l.View(context.Background(), func(tx *Tx) error {
		keys, err := tx.Keys()
		if err != nil || len(keys) != 2 || keys[0].Key != "K-1" || !keys[0].Created.Equal(at) {
			t.Errorf("Keys = %+v, %v", keys, err)
		}
		a, err := tx.ActivationByLicense(lic.ID)
		if err != nil || a.Key != "K-1" || a.State != StateActive || !a.Ended.IsZero() {
			t.Errorf("ActivationByLicense = %+v, %v", a, err)
		}
		var fp map[string]any
		if err := json.Unmarshal(a.Fingerprint, &fp); err != nil || fp["machine-id"] != "m-01" {
			t.Errorf("fingerprint %s", a.Fingerprint)
		}
		return tx.Audit(func(r *AuditRecord) error {
			if !r.Time.Equal(at) {
				t.Errorf("audit time %v", r.Time)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestQuotaJSON(t *testing.T) {
	m := map[string]Quota{"obm": 50, "mobile": Unlimited, "nas": 0}
	b, err := json.Marshal(m)
	if err != nil || string(b) != `{"mobile":"unlimited","nas":0,"obm":50}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back map[string]Quota
	if err := json.Unmarshal(b, &back); err != nil || back["mobile"] != Unlimited || back["obm"] != 50 {
		t.Errorf("Unmarshal = %v, %v", back, err)
	}
	if Unlimited.String() != "unlimited" || Quota(7).String() != "7" {
		t.Error("Quota.String")
	}
	for _, bad := range []string{`-1`, `"Unlimited"`, `1.0`, `01`, `null`} {
		var q Quota
		if err := json.Unmarshal([]byte(bad), &q); err == nil {
			t.Errorf("Quota accepted %s", bad)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&ChainError{Seq: 17, Problem: "hash does not match its content (edited?)"}, "ledger: audit record 17: hash does not match its content (edited?)"},
		{&ChainError{Problem: "guard trigger x is missing"}, "ledger: guard trigger x is missing"},
		{&ValidationError{Record: "line 3", Field: "type", Err: errors.New("unknown")}, "ledger: line 3: type: unknown"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestFailedMethodLeavesNothing: a policy that ignores an error and
// commits must not commit half of a method's changes.
func TestFailedMethodLeavesNothing(t *testing.T) { onEngines(t, testFailedMethodLeavesNothing) }

func testFailedMethodLeavesNothing(t *testing.T) {
	l, _ := openTest(t)
	putKeys(t, l, testKey("K-1"))
	activate(t, l, "K-1", "01")
	err := l.Update(context.Background(), testOperator, func(tx *Tx) error {
		// Transfer ends the old activation, then fails on the new
		// license's duplicate request ID.
		a, lic := newActivation("K-1", "02")
		lic.RequestID = "R-K-1-01"
		if _, err := tx.Transfer("new board", a, lic, false); !errors.Is(err, ErrDuplicate) {
			t.Errorf("Transfer = %v, want ErrDuplicate", err)
		}
		return nil // commit anyway
	})
	if err != nil {
		t.Fatal(err)
	}
	err = l.View(context.Background(), func(tx *Tx) error {
		a, err := tx.ActiveActivation("K-1")
		if err != nil || a.LicenseID != "L-K-1-01" {
			t.Errorf("active activation after a failed transfer: %+v, %v", a, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, l)
}

// TestUpdateAllCommitsNothingAfterAFailure: in UpdateAll, a method that
// fails (here after its first write) keeps the whole transaction from
// committing, even if fn goes on and returns nil; the methods called
// after it fail too. A transaction without a failure commits.
func TestUpdateAllCommitsNothingAfterAFailure(t *testing.T) {
	onEngines(t, testUpdateAllCommitsNothingAfterAFailure)
}

func testUpdateAllCommitsNothingAfterAFailure(t *testing.T) {
	l, _ := openTest(t)
	ctx := context.Background()
	putKeys(t, l, testKey("K-1"), testKey("K-2"), testKey("K-3"))
	activate(t, l, "K-1", "01")
	before, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = l.UpdateAll(ctx, testOperator, func(tx *Tx) error {
		a, lic := newActivation("K-2", "01")
		if err := tx.Activate(a, lic); err != nil {
			t.Errorf("Activate K-2 = %v", err)
		}
		a, lic = newActivation("K-1", "02")
		lic.RequestID = "R-K-1-01"
		if _, err := tx.Transfer("new board", a, lic, false); !errors.Is(err, ErrDuplicate) {
			t.Errorf("Transfer = %v, want ErrDuplicate", err)
		}
		a, lic = newActivation("K-3", "01")
		if err := tx.Activate(a, lic); err == nil {
			t.Error("Activate after a failure succeeded")
		}
		return nil // commit anyway
	})
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("UpdateAll = %v, want the Transfer's ErrDuplicate", err)
	}
	if after, err := l.Head(ctx); err != nil || after != before {
		t.Errorf("head after a failed UpdateAll: %+v, was %+v (%v)", after, before, err)
	}
	err = l.View(ctx, func(tx *Tx) error {
		if a, err := tx.ActiveActivation("K-1"); err != nil || a.LicenseID != "L-K-1-01" {
			t.Errorf("K-1 after a failed UpdateAll: %+v, %v", a, err)
		}
		for _, k := range []string{"K-2", "K-3"} {
			if _, err := tx.ActiveActivation(k); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s activated by a failed UpdateAll: %v", k, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = l.UpdateAll(ctx, testOperator, func(tx *Tx) error {
		for _, k := range []string{"K-2", "K-3"} {
			a, lic := newActivation(k, "01")
			if err := tx.Activate(a, lic); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if after, err := l.Head(ctx); err != nil || after.Seq != before.Seq+2 {
		t.Errorf("head after UpdateAll: %+v, was %+v (%v)", after, before, err)
	}
	verifyOK(t, l)
}

// A method that fails after writing its audit record (Log, whose record
// a trigger refuses once inserted; an import refused at its second key,
// after the first was audited) leaves the head where it was: the next
// record chains to the last one that stayed, and the ledger verifies.
func TestFailedMethodKeepsAuditHead(t *testing.T) {
	l, path := openTest(t)
	ctx := context.Background()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER test_fail AFTER INSERT ON audit
		WHEN NEW.action = 'test.fail'
		BEGIN SELECT RAISE(ABORT, 'test: refused'); END`); err != nil {
		t.Fatal(err)
	}
	keys := []string{"HEAD-1", "HEAD-2"}
	err = l.Update(ctx, testOperator, func(tx *Tx) error {
		for _, k := range keys {
			if _, err := tx.PutKey(testKey(k)); err != nil {
				return err
			}
		}
		a, lic := benchActivation(keys[0])
		if err := tx.Activate(a, lic); err != nil {
			return err
		}
		before, err := tx.Head()
		if err != nil {
			return err
		}
		if err := tx.Log("test.fail", "x", nil); err == nil {
			t.Error("Log succeeded despite the trigger")
		}
		if after, err := tx.Head(); err != nil || after != before {
			t.Errorf("head after a failed Log: %+v, was %+v (%v)", after, before, err)
		}
		// An import whose second key is refused after the first was
		// recorded and audited.
		if _, err := tx.ImportKeys("test", []SoldKey{*testKey("HEAD-3"), {Key: "HEAD-4"}}); err == nil {
			t.Error("an import of an invalid key succeeded")
		}
		if after, err := tx.Head(); err != nil || after != before {
			t.Errorf("head after a failed import: %+v, was %+v (%v)", after, before, err)
		}
		a2, lic2 := benchActivation(keys[1])
		return tx.Activate(a2, lic2)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TRIGGER test_fail`); err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
