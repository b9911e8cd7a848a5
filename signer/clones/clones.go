// Package clones looks across many activation requests for what a vendor
// should question before issuing more licenses:
//
//   - one machine behind several license keys: requests of different keys
//     that share a strong identifier (machine-id, product UUID or serial,
//     board or disk serial, TPM EK, a globally unique MAC). Cloned VM
//     images typically share the machine-id and nothing else; one machine
//     activating several keys shares its hardware identities too;
//   - one key requested from several machines: requests of one key whose
//     fingerprints do not match each other under the match policy, which
//     are transfers at best and a key shared between sites at worst;
//   - fingerprints with no stable factor (no TPM, no DMI identity), which
//     are easy to spoof and easy to lose;
//   - requests from containers and, for information, from virtual
//     machines.
//
// The package is pure: it reads no file. Feed it requests with
// [Detector.Add] (decrypted req.olr files) or [Detector.AddRecord] (other
// sources, such as the activations of the vendor's ledger), inputs that
// could not be read with [Detector.Failed], then call [Detector.Report].
//
// Shared identifiers are found through an index by value, never by
// comparing every pair of requests, so that ten thousand requests take a
// fraction of a second.
package clones

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

// Format is the format tag of a [Report] in JSON.
const Format = "olr-audit/v1"

// Record is one activation request, or one activation from another
// record of them, as the audit sees it.
type Record struct {
	// Source says where the record was read: a file name, or a ledger
	// activation. It names the record in the report.
	Source      string
	RequestID   string
	Key         string
	Licensee    string
	Hostname    string
	Created     time.Time
	Fingerprint fingerprint.Fingerprint
}

// Detector gathers records and reports on them. The zero value is not
// usable; call [New]. An Detector is not safe for concurrent use.
type Detector struct {
	policy  fingerprint.Policy
	records []*Record
	byID    map[string][]int
	// index maps each strong identifier value to the records that hold
	// it, in the order they were added, each record once.
	index      map[ident][]int
	duplicates []Duplicate
	failed     []Failure
}

// ident is a strong identifier: a factor kind and its normalised value.
type ident struct {
	kind  fingerprint.Kind
	value string
}

// New returns a detector that judges whether two fingerprints are the
// same machine under [fingerprint.DefaultPolicy], the policy olr-sign
// issues with unless told otherwise.
func New() *Detector {
	a, _ := NewWithPolicy(fingerprint.DefaultPolicy())
	return a
}

// NewWithPolicy returns a detector that judges whether two fingerprints
// are the same machine under p.
func NewWithPolicy(p fingerprint.Policy) (*Detector, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Detector{policy: p, byID: map[string][]int{}, index: map[ident][]int{}}, nil
}

// Add adds a decrypted request read from source.
func (a *Detector) Add(source string, req *olr.Request) {
	a.AddRecord(Record{
		Source: source, RequestID: req.ID, Key: req.LicenseKey, Licensee: req.Licensee,
		Hostname: req.Hostname, Created: req.CreatedTime(), Fingerprint: req.Fingerprint,
	})
}

// AddRecord adds a record. A record with the request ID, key and factors
// of one already added (the same req.olr saved twice, or a request found
// both in a directory and in the ledger) is counted once and listed
// among the duplicates.
func (a *Detector) AddRecord(r Record) {
	if r.RequestID != "" {
		for _, i := range a.byID[r.RequestID] {
			if o := a.records[i]; o.Key == r.Key && slices.Equal(o.Fingerprint.Factors, r.Fingerprint.Factors) {
				a.duplicates = append(a.duplicates, Duplicate{RequestID: r.RequestID, Source: r.Source, SameAs: o.Source})
				return
			}
		}
	}
	i := len(a.records)
	r.Fingerprint.Factors = slices.Clone(r.Fingerprint.Factors)
	a.records = append(a.records, &r)
	if r.RequestID != "" {
		a.byID[r.RequestID] = append(a.byID[r.RequestID], i)
	}
	for _, f := range r.Fingerprint.Factors {
		if !Strong(f) {
			continue
		}
		id := ident{f.Kind, f.Value}
		if l := a.index[id]; len(l) > 0 && l[len(l)-1] == i {
			continue // the same value twice in one record
		}
		a.index[id] = append(a.index[id], i)
	}
}

// Failed records an input that could not be read or decrypted. It is
// reported, and the audit goes on.
func (a *Detector) Failed(source string, err error) {
	a.failed = append(a.failed, Failure{Source: source, Error: err.Error()})
}

// Strong reports whether f identifies one machine well enough that two
// license keys sharing it point at one machine (or at clones of one):
// any kind but IP addresses, and MAC addresses only when globally unique.
// A locally administered MAC (the second-lowest bit of the first octet
// set) is chosen by software, such as a hypervisor or a container
// runtime, and repeats across unrelated machines.
func Strong(f fingerprint.Factor) bool {
	switch f.Kind {
	case fingerprint.KindIP:
		return false
	case fingerprint.KindMAC:
		b, err := strconv.ParseUint(f.Value[:min(2, len(f.Value))], 16, 8)
		return err == nil && b&0x02 == 0
	}
	return f.Kind.Known()
}

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

// Report returns the findings over every record added so far. It may be
// called again after more records are added.
func (a *Detector) Report() *Report {
	r := &Report{
		Format: Format, Requests: len(a.records),
		SharedMachines: []SharedMachine{}, KeysOnSeveralMachines: []KeyMachines{},
		NoStrongFactor: []WeakFingerprint{}, Containers: []Ref{}, VirtualMachines: []Ref{},
		Unreadable: slices.Clone(a.failed), Duplicates: slices.Clone(a.duplicates),
	}
	if r.Unreadable == nil {
		r.Unreadable = []Failure{}
	}
	if r.Duplicates == nil {
		r.Duplicates = []Duplicate{}
	}
	byKey := map[string][]int{}
	for i, rec := range a.records {
		byKey[rec.Key] = append(byKey[rec.Key], i)
		fp := &rec.Fingerprint
		switch fp.Machine.Class {
		case fingerprint.ClassContainer:
			r.Containers = append(r.Containers, a.ref(i))
		case fingerprint.ClassVM:
			r.VirtualMachines = append(r.VirtualMachines, a.ref(i))
		}
		if !hasStable(fp) {
			r.NoStrongFactor = append(r.NoStrongFactor, WeakFingerprint{Ref: a.ref(i), Kinds: kindsOf(fp)})
		}
	}
	r.Keys = len(byKey)
	r.SharedMachines = a.sharedMachines()
	for key, idx := range byKey {
		if len(idx) < 2 {
			continue
		}
		if km := a.keyMachines(key, idx); len(km.Machines) > 1 {
			r.KeysOnSeveralMachines = append(r.KeysOnSeveralMachines, km)
		}
	}
	slices.SortFunc(r.KeysOnSeveralMachines, func(x, y KeyMachines) int { return strings.Compare(x.Key, y.Key) })
	for _, l := range [][]Ref{r.Containers, r.VirtualMachines} {
		slices.SortFunc(l, compareRefs)
	}
	slices.SortFunc(r.NoStrongFactor, func(x, y WeakFingerprint) int { return compareRefs(x.Ref, y.Ref) })
	slices.SortFunc(r.Unreadable, func(x, y Failure) int { return strings.Compare(x.Source, y.Source) })
	return r
}

func (a *Detector) ref(i int) Ref {
	rec := a.records[i]
	return Ref{Source: rec.Source, RequestID: rec.RequestID, Key: rec.Key, Licensee: rec.Licensee,
		Hostname: rec.Hostname, Created: rec.Created.UTC(), Machine: rec.Fingerprint.Machine}
}

// compareRefs orders requests by key, then time, then source.
func compareRefs(x, y Ref) int {
	return cmp.Or(strings.Compare(x.Key, y.Key), x.Created.Compare(y.Created), strings.Compare(x.Source, y.Source))
}

func hasStable(fp *fingerprint.Fingerprint) bool {
	for _, f := range fp.Factors {
		if f.Kind.Stability() == fingerprint.Stable {
			return true
		}
	}
	return false
}

func kindsOf(fp *fingerprint.Fingerprint) []fingerprint.Kind {
	kinds := []fingerprint.Kind{}
	for _, f := range fp.Factors {
		if !slices.Contains(kinds, f.Kind) {
			kinds = append(kinds, f.Kind)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// sharedMachines walks the index: every identifier held by records of
// two or more keys is a finding. Identifiers held by exactly the same
// records make one finding together, so that a machine that shares its
// UUID, serials and NICs shows once, with every shared factor.
func (a *Detector) sharedMachines() []SharedMachine {
	groups := map[string]*SharedMachine{}
	members := map[string][]int{}
	var b strings.Builder
	for id, idx := range a.index {
		if len(idx) < 2 || !severalKeys(a.records, idx) {
			continue
		}
		b.Reset()
		for _, i := range idx {
			b.WriteString(strconv.Itoa(i))
			b.WriteByte(',')
		}
		g := groups[b.String()]
		if g == nil {
			g = &SharedMachine{}
			groups[b.String()] = g
			members[b.String()] = idx
		}
		g.Factors = append(g.Factors, Identifier{Kind: id.kind, Value: id.value})
	}
	out := make([]SharedMachine, 0, len(groups))
	for k, g := range groups {
		idx := members[k]
		slices.SortFunc(g.Factors, func(x, y Identifier) int {
			return cmp.Or(strings.Compare(string(x.Kind), string(y.Kind)), strings.Compare(x.Value, y.Value))
		})
		for _, i := range idx {
			g.Requests = append(g.Requests, a.ref(i))
			if !slices.Contains(g.Keys, a.records[i].Key) {
				g.Keys = append(g.Keys, a.records[i].Key)
			}
		}
		slices.Sort(g.Keys)
		slices.SortFunc(g.Requests, compareRefs)
		g.Verdict, g.Explanation = a.explain(g.Factors, idx)
		out = append(out, *g)
	}
	// Most keys first; then by the first shared factor, for stability.
	slices.SortFunc(out, func(x, y SharedMachine) int {
		return cmp.Or(len(y.Keys)-len(x.Keys),
			strings.Compare(string(x.Factors[0].Kind), string(y.Factors[0].Kind)),
			strings.Compare(x.Factors[0].Value, y.Factors[0].Value),
			strings.Compare(x.Requests[0].Source, y.Requests[0].Source))
	})
	return out
}

func severalKeys(records []*Record, idx []int) bool {
	first := records[idx[0]].Key
	for _, i := range idx[1:] {
		if records[i].Key != first {
			return true
		}
	}
	return false
}

// explain tells clones of a disk image (only the machine-id shared) from
// the same hardware under several keys.
func (a *Detector) explain(shared []Identifier, idx []int) (verdict, why string) {
	var kinds []string
	onlyMachineID := true
	for _, f := range shared {
		if !slices.Contains(kinds, string(f.Kind)) {
			kinds = append(kinds, string(f.Kind))
		}
		if f.Kind != fingerprint.KindMachineID {
			onlyMachineID = false
		}
	}
	list := strings.Join(kinds, ", ")
	if !onlyMachineID {
		why = "the requests share " + list + ": one machine activating several keys, or clones that copied its hardware identity"
		if slices.Contains(kinds, string(fingerprint.KindTPMEK)) && a.softwareTPMs(idx) {
			why += "; their TPM is a software TPM (a simulator), whose EK can be the same on every machine"
		}
		return VerdictSameHardware, why
	}
	uuids := map[string]bool{}
	for _, i := range idx {
		for _, f := range a.records[i].Fingerprint.Factors {
			if f.Kind == fingerprint.KindProductUUID {
				uuids[f.Value] = true
			}
		}
	}
	switch {
	case len(uuids) > 1:
		return VerdictClone, "the requests share the machine-id but not the product-uuid: virtual machines cloned from one image whose machine-id was not reset"
	default:
		return VerdictClone, "the requests share only the machine-id, which lives on the disk: copies of one disk or VM image whose machine-id was not reset"
	}
}

// softwareTPMs reports whether every record of idx read its TPM from a
// simulator, as the TPM collector notes (tpm:sim, tpm:mssim:HOST:PORT).
func (a *Detector) softwareTPMs(idx []int) bool {
	for _, i := range idx {
		soft := false
		for _, f := range a.records[i].Fingerprint.Factors {
			if f.Kind == fingerprint.KindTPMEK && (strings.HasPrefix(f.Source, "tpm:sim ") || strings.HasPrefix(f.Source, "tpm:mssim:")) {
				soft = true
			}
		}
		if !soft {
			return false
		}
	}
	return true
}

// salt keys the hashes that compare fingerprints inside the audit; they
// never leave it, so any fixed value does.
var salt = make([]byte, fingerprint.SaltSize)

// keyMachines groups the records idx of one key by machine. Records are
// taken oldest first; each joins the first group whose first record it
// matches, the older one being the recorded fingerprint, as when a
// license is checked.
func (a *Detector) keyMachines(key string, idx []int) KeyMachines {
	idx = slices.Clone(idx)
	slices.SortFunc(idx, func(x, y int) int { return compareRefs(a.ref(x), a.ref(y)) })
	type group struct {
		binding *fingerprint.Binding
		members []int
		report  *fingerprint.Report
	}
	var groups []*group
	var unbound []int
	for _, i := range idx {
		fp := &a.records[i].Fingerprint
		placed := false
		for _, g := range groups {
			if g.binding.Match(fp).Pass {
				g.members = append(g.members, i)
				placed = true
				break
			}
		}
		if placed {
			continue
		}
		b, err := fingerprint.Bind(fp, salt, a.policy)
		if err != nil {
			// Nothing the policy weighs: it can match no machine, so it
			// is a machine of its own.
			unbound = append(unbound, i)
			continue
		}
		g := &group{binding: &b, members: []int{i}}
		if len(groups) > 0 {
			g.report = groups[0].binding.Match(fp)
		}
		groups = append(groups, g)
	}
	km := KeyMachines{Key: key, Licensee: a.records[idx[0]].Licensee}
	for _, g := range groups {
		m := Machine{}
		for _, i := range g.members {
			m.Requests = append(m.Requests, a.ref(i))
		}
		if g.report != nil {
			m.Score, m.Total, m.Threshold = g.report.Score, g.report.Total, g.report.Threshold
		}
		km.Machines = append(km.Machines, m)
	}
	for _, i := range unbound {
		km.Machines = append(km.Machines, Machine{Requests: []Ref{a.ref(i)}})
	}
	return km
}
