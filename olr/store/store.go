// Package store keeps the machine-side license state in a directory: the
// installed license.olr, the vendor's revoked.olr, and a small state file
// recording when the license was installed, the latest time a check saw
// (the clock floor), when this machine was first seen not matching the
// license (the start of its grace period), and the highest revocation
// list number installed.
//
// # Rules
//
//   - Only [Store.Install] (olr import) installs a license, and only one
//     that matches this machine now. A license.olr put into the directory
//     by other means is refused, and never earns a grace period.
//   - The clock floor only rises: a clock more than [RollbackTolerance]
//     behind it is refused, and re-importing a license keeps it.
//   - Revocation is checked wherever a license is checked (install, check,
//     what-if evaluation, and a license file verified beside the store),
//     against the newest revocation list installed. The state keeps that
//     list's number, so deleting revoked.olr or putting back an older one
//     makes checks fail instead of un-revoking a license.
//   - Every file is read with a size bound and only if it is a regular
//     file, so that a link to /dev/zero or a FIFO in the directory can
//     neither exhaust memory nor hang the product's start.
//   - Every write goes to a temporary file in the same directory, is
//     synced, and is renamed over the old file, so a crash leaves either
//     the old or the new file, never a part of one.
//
// The state is not authenticated: someone who can write the directory
// (root) can delete it or restore an older copy. SPEC.md says what that
// buys and what it does not.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/olr"
)

// File names inside the state directory.
const (
	LicenseFile     = "license.olr"
	StateFile       = "state.json"
	RevocationsFile = "revoked.olr"
)

// RollbackTolerance is how far the clock may go back behind the last check
// before the store calls it a rollback. It absorbs clock corrections; a
// clock set back by days to stretch a grace period or an expiry is caught.
const RollbackTolerance = 24 * time.Hour

// Store is a state directory.
type Store struct {
	Dir string
	// Clock is the real time, used where a what-if evaluation (Evaluate)
	// must still know when a drift was first seen; nil means time.Now.
	Clock func() time.Time
}

func (s *Store) realNow() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

// DefaultDir returns the state directory: $OLR_STATE, else /var/lib/olr
// for root, else $XDG_STATE_HOME/olr or ~/.local/state/olr.
func DefaultDir() string {
	if d := os.Getenv("OLR_STATE"); d != "" {
		return d
	}
	return PlatformDir()
}

// PlatformDir is DefaultDir without $OLR_STATE: /var/lib/olr for root,
// else $XDG_STATE_HOME/olr or ~/.local/state/olr.
func PlatformDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/olr"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "olr")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "olr")
	}
	return "olr-state"
}

// Open returns the store in dir; the directory is created on first write.
func Open(dir string) *Store { return &Store{Dir: dir} }

// Errors of the state directory. They reach callers wrapped in a
// [*StateError], which names the file and says how to repair it, and, from
// Check and Evaluate, inside the [*olr.VerifyError] of the result.
var (
	// ErrNotInstalled: no license is installed (Reason not-installed).
	ErrNotInstalled = errors.New("no license is installed")
	// ErrNotImported: license.olr is there, but olr import did not
	// install it: the state names another license or none (Reason
	// not-installed). Such a license never earns a grace period.
	ErrNotImported = errors.New("this license was not installed with olr import")
	// ErrDamaged: a state file is unreadable, too large, not a regular
	// file, or not valid (Reason malformed).
	ErrDamaged = errors.New("damaged state")
	// ErrRevocationsMissing: the state records a revocation list that
	// revoked.olr no longer holds (deleted, or replaced by an older one),
	// so no license can be judged (Reason malformed).
	ErrRevocationsMissing = errors.New("the installed revocation list is missing")
	// ErrOlderRevocations: a revocation list older than the one installed
	// was offered; an old list must never un-revoke a license.
	ErrOlderRevocations = errors.New("revocation list is older than the one installed")
)

// StateError reports a problem with a file of the state directory.
type StateError struct {
	// Path is the file, or the directory when no license is installed.
	Path string
	// Err wraps one of the package's Err values.
	Err error
	// Hint says how to repair it, for people; it may be empty.
	Hint string
}

func (e *StateError) Error() string {
	if e.Err == ErrNotInstalled {
		return e.Err.Error() + " in " + e.Path
	}
	return e.Path + ": " + e.Err.Error()
}
func (e *StateError) Unwrap() error { return e.Err }

// Hint returns the repair hint of the first *StateError in err's chain,
// or "".
func Hint(err error) string {
	var se *StateError
	if errors.As(err, &se) {
		return se.Hint
	}
	return ""
}

// Load reads the installed license and its state. It fails with
// ErrNotInstalled when there is no license.olr, ErrNotImported when the
// state does not name it as installed (checked again by Check once the
// license is parsed), and ErrDamaged for an unusable file.
func (s *Store) Load() ([]byte, *State, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	return s.load()
}

func (s *Store) load() ([]byte, *State, error) {
	path := filepath.Join(s.Dir, LicenseFile)
	lic, err := safefile.ReadFile(path, olr.MaxLicenseSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &StateError{Path: s.Dir, Err: ErrNotInstalled, Hint: "install one with olr import license.olr"}
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, nil, &StateError{Path: path, Err: fmt.Errorf("%w: %v", ErrDamaged, err),
			Hint: "import the license again with olr import license.olr"}
	}
	st, err := s.readState()
	if err != nil {
		return nil, nil, err
	}
	if st == nil || st.LicenseID == "" {
		return nil, nil, notImported(path, "the state records no installed license")
	}
	return lic, st, nil
}

func notImported(path, why string) error {
	return &StateError{Path: path, Err: fmt.Errorf("%w (%s)", ErrNotImported, why),
		Hint: "install it with olr import license.olr; only an imported license counts"}
}

// State returns the recorded state of the installed license.
func (s *Store) State() (*State, error) {
	_, st, err := s.Load()
	return st, err
}

// Install verifies license and, only if it is valid on this machine now
// (its hardware binding matches, and no installed revocation list revokes
// it), installs it. A license that does not match is refused: it never
// earns a grace period. Re-importing the installed license keeps its
// install time; the clock floor and the revocation list number are kept
// whatever is installed.
//
// A damaged state file is replaced: import is how a damaged state is
// repaired (its clock floor and revocation list number are then those of
// revoked.olr and now).
func (s *Store) Install(license []byte, trust *olr.Trust, fp *fingerprint.Fingerprint, now time.Time, opts *olr.VerifyOptions) (*olr.Result, error) {
	var o olr.VerifyOptions
	if opts != nil {
		o = *opts
	}
	o.MismatchSince = time.Time{}
	unlock, err := s.lock(true)
	if err != nil {
		return invalid(olr.ReasonMalformed, err)
	}
	defer unlock()
	old, serr := s.readState()
	if serr != nil {
		old = nil
	}
	revs, err := s.revocations(trust, old)
	if err != nil {
		return invalid(olr.ReasonMalformed, err)
	}
	o.Revocations = newest(o.Revocations, revs)
	res, err := olr.Verify(license, trust, fp, now, &o)
	if err != nil {
		return res, err
	}
	st := &State{LicenseID: res.License.ID, Installed: now.UTC(), LastSeen: now.UTC(), TPMPrivate: res.TPMPrivate}
	if old != nil {
		if now.Before(old.LastSeen.Add(-RollbackTolerance)) {
			return s.rollback(res, old)
		}
		st.LastSeen = later(old.LastSeen, st.LastSeen)
		st.RevocationList = old.RevocationList
		if old.LicenseID == st.LicenseID {
			st.Installed = old.Installed
		}
	}
	if revs != nil && revs.Number > st.RevocationList {
		st.RevocationList = revs.Number
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return res, err
	}
	// The license goes first: a crash between the two writes leaves the
	// new license with a state that names the old one, which Check
	// refuses until the license is imported again.
	if err := safefile.Replace(filepath.Join(s.Dir, LicenseFile), license, 0o644); err != nil {
		return res, err
	}
	if err := s.saveState(st); err != nil {
		return res, err
	}
	return res, nil
}

// Check verifies the installed license on this machine at now and records
// what it saw: the last-seen time, and the first time the machine stopped
// matching (the start of the grace period), cleared again when it matches.
// opts.Revocations, when set, is used if it is newer than the installed
// list; opts.MismatchSince is ignored (the state keeps it).
//
// It returns a Result in every case; with an Invalid status also an error,
// a *olr.VerifyError whose Reason says why (not-installed and malformed
// wrap a *StateError with a repair hint).
func (s *Store) Check(trust *olr.Trust, fp *fingerprint.Fingerprint, now time.Time, opts *olr.VerifyOptions) (*olr.Result, error) {
	return s.check(trust, fp, now, opts, true)
}

// Evaluate is Check without recording anything: what the verdict would be
// at another time (for "will it still be valid next month?"), or for
// another fingerprint.
func (s *Store) Evaluate(trust *olr.Trust, fp *fingerprint.Fingerprint, at time.Time, opts *olr.VerifyOptions) (*olr.Result, error) {
	return s.check(trust, fp, at, opts, false)
}

func (s *Store) check(trust *olr.Trust, fp *fingerprint.Fingerprint, now time.Time, opts *olr.VerifyOptions, record bool) (*olr.Result, error) {
	unlock, err := s.lock(record)
	if err != nil {
		return invalid(olr.ReasonMalformed, err)
	}
	defer unlock()
	lic, st, err := s.load()
	switch {
	case errors.Is(err, ErrNotInstalled), errors.Is(err, ErrNotImported):
		return invalid(olr.ReasonNotInstalled, err)
	case err != nil:
		return invalid(olr.ReasonMalformed, err)
	}
	var o olr.VerifyOptions
	if opts != nil {
		o = *opts
	}
	o.MismatchSince = time.Time{}
	revs, err := s.revocations(trust, st)
	if err != nil {
		return invalid(olr.ReasonMalformed, err)
	}
	o.Revocations = newest(o.Revocations, revs)
	o.TPMPrivate = st.TPMPrivate
	res, err := olr.Verify(lic, trust, fp, now, &o)
	if res.License != nil && res.License.ID != st.LicenseID {
		// Put in place by hand, or a crash during an import: either way
		// olr import did not install it, and it earns nothing.
		r, err := invalid(olr.ReasonNotInstalled, notImported(filepath.Join(s.Dir, LicenseFile),
			fmt.Sprintf("it is license %s; the state records license %s", res.License.ID, st.LicenseID)))
		r.License = res.License
		return r, err
	}
	if record && now.Before(st.LastSeen.Add(-RollbackTolerance)) {
		return s.rollback(res, st)
	}
	if res.TPMPrivate != nil {
		st.TPMPrivate = res.TPMPrivate // the TPM imported the key again
	}
	if res.License != nil && res.Match != nil && !res.Match.Pass {
		since := st.MismatchSince
		if since.IsZero() {
			// First seen now; a what-if at another time still counts
			// the grace period from the real present.
			since = now.UTC()
			if !record {
				since = s.realNow().UTC()
			}
		}
		err = res.GraceFrom(since, now)
		if record && st.MismatchSince.IsZero() && res.Status == olr.Grace {
			st.MismatchSince = since
		}
	} else if res.Status == olr.Valid {
		st.MismatchSince = time.Time{}
	}
	if record {
		st.LastSeen = later(st.LastSeen, now.UTC())
		if werr := s.saveState(st); werr != nil && err == nil {
			return res, fmt.Errorf("license checked, but recording its state failed: %w", werr)
		}
	}
	return res, err
}

// VerifyFile verifies a license file that is not (or not necessarily) the
// installed one, as olr verify --license does: against the installed
// revocation list (or opts.Revocations when newer), with no grace period
// (a license earns one only once installed), recording nothing.
func (s *Store) VerifyFile(license []byte, trust *olr.Trust, fp *fingerprint.Fingerprint, now time.Time, opts *olr.VerifyOptions) (*olr.Result, error) {
	var o olr.VerifyOptions
	if opts != nil {
		o = *opts
	}
	o.MismatchSince = time.Time{}
	unlock, err := s.lock(false)
	if err != nil {
		return invalid(olr.ReasonMalformed, err)
	}
	defer unlock()
	st, err := s.readState()
	if err != nil {
		return invalid(olr.ReasonMalformed, err)
	}
	revs, err := s.revocations(trust, st)
	if err != nil {
		return invalid(olr.ReasonMalformed, err)
	}
	o.Revocations = newest(o.Revocations, revs)
	return olr.Verify(license, trust, fp, now, &o)
}

// invalid is the result of a check that could not get as far as Verify.
func invalid(reason olr.Reason, err error) (*olr.Result, error) {
	r := &olr.Result{Status: olr.Invalid, Reason: reason, Err: &olr.VerifyError{Reason: reason, Err: err}}
	return r, r.Err
}

func (s *Store) rollback(res *olr.Result, st *State) (*olr.Result, error) {
	res.Status, res.Reason, res.GraceUntil = olr.Invalid, olr.ReasonClockRollback, time.Time{}
	res.Err = &olr.VerifyError{Reason: olr.ReasonClockRollback,
		Err: fmt.Errorf("the clock reads earlier than the last check at %s; set the clock right", st.LastSeen.Format(time.RFC3339))}
	return res, res.Err
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
