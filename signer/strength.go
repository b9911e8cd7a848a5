package signer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/olr-dev/olr/fingerprint"
)

// RuleWeakFingerprint names the refusal of a license whose binding would
// not tell one machine from its clones.
const RuleWeakFingerprint = "weak-fingerprint"

// weakKinds are the factors that do not identify hardware: an IP address
// is reassigned, and the machine-id lives on the disk, so it is the same
// in every copy of a disk or VM image.
var weakKinds = []fingerprint.Kind{fingerprint.KindIP, fingerprint.KindMachineID}

// WeakBinding says why a license bound by b to a machine of kind m would
// install on more than one machine, or returns "" when it would not:
//
//   - every factor the binding's policy weighs is an IP address or the
//     machine-id, so every clone of the machine's image matches;
//   - the request came from a container: the hardware it reports (DMI,
//     disks, TPM) belongs to its host, so every container on that host
//     matches, and its own identity is the image's machine-id.
//
// Issuing such a license needs IssueOptions.AllowWeak, which the ledger
// records.
func WeakBinding(b *fingerprint.Binding, m fingerprint.MachineKind) string {
	if m.Class == fingerprint.ClassContainer {
		return "the request comes from a container: the hardware factors it reports belong to its host and match every container there, so the license would not be bound to one installation"
	}
	var kinds []string
	for _, f := range b.Factors {
		if b.Policy.Weights[f.Kind] == 0 {
			continue
		}
		if !slices.Contains(weakKinds, f.Kind) {
			return ""
		}
		if !slices.Contains(kinds, string(f.Kind)) {
			kinds = append(kinds, string(f.Kind))
		}
	}
	return fmt.Sprintf("the license would be bound only to %s, which every clone of the machine's disk image shares (no MAC, DMI, disk or TPM identity was reported)",
		strings.Join(kinds, " and "))
}
