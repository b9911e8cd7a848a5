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

func setup(t *testing.T) (*store.Store, *olr.Trust, *fingerprint.Fingerprint, []byte, time.Time) {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	_, lic := olrtest.License(key, fp)
	return store.Open(filepath.Join(t.TempDir(), "state")), olrtest.Trust(key), fp, lic, olrtest.Epoch.Add(time.Hour)
}

func TestInstallRefusesOtherMachine(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	other := olrtest.Only(fp, fingerprint.KindIP) // shares only an address
	res, err := st.Install(lic, trust, other, now, nil)
	if err == nil || res.Reason != olr.ReasonHardwareMismatch {
		t.Fatalf("install on another machine: %v", err)
	}
	if _, err := os.Stat(filepath.Join(st.Dir, store.LicenseFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused license was written")
	}
	// Even a drifted-looking machine cannot install: grace is earned only
	// after a match.
	if _, err := st.Install(lic, trust, olrtest.Only(fp, fingerprint.KindMAC), now, nil); err == nil {
		t.Fatal("installed a license that does not match")
	}
}

func TestDriftGraceAndRecovery(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Check(trust, fp, now.Add(time.Minute), nil); err != nil || r.Status != olr.Valid {
		t.Fatalf("check after install: %v", err)
	}
	drifted := olrtest.Only(fp, fingerprint.KindMAC, fingerprint.KindIP)
	day := 24 * time.Hour
	first := now.Add(day)
	r, err := st.Check(trust, drifted, first, nil)
	if err != nil || r.Status != olr.Grace || !r.GraceUntil.Equal(first.Add(14*day)) {
		t.Fatalf("first drift: %s %v until %v", r.Status, err, r.GraceUntil)
	}
	// The grace period runs from the first mismatch, not the latest check.
	r, err = st.Check(trust, drifted, first.Add(10*day), nil)
	if err != nil || r.Status != olr.Grace || !r.GraceUntil.Equal(first.Add(14*day)) {
		t.Fatalf("later drift: %s %v until %v", r.Status, err, r.GraceUntil)
	}
	// What-if evaluation past the deadline records nothing.
	if r, _ := st.Evaluate(trust, drifted, first.Add(15*day), nil); r.Reason != olr.ReasonGraceExpired {
		t.Fatalf("evaluate after deadline: %s", r.Reason)
	}
	s, _ := st.State()
	if !s.LastSeen.Equal(first.Add(10 * day)) {
		t.Fatalf("Evaluate recorded last-seen %v", s.LastSeen)
	}
	// Back to the original hardware: valid, and the mismatch is forgotten.
	if r, err := st.Check(trust, fp, first.Add(11*day), nil); err != nil || r.Status != olr.Valid {
		t.Fatalf("recovered: %s %v", r.Status, err)
	}
	if s, _ := st.State(); !s.MismatchSince.IsZero() {
		t.Fatal("mismatch time not cleared after a match")
	}
	// A new drift starts a new grace period; it ends after 14 days.
	second := first.Add(12 * day)
	st.Check(trust, drifted, second, nil)
	if r, err := st.Check(trust, drifted, second.Add(14*day), nil); err == nil || r.Reason != olr.ReasonGraceExpired {
		t.Fatalf("after the grace period: %s %v", r.Reason, err)
	}
}

func TestCopiedStateNeverEarnsGrace(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	// The state directory copied to a machine with nothing in common but
	// an IP address.
	r, err := st.Check(trust, olrtest.Only(fp, fingerprint.KindIP), now.Add(time.Hour), nil)
	if err == nil || r.Reason != olr.ReasonHardwareMismatch {
		t.Fatalf("copied state: %s %v", r.Status, err)
	}
}

func TestClockRollback(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	st.Check(trust, fp, now.Add(30*24*time.Hour), nil)
	if r, err := st.Check(trust, fp, now.Add(2*24*time.Hour), nil); err == nil || r.Reason != olr.ReasonClockRollback {
		t.Fatalf("rolled-back clock: %s %v", r.Reason, err)
	}
	// Small corrections are tolerated.
	if _, err := st.Check(trust, fp, now.Add(30*24*time.Hour-time.Hour), nil); err != nil {
		t.Fatalf("one hour back: %v", err)
	}
}

func TestCheckNotInstalledAndCorrupt(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	if r, err := st.Check(trust, fp, now, nil); err == nil || r.Reason != olr.ReasonNotInstalled {
		t.Fatalf("empty store: %v", err)
	}
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(st.Dir, store.StateFile), []byte("{not json"), 0o600)
	if _, err := st.Check(trust, fp, now, nil); err == nil {
		t.Fatal("corrupt state accepted")
	}
}

func TestRevocations(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	key := olrtest.Key("vendor")
	l, _ := olrtest.License(key, fp)
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	list := func(n uint64, ids ...string) []byte {
		data, err := olr.SignRevocationList(&olr.RevocationList{KeyID: l.KeyID, Number: n, Issued: now, Revoked: ids}, key)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if _, err := st.InstallRevocations(list(2, "00000000000000000000000000000001"), trust); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Check(trust, fp, now, nil); err != nil || r.Status != olr.Valid {
		t.Fatalf("not revoked yet: %v", err)
	}
	if _, err := st.InstallRevocations(list(3, l.ID), trust); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Check(trust, fp, now, nil); err == nil || r.Reason != olr.ReasonRevoked {
		t.Fatalf("revoked license: %s %v", r.Reason, err)
	}
	// An older list cannot un-revoke it.
	if _, err := st.InstallRevocations(list(2), trust); !errors.Is(err, store.ErrOlderRevocations) {
		t.Fatalf("older list: %v", err)
	}
	// Nor can the license be installed again.
	if r, err := st.Install(lic, trust, fp, now, nil); err == nil || r.Reason != olr.ReasonRevoked {
		t.Fatalf("re-install of a revoked license: %v", err)
	}
}

func TestEvaluateCountsGraceFromNow(t *testing.T) {
	st, trust, fp, lic, now := setup(t)
	st.Clock = func() time.Time { return now.Add(time.Hour) }
	if _, err := st.Install(lic, trust, fp, now, nil); err != nil {
		t.Fatal(err)
	}
	drifted := olrtest.Only(fp, fingerprint.KindMAC)
	// A drift not yet recorded started no later than now: 100 days ahead
	// it is over, not "first seen then".
	if r, _ := st.Evaluate(trust, drifted, now.Add(100*24*time.Hour), nil); r.Reason != olr.ReasonGraceExpired {
		t.Fatalf("what-if far ahead: %s", r.Reason)
	}
}
