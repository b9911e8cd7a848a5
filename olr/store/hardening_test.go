package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
	"github.com/olr-dev/olr/olr/store"
)

// otherLicense is a license for fp with another ID, signed by key.
func otherLicense(t *testing.T, fp *fingerprint.Fingerprint) []byte {
	t.Helper()
	l, _ := olrtest.License(olrtest.Key("vendor"), fp)
	l.ID = "00000000000000000000000000000abc"
	data, err := olr.Sign(l, olrtest.Key("vendor"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLicenseNotImportedEarnsNothing(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(st.Dir, store.StateFile))
	// Another license for a machine that shares the NICs with this one
	// (a partial match, which an installed license would get grace for)
	// put into the directory by hand.
	os.WriteFile(filepath.Join(st.Dir, store.LicenseFile), otherLicense(t, fp), 0o644)
	drifted := olrtest.Only(fp, fingerprint.KindMAC)
	for _, check := range []func() (*olr.Result, error){
		func() (*olr.Result, error) { return st.Check(trust, drifted, now.Add(time.Hour), nil) },
		func() (*olr.Result, error) { return st.Check(trust, fp, now.Add(time.Hour), nil) },
		func() (*olr.Result, error) { return st.Evaluate(trust, drifted, now.Add(time.Hour), nil) },
	} {
		r, err := check()
		if !errors.Is(err, store.ErrNotImported) || r.Reason != olr.ReasonNotInstalled || r.Status != olr.Invalid || !r.GraceUntil.IsZero() {
			t.Fatalf("license put in by hand: %s %s %v", r.Status, r.Reason, err)
		}
		if store.Hint(err) == "" {
			t.Error("no hint to import it")
		}
	}
	if after, _ := os.ReadFile(filepath.Join(st.Dir, store.StateFile)); string(after) != string(before) {
		t.Fatalf("the state was rewritten for a license that was not imported:\n%s", after)
	}
	// No state at all, or a state without a license: refused alike.
	os.WriteFile(filepath.Join(st.Dir, store.StateFile), []byte(`{"last_seen":"2026-01-15T10:30:00Z"}`), 0o600)
	if r, err := st.Check(trust, drifted, now.Add(time.Hour), nil); !errors.Is(err, store.ErrNotImported) || r.Status != olr.Invalid {
		t.Fatalf("state without a license: %s %v", r.Status, err)
	}
	os.Remove(filepath.Join(st.Dir, store.StateFile))
	if r, err := st.Check(trust, drifted, now.Add(time.Hour), nil); !errors.Is(err, store.ErrNotImported) || r.Status != olr.Invalid {
		t.Fatalf("no state: %s %v", r.Status, err)
	}
	// Importing it makes it count.
	if _, err := st.Install(otherLicense(t, fp), trust, fp, now.Add(2*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Check(trust, drifted, now.Add(3*time.Hour), nil); err != nil || r.Status != olr.Grace {
		t.Fatalf("imported, then drifted: %s %v", r.Status, err)
	}
}

func TestReinstallKeepsClockFloor(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	seen := now.Add(20 * time.Hour)
	if _, err := st.Check(trust, fp, seen, nil); err != nil {
		t.Fatal(err)
	}
	// The clock set back by 20 hours (within the tolerance), and the same
	// license imported again: the floor stays where the check left it.
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	s, err := st.State()
	if err != nil {
		t.Fatal(err)
	}
	if !s.LastSeen.Equal(seen) || !s.Installed.Equal(now) {
		t.Fatalf("after re-import: last seen %v (want %v), installed %v", s.LastSeen, seen, s.Installed)
	}
	// Another license keeps the floor too, with its own install time.
	if _, err := st.Install(otherLicense(t, fp), trust, fp, now.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.State(); !s.LastSeen.Equal(seen) || !s.Installed.Equal(now.Add(time.Hour)) {
		t.Fatalf("after another import: last seen %v, installed %v", s.LastSeen, s.Installed)
	}
	// Beyond the tolerance the import is refused.
	st.Check(trust, fp, now.Add(10*24*time.Hour), nil)
	if r, err := st.Install(lic, trust, fp, now.Add(8*24*time.Hour), nil); err == nil || r.Reason != olr.ReasonClockRollback {
		t.Fatalf("import with the clock set back two days: %v", err)
	}
}

func TestRevocationsKeptInState(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	key := olrtest.Key("vendor")
	l, _ := olrtest.License(key, fp)
	list := func(n uint64, ids ...string) []byte {
		data, err := olr.SignRevocationList(&olr.RevocationList{KeyID: l.KeyID, Number: n, Issued: now, Revoked: ids}, key)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	// A list installed before any license is kept, and applies to the
	// import and to a license file verified beside the store.
	if _, err := st.InstallRevocations(list(3, l.ID), trust); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Install(lic, trust, fp, now, nil); r.Reason != olr.ReasonRevoked {
		t.Fatalf("import of a revoked license: %s %v", r.Reason, err)
	}
	if r, err := st.VerifyFile(lic, trust, fp, now, nil); r.Reason != olr.ReasonRevoked {
		t.Fatalf("verify of a revoked license file: %s %v", r.Reason, err)
	}
	// Deleting the list does not un-revoke: the state remembers list 3.
	os.Remove(filepath.Join(st.Dir, store.RevocationsFile))
	if r, err := st.VerifyFile(lic, trust, fp, now, nil); !errors.Is(err, store.ErrRevocationsMissing) || r.Usable() {
		t.Fatalf("verify with the list deleted: %s %v", r.Status, err)
	}
	if _, err := st.Install(lic, trust, fp, now, nil); !errors.Is(err, store.ErrRevocationsMissing) {
		t.Fatalf("import with the list deleted: %v", err)
	}
	// Nor does an older list, installed or put in place.
	if _, err := st.InstallRevocations(list(2), trust); !errors.Is(err, store.ErrOlderRevocations) {
		t.Fatalf("older list after the newer was deleted: %v", err)
	}
	os.WriteFile(filepath.Join(st.Dir, store.RevocationsFile), list(2), 0o644)
	if _, err := st.VerifyFile(lic, trust, fp, now, nil); !errors.Is(err, store.ErrRevocationsMissing) {
		t.Fatalf("verify with an older list put back: %v", err)
	}
	// The same list again repairs it; a newer one that un-revokes the
	// license lets it in.
	if _, err := st.InstallRevocations(list(3, l.ID), trust); err != nil {
		t.Fatal(err)
	}
	if _, err := st.InstallRevocations(list(4), trust); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	// A newer list given by the caller (olr verify --crl) applies to
	// checks without being installed; an older one changes nothing.
	withList := &olr.VerifyOptions{}
	withList.Revocations, _ = olr.ParseRevocationList(list(5, l.ID), trust)
	if r, _ := st.Check(trust, fp, now, withList); r.Reason != olr.ReasonRevoked {
		t.Fatalf("check with a newer list given: %s", r.Reason)
	}
	if r, _ := st.VerifyFile(lic, trust, fp, now, withList); r.Reason != olr.ReasonRevoked {
		t.Fatalf("verify with a newer list given: %s", r.Reason)
	}
	withList.Revocations, _ = olr.ParseRevocationList(list(1, l.ID), trust)
	if r, err := st.Check(trust, fp, now, withList); err != nil {
		t.Fatalf("check with an older list given: %s %v", r.Reason, err)
	}
	if s, _ := st.State(); s.RevocationList != 4 {
		t.Fatalf("state records list %d, want 4", s.RevocationList)
	}
}

// TestImportWhileChecking imports two licenses in turn while checks run:
// with the directory's lock no check sees one license with the state of
// the other (which would refuse it as not imported), and no check writes
// back the state of a license an import replaced.
func TestImportWhileChecking(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	other := otherLicense(t, fp)
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(done)
		for i := range 40 {
			l := lic
			if i%2 == 0 {
				l = other
			}
			if _, err := st.Install(l, trust, fp, now, nil); err != nil {
				errs <- err
				return
			}
		}
	}()
	for checking := true; checking; {
		select {
		case <-done:
			checking = false
		default:
		}
		if r, err := st.Check(trust, fp, now, nil); err != nil {
			t.Fatalf("check during imports: %s %v", r.Reason, err)
		}
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if r, err := st.Check(trust, fp, now, nil); err != nil || r.License.ID != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("after the imports: %v", err)
	}
}
