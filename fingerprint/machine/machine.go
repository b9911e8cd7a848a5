// Package machine fingerprints the machine a product runs on exactly as
// olr request did when it asked for the license: the host's factors
// (NICs, addresses, machine-id, DMI, disks) and the TPM's endorsement key,
// read through the same collectors with the same defaults. A product that
// verifies its license collects with [Collect]; the olr command collects
// through it too, so the product and the command never see two different
// machines.
//
//	m, err := machine.Collect(ctx, machine.Options{})
//	if err != nil { ... }
//	defer m.Close()
//	res, err := store.Open(store.DefaultDir()).Check(trust, m.Fingerprint, time.Now(), opts)
//
// The TPM stays open, with the endorsement key that the factor read
// created still loaded, until [Machine.Close], so that a later step (the
// proof of a TPM-bound license) reuses both instead of opening the TPM and
// making the key again, which on a real TPM costs the most.
//
// # Software TPMs
//
// A TPM reached through the simulator protocols ("sim", the in-process
// reference simulator, and "mssim:HOST:PORT", such as swtpm) identifies no
// hardware: its state is a file anyone can copy. It counts as this
// machine's TPM only with [Options.AllowSoftwareTPM], for labs and tests;
// the fingerprint then carries a note saying so, which a request shows the
// vendor.
package machine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/host"
	"github.com/olr-dev/olr/fingerprint/tpm"
)

// Options selects what to read. The zero value reads this machine and its
// TPM as olr request does by default.
type Options struct {
	// Root is "" for this machine; otherwise the directory where a disk
	// image or a saved sysfs tree is mounted. Under a root no TPM is read
	// (a TPM is live only) and addresses are left out, each with a note.
	// A fingerprint read under a root is not this machine's: olr never
	// records a check made with it.
	Root string
	// TPM selects the TPM, as olr's --tpm flag does (see package
	// fingerprint/tpm): "" or "auto" (the kernel resource manager
	// /dev/tpmrm0 when present, else none), "none", a device path,
	// "mssim:HOST:PORT" or "sim".
	TPM string
	// AllowSoftwareTPM admits a TPM reached through the simulator
	// protocols (mssim:, sim) as this machine's TPM, for labs and tests.
	// Without it such a selection fails with ErrSoftwareTPM. The olr
	// command sets it from OLR_ALLOW_SOFTWARE_TPM=1; a product should set
	// it only from its own trusted configuration, never from an
	// environment that the machine's users control.
	AllowSoftwareTPM bool
	// TPMTimeout bounds opening the TPM, and then reading it, each within
	// the deadline of the context; zero means tpm.DefaultTimeout.
	TPMTimeout time.Duration
}

// ErrSoftwareTPM is wrapped by the error of Collect for a software TPM
// selected without Options.AllowSoftwareTPM.
var ErrSoftwareTPM = errors.New("a software TPM identifies no hardware and does not count as this machine's TPM")

// Machine is a machine's fingerprint, with the TPM it was read from kept
// open until Close.
type Machine struct {
	// Fingerprint holds the factors, raw values included: give it to
	// olr.Verify or the store's Check, never show it outside the machine
	// (a request carries it only encrypted to the vendor).
	Fingerprint *fingerprint.Fingerprint

	// tpm is the TPM's collector, holding the TPM open and its EK loaded;
	// nil when no TPM was selected or read.
	tpm *tpm.Collector
}

// Collect fingerprints the machine as opts say and returns it with its
// TPM open; the caller must Close it. A TPM that is selected but cannot be
// opened or read is an error (as in olr request); "auto" on a machine
// without a TPM is not: the fingerprint then has no tpm-ek factor and a
// note says why.
func Collect(ctx context.Context, opts Options) (*Machine, error) {
	spec := opts.TPM
	if spec == "" {
		spec = "auto"
	}
	live := opts.Root == "" || opts.Root == "/"
	hopts := host.Options{Root: opts.Root}
	var tc *tpm.Collector
	if live && spec != "none" {
		if IsSoftwareTPM(spec) && !opts.AllowSoftwareTPM {
			return nil, fmt.Errorf("TPM %s: %w", spec, ErrSoftwareTPM)
		}
		tc = tpm.NewCollector(spec)
		tc.Timeout = opts.TPMTimeout
		tc.Hold = true
		hopts.Extra = append(hopts.Extra, tc)
	}
	fp, err := host.Collect(ctx, hopts)
	if err != nil {
		if tc != nil {
			tc.Close()
		}
		return nil, err
	}
	m := &Machine{Fingerprint: fp}
	if tc != nil && tc.Info() != nil {
		m.tpm = tc
		if IsSoftwareTPM(spec) {
			fp.Notes = append(fp.Notes, fmt.Sprintf("the software TPM %s was admitted as this machine's TPM by an explicit opt-in, for labs and tests only", tc.Info().Source))
		}
	}
	return m, nil
}

// IsSoftwareTPM reports whether a TPM selection reaches the TPM through
// the simulator protocols: "sim" or "mssim:HOST:PORT".
func IsSoftwareTPM(spec string) bool {
	return spec == "sim" || strings.HasPrefix(spec, "mssim:")
}

// TPM returns what was read from the TPM (its source, manufacturer,
// firmware, EK algorithm and certificate), or nil when none was read.
func (m *Machine) TPM() *tpm.Info {
	if m.tpm == nil {
		return nil
	}
	return m.tpm.Info()
}

// Prover returns what proves a TPM-bound license on this machine's TPM,
// for olr.VerifyOptions.TPM. Until Close it uses the TPM and the
// endorsement key that Collect left open, so that a product start pays
// only for the proof; after Close it opens the TPM for each proof. Without
// a TPM (none selected or present, or under a root) its proofs fail as
// tpm-unavailable. It is never nil.
func (m *Machine) Prover() *tpm.Prover {
	if m.tpm == nil {
		return tpm.NoProver("no TPM was read for this fingerprint")
	}
	return m.tpm.Prover()
}

// Endorsement reads what a TPM-bound request carries of this machine's
// TPM: its endorsement keys, their certificates and the chain
// certificates. It returns nil and no error when no TPM was read.
func (m *Machine) Endorsement(ctx context.Context) (*tpm.Endorsement, error) {
	if m.tpm == nil {
		return nil, nil
	}
	return m.tpm.Endorsement(ctx)
}

// Close releases the TPM: it flushes the endorsement key the factor read
// left loaded and closes the connection. It is safe to call more than
// once.
func (m *Machine) Close() error {
	if m.tpm == nil {
		return nil
	}
	return m.tpm.Close()
}
