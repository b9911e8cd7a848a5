package store

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/olr"
)

// Revocations returns the installed revocation list, or nil if none was
// ever installed. It fails with ErrRevocationsMissing when the state
// records a list that revoked.olr no longer holds, and with ErrDamaged
// for an unusable file.
func (s *Store) Revocations(trust *olr.Trust) (*olr.RevocationList, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := s.readState()
	if err != nil {
		return nil, err
	}
	return s.revocations(trust, st)
}

// revocations is Revocations with the state already read (st may be nil).
func (s *Store) revocations(trust *olr.Trust, st *State) (*olr.RevocationList, error) {
	path := filepath.Join(s.Dir, RevocationsFile)
	var recorded uint64
	if st != nil {
		recorded = st.RevocationList
	}
	missing := func(what string) error {
		return &StateError{Path: path, Err: fmt.Errorf("%w: the state records list %d, %s", ErrRevocationsMissing, recorded, what),
			Hint: "import the vendor's latest revoked.olr again with olr import revoked.olr"}
	}
	data, err := safefile.ReadFile(path, olr.MaxCRLSize)
	if errors.Is(err, fs.ErrNotExist) {
		if recorded > 0 {
			return nil, missing("and the file is gone")
		}
		return nil, nil
	}
	if err != nil {
		return nil, damaged(path, err)
	}
	c, err := olr.ParseRevocationList(data, trust)
	if err != nil {
		return nil, damaged(path, err)
	}
	if c.Number < recorded {
		return nil, missing(fmt.Sprintf("and the file holds the older list %d", c.Number))
	}
	return c, nil
}

// InstallRevocations verifies a revocation list and installs it unless a
// list with a higher number was installed before, even one whose file has
// since been deleted (ErrOlderRevocations). Installing the same number
// again is allowed: it repairs a deleted revoked.olr.
func (s *Store) InstallRevocations(data []byte, trust *olr.Trust) (*olr.RevocationList, error) {
	c, err := olr.ParseRevocationList(data, trust)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := s.readState()
	if err != nil {
		// The state may hold a license record; it is repaired by an
		// import, not overwritten here.
		return nil, err
	}
	if st == nil {
		st = &State{}
	}
	highest := st.RevocationList
	if old, err := s.revocations(trust, &State{}); err == nil && old != nil && old.Number > highest {
		highest = old.Number
	}
	if c.Number < highest {
		return nil, fmt.Errorf("%w (number %d, installed %d)", ErrOlderRevocations, c.Number, highest)
	}
	// The list goes first: a crash between the writes leaves the new list
	// with a state recording an older number, which is consistent.
	if err := safefile.Replace(filepath.Join(s.Dir, RevocationsFile), data, 0o644); err != nil {
		return nil, err
	}
	if st.RevocationList != c.Number {
		st.RevocationList = c.Number
		if err := s.saveState(st); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// newest returns the list with the higher number; either may be nil.
// Lists are cumulative, each the vendor's whole current list, so the
// newest one decides.
func newest(a, b *olr.RevocationList) *olr.RevocationList {
	if a == nil || (b != nil && b.Number > a.Number) {
		return b
	}
	return a
}
