package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

// installed returns a store with the test license installed.
func installed(t *testing.T) (*Store, *olr.Trust, *fingerprint.Fingerprint, time.Time) {
	t.Helper()
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	_, lic := olrtest.License(key, fp)
	s := Open(filepath.Join(t.TempDir(), "state"))
	now := olrtest.Epoch.Add(time.Hour)
	if _, err := s.Install(lic, olrtest.Trust(key), fp, now, nil); err != nil {
		t.Fatal(err)
	}
	return s, olrtest.Trust(key), fp, now
}

// A process that holds the lock makes a check fail after the wait, with
// a hint, instead of hanging the product's start.
func TestLockHeldFailsCheck(t *testing.T) {
	defer func(w time.Duration) { lockWait = w }(lockWait)
	lockWait = 200 * time.Millisecond
	s, trust, fp, now := installed(t)
	unlock, err := s.lock(true)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	start := time.Now()
	r, err := s.Check(trust, fp, now, nil)
	if !errors.Is(err, ErrLocked) || r.Usable() || Hint(err) == "" {
		t.Fatalf("check with the lock held: %s %v", r.Status, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("check took %v with a wait of %v", took, lockWait)
	}
	// A shared lock (a read) waits for the exclusive one too.
	if _, err := s.Evaluate(trust, fp, now, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("evaluate with the lock held: %v", err)
	}
}

// The lock file replaced by a FIFO or a directory fails a check at once.
func TestLockFileNotRegular(t *testing.T) {
	s, trust, fp, now := installed(t)
	path := filepath.Join(s.Dir, LockFile)
	os.Remove(path)
	os.Mkdir(path, 0o700)
	if r, err := s.Check(trust, fp, now, nil); err == nil || r.Status != olr.Invalid {
		t.Fatalf("lock file is a directory: %s %v", r.Status, err)
	}
}
