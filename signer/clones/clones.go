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
	"slices"
	"strconv"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

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
