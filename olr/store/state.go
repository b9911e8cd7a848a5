package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/olr-dev/olr/internal/safefile"
)

// MaxStateSize bounds state.json. A real one is a few hundred bytes; the
// bound leaves room for the records later versions add and keeps a
// hostile file (a link to /dev/zero) from costing more than a read of
// 64 KiB.
const MaxStateSize = 64 << 10

// State is the content of state.json: what the machine remembers between
// checks. Only olr import creates the record of a license (LicenseID and
// Installed); the clock floor and the revocation list number outlive it.
// The zero value of each field means "never" or "none".
//
// Later versions add fields; an olr that finds a field it does not know
// refuses the file rather than drop what it records.
type State struct {
	// LicenseID is the ID of the license that olr import installed in
	// this directory; empty when none is installed. A license.olr that
	// the state does not name was not installed and is refused.
	LicenseID string `json:"license_id,omitempty"`
	// Installed is when that license was first installed; re-importing
	// the same license keeps it.
	Installed time.Time `json:"installed,omitzero"`
	// LastSeen is the latest time a check or an import saw: the clock
	// floor. It only rises; a check whose clock reads more than
	// RollbackTolerance before it is refused.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// MismatchSince is when the installed license was first seen on
	// hardware that no longer matched it: the start of its grace period.
	// Zero while the hardware matches.
	MismatchSince time.Time `json:"mismatch_since,omitzero"`
	// RevocationList is the highest revocation list number installed
	// here. It only rises: an older list is refused, and a check fails
	// while revoked.olr is missing or older, so deleting the list or
	// putting back an old one un-revokes nothing.
	RevocationList uint64 `json:"revocation_list,omitzero"`
	// TPMPrivate is, for a TPM-bound license, the license key's private
	// part as this machine's TPM wrapped it at import: it saves the TPM an
	// import at every check, loads in no other TPM, and is replaced when
	// the TPM imports again (after TPM2_Clear). Deleting it costs one
	// import.
	TPMPrivate []byte `json:"tpm_private,omitempty"`
}

// parseState reads state.json strictly: one JSON object of known fields,
// nothing after it, and values that make sense together.
func parseState(data []byte) (*State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	st := &State{}
	if err := dec.Decode(st); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the state")
	}
	if err := st.validate(); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *State) validate() error {
	if st.LicenseID == "" {
		if !st.Installed.IsZero() || !st.MismatchSince.IsZero() {
			return errors.New("an install or mismatch time without a license")
		}
		return nil
	}
	if !isHexID(st.LicenseID) {
		return errors.New("license_id is not 32 lower-case hex digits")
	}
	if st.Installed.IsZero() {
		return errors.New("a license without an install time")
	}
	return nil
}

// isHexID reports whether s has the form of a license ID.
func isHexID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// readState reads state.json: nil and no error when there is none. The
// read is bounded and refuses anything but a regular file, so that a link
// to /dev/zero or a FIFO neither exhausts memory nor hangs the product.
func (s *Store) readState() (*State, error) {
	path := filepath.Join(s.Dir, StateFile)
	data, err := safefile.ReadFile(path, MaxStateSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, damaged(path, err)
	}
	st, err := parseState(data)
	if err != nil {
		return nil, damaged(path, err)
	}
	return st, nil
}

func (s *Store) saveState(st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return safefile.Replace(filepath.Join(s.Dir, StateFile), append(data, '\n'), 0o600)
}

// damaged is the error for a state file that cannot be used.
func damaged(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is named once, by StateError
	}
	return &StateError{Path: path, Err: fmt.Errorf("%w: %v", ErrDamaged, err),
		Hint: "import the license again with olr import license.olr"}
}
