package portal

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/clones"
	"github.com/olr-dev/olr/signer/ledger"
	"github.com/olr-dev/olr/signer/tpmbind"
)

// Finding is something about a request's machine or key that support
// staff should question before issuing, from the clone audit
// (signer/clones) over the ledger's activations and the requests of the
// same submission.
type Finding struct {
	// Kind is clone, shared-machine, shared-key, weak-fingerprint,
	// software-tpm, container or virtual-machine.
	Kind string `json:"kind"`
	// Warning is false for information only (a virtual machine).
	Warning bool   `json:"warning"`
	Message string `json:"message"`
	// Keys are the other license keys involved.
	Keys []string `json:"license_keys,omitempty"`
}

// machineAudit is a clone detector fed with every activation the ledger
// records and every request of one submission.
type machineAudit struct {
	report *clones.Report
	// roots attest endorsement keys (the desk's TPM policy); now is when.
	roots *tpmbind.Roots
	now   time.Time
}

// requestSource names a submitted request inside the detector.
func requestSource(req *olr.Request) string { return "request " + req.ID }

func (s *Server) newMachineAudit(tx *ledger.Tx, ins []*Inspection) (*machineAudit, error) {
	det := clones.New()
	_, err := det.AddLedger(tx, func(act ledger.Activation) string {
		return fmt.Sprintf("activation %d (%s, license %s)", act.ID, act.State, act.LicenseID)
	})
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		if in.Request != nil {
			det.Add(requestSource(in.Request), in.Request)
		}
	}
	return &machineAudit{report: det.Report(), roots: s.cfg.Options.TPM.Roots, now: s.now()}, nil
}

// findings returns what the audit found about req.
func (m *machineAudit) findings(req *olr.Request) []Finding {
	out := []Finding{}
	src := requestSource(req)
	// A replayed request is in the ledger too: the detector counts it
	// once, under the ledger's name for it.
	for _, d := range m.report.Duplicates {
		if d.Source == src {
			src = d.SameAs
		}
	}
	has := func(refs []clones.Ref) bool {
		return slices.ContainsFunc(refs, func(r clones.Ref) bool { return r.Source == src })
	}
	for _, sm := range m.report.SharedMachines {
		if !has(sm.Requests) {
			continue
		}
		kind := "shared-machine"
		if sm.Verdict == clones.VerdictClone {
			kind = "clone"
		}
		others := slices.DeleteFunc(slices.Clone(sm.Keys), func(k string) bool { return k == req.LicenseKey })
		ids := make([]string, len(sm.Factors))
		for i, f := range sm.Factors {
			ids[i] = f.String()
		}
		out = append(out, Finding{Kind: kind, Warning: true, Keys: others,
			Message: fmt.Sprintf("%s (shared with key %s: %s)", sm.Explanation, strings.Join(others, ", "), strings.Join(ids, ", "))})
	}
	for _, km := range m.report.KeysOnSeveralMachines {
		if km.Key != req.LicenseKey {
			continue
		}
		for i, mach := range km.Machines {
			if !has(mach.Requests) {
				continue
			}
			msg := fmt.Sprintf("the key was requested from %d machines that do not match each other (in the ledger and this submission)", len(km.Machines))
			if i > 0 {
				msg += fmt.Sprintf("; this one matches the first with %d of %d (%d%% needed)", mach.Score, mach.Total, mach.Threshold)
			}
			out = append(out, Finding{Kind: "shared-key", Warning: true, Message: msg + ": a transfer at best, a key shared between sites at worst"})
		}
	}
	for _, w := range m.report.NoStrongFactor {
		if w.Source == src {
			kinds := make([]string, len(w.Kinds))
			for i, k := range w.Kinds {
				kinds[i] = string(k)
			}
			out = append(out, Finding{Kind: "weak-fingerprint", Warning: true,
				Message: "no stable factor (no TPM, no DMI identity): the fingerprint holds only " + strings.Join(kinds, ", ") + ", easy to copy and easy to lose"})
		}
	}
	if has(m.report.Containers) {
		out = append(out, Finding{Kind: "container", Warning: true,
			Message: "made inside a container: the hardware it reports belongs to the host, shared by every container there"})
	}
	if has(m.report.VirtualMachines) {
		out = append(out, Finding{Kind: "virtual-machine",
			Message: "made in a virtual machine (" + req.Fingerprint.Machine.Detail + "): its identities are the hypervisor's to copy"})
	}
	soft := false
	for _, f := range req.Fingerprint.Factors {
		if f.Kind == fingerprint.KindTPMEK && (strings.HasPrefix(f.Source, "tpm:sim") || strings.HasPrefix(f.Source, "tpm:mssim:")) {
			soft = true
			out = append(out, Finding{Kind: "software-tpm", Warning: true,
				Message: "the TPM is a software TPM (" + f.Source + "): its endorsement key proves no hardware, and may be the same on every machine"})
		}
	}
	return append(out, m.tpmFindings(req, soft)...)
}

// tpmFindings judges the endorsement keys an olr-request/v2 carries:
// one without a certificate that chains to the vendor's TPM roots is
// unattested, and a manufacturer or certificate issuer of a software or
// virtual TPM is named (unless the fingerprint said so already).
func (m *machineAudit) tpmFindings(req *olr.Request, soft bool) []Finding {
	var out []Finding
	if req.TPM == nil {
		return nil
	}
	for _, e := range req.TPM.EKs {
		ek, err := tpmbind.CheckEK(e.Kind, e.Public, e.Cert, req.TPM.Chain, m.roots, m.now)
		if err != nil {
			out = append(out, Finding{Kind: "tpm-ek", Warning: true, Message: "the " + e.Kind + " endorsement key is refused: " + err.Error()})
			continue
		}
		if ek.Attestation != tpmbind.Attested {
			why := "no certificate"
			if ek.Problem != nil {
				why = ek.Problem.Error()
			}
			out = append(out, Finding{Kind: "unattested-tpm", Warning: true,
				Message: "the " + ek.Kind + " endorsement key is not attested by a TPM manufacturer the desk trusts (" + why + "): it may belong to a software TPM"})
		}
		issuer := ""
		if ek.Cert != nil {
			issuer = ek.Cert.Issuer.String()
		}
		if why := tpmbind.SoftwareTPM(req.TPM.Manufacturer, issuer); why != "" && !soft {
			soft = true
			out = append(out, Finding{Kind: "software-tpm", Warning: true,
				Message: "the TPM looks software or virtual (" + why + "): its state can be copied with the machine"})
		}
	}
	return out
}
