package clones

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/olr-dev/olr/fingerprint"
)

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
