package clones

import (
	"time"

	"github.com/olr-dev/olr/fingerprint"
)

// Format is the format tag of a [Report] in JSON.
const Format = "olr-audit/v1"

// Report is the outcome of an audit. Every list is sorted and present,
// empty when there is nothing to list, so that the JSON form is stable.
type Report struct {
	Format string `json:"format"`
	// Requests counts the records audited, duplicates counted once.
	Requests int `json:"requests"`
	// Keys counts the distinct license keys among them.
	Keys int `json:"keys"`
	// SharedMachines lists identifiers held by requests of several keys.
	SharedMachines []SharedMachine `json:"shared_machines"`
	// KeysOnSeveralMachines lists keys requested from fingerprints that
	// do not match each other.
	KeysOnSeveralMachines []KeyMachines `json:"keys_on_several_machines"`
	// NoStrongFactor lists requests whose fingerprint has no factor of
	// the stable class.
	NoStrongFactor []WeakFingerprint `json:"no_strong_factor"`
	// Containers lists requests made inside a container.
	Containers []Ref `json:"containers"`
	// VirtualMachines lists requests made in a virtual machine. They are
	// listed for information and are not findings by themselves.
	VirtualMachines []Ref `json:"virtual_machines"`
	// Unreadable lists inputs that could not be read or decrypted.
	Unreadable []Failure `json:"unreadable"`
	// Duplicates lists records seen twice and counted once.
	Duplicates []Duplicate `json:"duplicates"`
}

// Findings counts what needs a look: shared machines, keys on several
// machines, weak fingerprints, containers and unreadable inputs. Virtual
// machines and duplicates are not findings.
func (r *Report) Findings() int {
	return len(r.SharedMachines) + len(r.KeysOnSeveralMachines) + len(r.NoStrongFactor) +
		len(r.Containers) + len(r.Unreadable)
}

// Ref names one request in a finding.
type Ref struct {
	Source    string                  `json:"source"`
	RequestID string                  `json:"request_id,omitempty"`
	Key       string                  `json:"license_key"`
	Licensee  string                  `json:"licensee"`
	Hostname  string                  `json:"hostname,omitempty"`
	Created   time.Time               `json:"created"`
	Machine   fingerprint.MachineKind `json:"machine"`
}

// Verdicts of a [SharedMachine].
const (
	// VerdictSameHardware: the requests share a hardware identity (DMI,
	// TPM, disk, NIC): one machine activating several keys, or clones
	// that copied the hardware identity as well.
	VerdictSameHardware = "same-hardware"
	// VerdictClone: the requests share only the machine-id, which lives
	// on the disk: copies of one disk or VM image whose machine-id was
	// not reset, each on its own hardware.
	VerdictClone = "clone"
)

// Identifier is a factor value that several requests hold.
type Identifier struct {
	Kind  fingerprint.Kind `json:"kind"`
	Value string           `json:"value"`
}

func (id Identifier) String() string { return string(id.Kind) + "=" + id.Value }

// SharedMachine is a set of requests, of several license keys, that
// share one or more strong identifiers.
type SharedMachine struct {
	// Factors are the identifiers all of Requests hold, sorted by kind,
	// then value.
	Factors []Identifier `json:"factors"`
	// Keys are the distinct license keys of Requests.
	Keys     []string `json:"license_keys"`
	Requests []Ref    `json:"requests"`
	// Verdict is VerdictSameHardware or VerdictClone.
	Verdict string `json:"verdict"`
	// Explanation says in words what the shared factors suggest.
	Explanation string `json:"explanation"`
}

// KeyMachines is one license key requested from several machines.
type KeyMachines struct {
	Key      string `json:"license_key"`
	Licensee string `json:"licensee"`
	// Machines groups the key's requests by machine: the requests of one
	// group match its first request; those of different groups do not
	// match. Groups are in the order of their first request.
	Machines []Machine `json:"machines"`
}

// Machine is a group of requests from one machine, and how its first
// request compares with the first request of the first machine.
type Machine struct {
	Requests []Ref `json:"requests"`
	// Score, Total and Threshold compare this machine with the first
	// under the audit's policy, the first machine being the recorded one.
	// They are zero for the first machine.
	Score     int `json:"score"`
	Total     int `json:"total"`
	Threshold int `json:"threshold"`
}

// WeakFingerprint is a request without a stable factor.
type WeakFingerprint struct {
	Ref
	// Kinds are the kinds the fingerprint does hold.
	Kinds []fingerprint.Kind `json:"kinds"`
}

// Failure is an input that could not be read.
type Failure struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// Duplicate is a record seen again.
type Duplicate struct {
	RequestID string `json:"request_id"`
	Source    string `json:"source"`
	SameAs    string `json:"same_as"`
}
