// Package store keeps the machine-side license state in a directory: the
// installed license.olr and a small state file recording when the license
// was installed, when it was last checked, and when this machine was first
// seen not matching it (the start of its grace period).
//
// Every write goes to a temporary file in the same directory, is synced,
// and is renamed over the old file, so a crash leaves either the old or
// the new state, never a partial file.
package store

import (
	"bytes"
	"encoding/json"
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

// State is the content of state.json.
type State struct {
	LicenseID     string    `json:"license_id"`
	Installed     time.Time `json:"installed"`
	LastSeen      time.Time `json:"last_seen"`
	MismatchSince time.Time `json:"mismatch_since,omitzero"`
}

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

// ErrNotInstalled is returned when no license is installed.
var ErrNotInstalled = errors.New("no license is installed")

// Load reads the installed license and its state.
func (s *Store) Load() ([]byte, *State, error) {
	lic, err := os.ReadFile(filepath.Join(s.Dir, LicenseFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w in %s", ErrNotInstalled, s.Dir)
	}
	if err != nil {
		return nil, nil, err
	}
	st := &State{}
	path := filepath.Join(s.Dir, StateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("license installed but its state is unreadable (%v): import the license again with olr import", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(st); err != nil {
		return nil, nil, fmt.Errorf("%s is corrupt (%v): import the license again with olr import", path, err)
	}
	return lic, st, nil
}

// Install verifies license and, only if it is valid on this machine now
// (its hardware binding matches), installs it with a fresh state. A
// license that does not match is refused: it never earns a grace period.
func (s *Store) Install(license []byte, trust *olr.Trust, fp *fingerprint.Fingerprint, now time.Time, opts *olr.VerifyOptions) (*olr.Result, error) {
	var o olr.VerifyOptions
	if opts != nil {
		o = *opts
	}
	o.MismatchSince = time.Time{}
	var err error
	if o.Revocations, err = s.Revocations(trust); err != nil {
		return invalid(olr.ReasonMalformed, err)
	}
	res, err := olr.Verify(license, trust, fp, now, &o)
	if err != nil {
		return res, err
	}
	if _, old, err := s.Load(); err == nil && now.Before(old.LastSeen.Add(-RollbackTolerance)) {
		return s.rollback(res, old)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return res, err
	}
	st := &State{LicenseID: res.License.ID, Installed: now.UTC(), LastSeen: now.UTC()}
	// The license goes first: a crash between the two writes leaves the
	// new license with the old state, which Check repairs because the
	// license IDs differ.
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
func (s *Store) Check(trust *olr.Trust, fp *fingerprint.Fingerprint, now time.Time, opts *olr.VerifyOptions) (*olr.Result, error) {
	return s.check(trust, fp, now, opts, true)
}

// Evaluate is Check without recording anything: what the verdict would be
// at another time (for "will it still be valid next month?").
func (s *Store) Evaluate(trust *olr.Trust, fp *fingerprint.Fingerprint, at time.Time, opts *olr.VerifyOptions) (*olr.Result, error) {
	return s.check(trust, fp, at, opts, false)
}

func (s *Store) check(trust *olr.Trust, fp *fingerprint.Fingerprint, now time.Time, opts *olr.VerifyOptions, record bool) (*olr.Result, error) {
	lic, st, err := s.Load()
	if errors.Is(err, ErrNotInstalled) {
		return invalid(olr.ReasonNotInstalled, err)
	} else if err != nil {
		return invalid(olr.ReasonMalformed, err)
	}
	var o olr.VerifyOptions
	if opts != nil {
		o = *opts
	}
	if o.Revocations, err = s.Revocations(trust); err != nil {
		return invalid(olr.ReasonMalformed, err)
	}
	res, err := olr.Verify(lic, trust, fp, now, &o)
	if res.License != nil && res.License.ID != st.LicenseID {
		// The state belongs to an earlier license (a crash during
		// install): start afresh for this one.
		st = &State{LicenseID: res.License.ID, Installed: now.UTC(), LastSeen: now.UTC()}
	}
	if record && now.Before(st.LastSeen.Add(-RollbackTolerance)) {
		return s.rollback(res, st)
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
		if now.After(st.LastSeen) {
			st.LastSeen = now.UTC()
		}
		if werr := s.saveState(st); werr != nil && err == nil {
			return res, fmt.Errorf("license checked, but recording its state failed: %w", werr)
		}
	}
	return res, err
}

// ErrOlderRevocations is returned when a revocation list is older than
// the one installed: an old list must never un-revoke a license.
var ErrOlderRevocations = errors.New("revocation list is older than the one installed")

// Revocations returns the installed revocation list, or nil if none.
func (s *Store) Revocations(trust *olr.Trust) (*olr.RevocationList, error) {
	path := filepath.Join(s.Dir, RevocationsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := olr.ParseRevocationList(data, trust)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return c, nil
}

// InstallRevocations verifies a revocation list and installs it unless the
// installed one has a higher number. Installing the same number again is
// a no-op.
func (s *Store) InstallRevocations(data []byte, trust *olr.Trust) (*olr.RevocationList, error) {
	c, err := olr.ParseRevocationList(data, trust)
	if err != nil {
		return nil, err
	}
	old, err := s.Revocations(trust)
	if err != nil {
		return nil, err
	}
	if old != nil && old.Number > c.Number {
		return nil, fmt.Errorf("%w (number %d, installed %d)", ErrOlderRevocations, c.Number, old.Number)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, err
	}
	return c, safefile.Replace(filepath.Join(s.Dir, RevocationsFile), data, 0o644)
}

// invalid is the result of a check that could not get as far as Verify.
func invalid(reason olr.Reason, err error) (*olr.Result, error) {
	r := &olr.Result{Status: olr.Invalid, Reason: reason, Err: &olr.VerifyError{Reason: reason, Err: err}}
	return r, r.Err
}

func (s *Store) rollback(res *olr.Result, st *State) (*olr.Result, error) {
	res.Status, res.Reason = olr.Invalid, olr.ReasonClockRollback
	res.Err = &olr.VerifyError{Reason: olr.ReasonClockRollback,
		Err: fmt.Errorf("the clock reads earlier than the last check at %s; set the clock right", st.LastSeen.Format(time.RFC3339))}
	return res, res.Err
}

// State returns the recorded state, if a license is installed.
func (s *Store) State() (*State, error) {
	_, st, err := s.Load()
	return st, err
}

func (s *Store) saveState(st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return safefile.Replace(filepath.Join(s.Dir, StateFile), append(data, '\n'), 0o600)
}
