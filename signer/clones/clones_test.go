package clones

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// machine is a synthetic fingerprint: a class and kind=value pairs.
type machine struct {
	class   string
	factors []string
}

func (m machine) fingerprint(t testing.TB) *fingerprint.Fingerprint {
	t.Helper()
	fp := &fingerprint.Fingerprint{Machine: fingerprint.MachineKind{Class: m.class}}
	if fp.Machine.Class == "" {
		fp.Machine.Class = fingerprint.ClassBareMetal
	}
	for _, kv := range m.factors {
		k, v, _ := strings.Cut(kv, "=")
		if !fp.Add(fingerprint.Kind(k), v, "test", false) {
			t.Fatalf("factor %s refused: %v", kv, fp.Notes)
		}
	}
	return fp
}

// request is a synthetic request for key, made minutes after t0.
type request struct {
	key     string
	minutes int
	m       machine
}

func newRequest(t testing.TB, r request) *olr.Request {
	t.Helper()
	req, err := olr.NewRequest("backup-server", "Licensee of "+r.key, r.key, "host", "olr test", r.m.fingerprint(t), t0.Add(time.Duration(r.minutes)*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

const (
	mid1  = "machine-id=0123456789abcdef0123456789abcdef"
	mid2  = "machine-id=fedcba9876543210fedcba9876543210"
	uuid1 = "product-uuid=4c4c4544-0042-3510-8052-b4c04f4e3532"
	uuid2 = "product-uuid=4c4c4544-0042-3510-8052-b4c04f4e3533"
	uuid3 = "product-uuid=4c4c4544-0042-3510-8052-b4c04f4e3534"
	bsn1  = "board-serial=/7XB3ZK2/CN1296143L0042/"
	bsn2  = "board-serial=/9QP4ZK2/CN1296143L0077/"
	mac1  = "mac=3c:ec:ef:10:20:30" // globally unique (Super Micro OUI)
	mac2  = "mac=3c:ec:ef:10:20:31"
	mac3  = "mac=3c:ec:ef:99:88:77"
	lmac  = "mac=02:42:ac:11:00:02" // locally administered (docker)
	disk1 = "disk-serial=S4EVNF0M812345"
	disk2 = "disk-serial=S4EVNF0M899999"
	ip1   = "ip=192.0.2.10"
	ip2   = "ip=192.0.2.11"
)

var (
	server1 = machine{factors: []string{mid1, uuid1, bsn1, mac1, mac2, disk1, ip1}}
	server2 = machine{factors: []string{mid2, uuid2, bsn2, mac3, disk2, ip2}}
)

// summary sums up a report in short lines, for table tests.
func summary(r *Report) []string {
	var out []string
	for _, s := range r.SharedMachines {
		var kinds []string
		for _, f := range s.Factors {
			kinds = append(kinds, string(f.Kind))
		}
		out = append(out, fmt.Sprintf("shared %s %s keys=%s", s.Verdict, strings.Join(kinds, ","), strings.Join(s.Keys, ",")))
	}
	for _, k := range r.KeysOnSeveralMachines {
		var ms []string
		for _, m := range k.Machines {
			ms = append(ms, fmt.Sprint(len(m.Requests)))
		}
		out = append(out, fmt.Sprintf("key %s machines=%s", k.Key, strings.Join(ms, "+")))
	}
	for _, w := range r.NoStrongFactor {
		out = append(out, fmt.Sprintf("weak %s %v", w.Key, w.Kinds))
	}
	for _, c := range r.Containers {
		out = append(out, "container "+c.Key)
	}
	for _, v := range r.VirtualMachines {
		out = append(out, "vm "+v.Key)
	}
	for _, u := range r.Unreadable {
		out = append(out, "unreadable "+u.Source)
	}
	for _, d := range r.Duplicates {
		out = append(out, "duplicate "+d.Source+" of "+d.SameAs)
	}
	return out
}

func TestAudit(t *testing.T) {
	vm := func(fs ...string) machine { return machine{class: fingerprint.ClassVM, factors: fs} }
	tests := []struct {
		name     string
		requests []request
		want     []string
		findings int
	}{
		{
			name:     "two machines, two keys",
			requests: []request{{"K1", 0, server1}, {"K2", 1, server2}},
		},
		{
			name: "a lost file requested again, with a new IP and a replaced NIC",
			requests: []request{
				{"K1", 0, server1},
				{"K1", 60, machine{factors: []string{mid1, uuid1, bsn1, mac1, mac3, disk1, ip2}}},
			},
		},
		{
			name: "one server activating two keys",
			requests: []request{
				{"K1", 0, server1},
				{"K2", 5, machine{factors: []string{mid1, uuid1, bsn1, mac1, mac2, disk1, ip2}}},
			},
			want:     []string{"shared same-hardware board-serial,disk-serial,mac,mac,machine-id,product-uuid keys=K1,K2"},
			findings: 1,
		},
		{
			name: "VM clones share the machine-id, not the product-uuid",
			requests: []request{
				{"K1", 0, vm(mid1, uuid1, "mac=52:54:00:12:34:56")},
				{"K2", 1, vm(mid1, uuid2, "mac=52:54:00:12:34:57")},
				{"K3", 2, vm(mid2, uuid3, "mac=52:54:00:12:34:58")},
			},
			want:     []string{"shared clone machine-id keys=K1,K2", "vm K1", "vm K2", "vm K3"},
			findings: 1,
		},
		{
			name: "an image cloned three times; two clones on one host also copied the UUID",
			requests: []request{
				{"K1", 0, vm(mid1, uuid1)},
				{"K2", 1, vm(mid1, uuid1)},
				{"K3", 2, vm(mid1, uuid2)},
			},
			want: []string{
				"shared clone machine-id keys=K1,K2,K3",
				"shared same-hardware product-uuid keys=K1,K2",
				"vm K1", "vm K2", "vm K3",
			},
			findings: 2,
		},
		{
			name: "IPs and locally administered MACs are not identities",
			requests: []request{
				{"K1", 0, machine{factors: []string{mid1, uuid1, lmac, ip1}}},
				{"K2", 1, machine{factors: []string{mid2, uuid2, lmac, ip1}}},
			},
		},
		{
			name: "one key from two machines",
			requests: []request{
				{"K1", 0, server1},
				{"K1", 10, server2},
				{"K1", 20, machine{factors: []string{mid1, uuid1, bsn1, mac1, disk1}}},
			},
			want:     []string{"key K1 machines=2+1"},
			findings: 1,
		},
		{
			name: "a clone sharing only the machine-id is another machine for one key too",
			requests: []request{
				{"K1", 0, vm(mid1, uuid1, mac1)},
				{"K1", 10, vm(mid1, uuid2, mac3)},
			},
			want:     []string{"key K1 machines=1+1", "vm K1", "vm K1"},
			findings: 1,
		},
		{
			name: "no stable factor, in a container",
			requests: []request{
				{"K1", 0, machine{class: fingerprint.ClassContainer, factors: []string{mid1, lmac, ip1}}},
				{"K2", 1, machine{factors: []string{mid2, mac3, disk2}}},
				{"K3", 2, machine{factors: []string{uuid3, disk1}}},
			},
			want: []string{
				"weak K1 [ip mac machine-id]",
				"weak K2 [disk-serial mac machine-id]",
				"container K1",
			},
			findings: 3,
		},
		{
			name: "a software TPM alone is stable but shared by every simulator",
			requests: []request{
				{"K1", 0, machine{factors: []string{mid1, "tpm-ek=000ba199ef77e85d09bd6835b8430f221aebabd45585fd5d5ad8e148c3806a2a3cfd"}}},
				{"K2", 1, machine{factors: []string{mid2, "tpm-ek=000ba199ef77e85d09bd6835b8430f221aebabd45585fd5d5ad8e148c3806a2a3cfd"}}},
			},
			want:     []string{"shared same-hardware tpm-ek keys=K1,K2"},
			findings: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New()
			for i, r := range tt.requests {
				a.Add(fmt.Sprintf("req%d.olr", i+1), newRequest(t, r))
			}
			rep := a.Report()
			if got := summary(rep); !slices.Equal(got, tt.want) {
				t.Errorf("report:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if got := rep.Findings(); got != tt.findings {
				t.Errorf("Findings() = %d, want %d", got, tt.findings)
			}
			if rep.Requests != len(tt.requests) {
				t.Errorf("Requests = %d, want %d", rep.Requests, len(tt.requests))
			}
		})
	}
}

func TestCloneExplanation(t *testing.T) {
	a := New()
	a.Add("a.olr", newRequest(t, request{"K1", 0, machine{class: fingerprint.ClassVM, factors: []string{mid1, uuid1}}}))
	a.Add("b.olr", newRequest(t, request{"K2", 1, machine{class: fingerprint.ClassVM, factors: []string{mid1, uuid2}}}))
	a.Add("c.olr", newRequest(t, request{"K3", 2, machine{factors: []string{mid2, mac1}}}))
	a.Add("d.olr", newRequest(t, request{"K4", 3, machine{factors: []string{mid2, mac3}}}))
	rep := a.Report()
	if len(rep.SharedMachines) != 2 {
		t.Fatalf("got %d shared machines, want 2", len(rep.SharedMachines))
	}
	for i, want := range []string{"not the product-uuid", "only the machine-id"} {
		if s := rep.SharedMachines[i]; !strings.Contains(s.Explanation, want) {
			t.Errorf("finding %d (%v): explanation %q does not say %q", i, s.Keys, s.Explanation, want)
		}
	}
}

func TestSoftwareTPMExplanation(t *testing.T) {
	const ek = "000ba199ef77e85d09bd6835b8430f221aebabd45585fd5d5ad8e148c3806a2a3cfd"
	for _, tt := range []struct {
		source string
		soft   bool
	}{
		{"tpm:sim (ecc-p256 EK)", true},
		{"tpm:mssim:127.0.0.1:2321 (ecc-p256 EK)", true},
		{"tpm:/dev/tpmrm0 (ecc-p256 EK)", false},
	} {
		a := New()
		for i, key := range []string{"K1", "K2"} {
			fp := &fingerprint.Fingerprint{Machine: fingerprint.MachineKind{Class: fingerprint.ClassBareMetal}}
			fp.Add(fingerprint.KindTPMEK, ek, tt.source, false)
			fp.Add(fingerprint.KindMachineID, fmt.Sprintf("%032x", i+1), "/etc/machine-id", false)
			req, err := olr.NewRequest("backup-server", "Acme", key, "host", "olr test", fp, t0)
			if err != nil {
				t.Fatal(err)
			}
			a.Add(key+".olr", req)
		}
		rep := a.Report()
		if len(rep.SharedMachines) != 1 {
			t.Fatalf("%s: %v", tt.source, summary(rep))
		}
		if got := strings.Contains(rep.SharedMachines[0].Explanation, "software TPM"); got != tt.soft {
			t.Errorf("%s: explanation %q", tt.source, rep.SharedMachines[0].Explanation)
		}
	}
}

func TestKeyMachinesScore(t *testing.T) {
	a := New()
	a.Add("a.olr", newRequest(t, request{"K1", 0, server1}))
	a.Add("b.olr", newRequest(t, request{"K1", 1, machine{factors: []string{mid1, uuid2, bsn2, mac3, disk2}}}))
	rep := a.Report()
	if len(rep.KeysOnSeveralMachines) != 1 {
		t.Fatalf("report: %v", summary(rep))
	}
	ms := rep.KeysOnSeveralMachines[0].Machines
	// Only the machine-id (25) of 116 (what server1 recorded) matches.
	if m := ms[1]; m.Score != 25 || m.Total != 116 || m.Threshold != 51 {
		t.Errorf("second machine: score %d of %d (%d%%), want 25 of 116 (51%%)", m.Score, m.Total, m.Threshold)
	}
	if ms[0].Requests[0].Source != "a.olr" || ms[1].Requests[0].Source != "b.olr" {
		t.Errorf("machines out of order: %+v", ms)
	}
}

func TestDuplicatesAndFailures(t *testing.T) {
	a := New()
	req := newRequest(t, request{"K1", 0, server1})
	a.Add("req.olr", req)
	a.Add("copy of req.olr", req)
	a.Failed("other.olr", errors.New("the request was not encrypted to this vendor key"))
	rep := a.Report()
	want := []string{"unreadable other.olr", "duplicate copy of req.olr of req.olr"}
	if got := summary(rep); !slices.Equal(got, want) {
		t.Errorf("report %q, want %q", got, want)
	}
	if rep.Requests != 1 || rep.Keys != 1 || rep.Findings() != 1 {
		t.Errorf("requests %d, keys %d, findings %d; want 1, 1, 1", rep.Requests, rep.Keys, rep.Findings())
	}

	// The same request ID with other content is not a copy: both count.
	other := *req
	other.LicenseKey = "K2"
	a.Add("forged.olr", &other)
	if rep := a.Report(); rep.Requests != 2 || len(rep.SharedMachines) != 1 {
		t.Errorf("after a forged copy: %d requests, %v", rep.Requests, summary(rep))
	}
}

func TestStrong(t *testing.T) {
	tests := []struct {
		f    fingerprint.Factor
		want bool
	}{
		{fingerprint.Factor{Kind: fingerprint.KindMAC, Value: "3c:ec:ef:10:20:30"}, true},
		{fingerprint.Factor{Kind: fingerprint.KindMAC, Value: "02:42:ac:11:00:02"}, false},
		{fingerprint.Factor{Kind: fingerprint.KindMAC, Value: "52:54:00:12:34:56"}, false},
		{fingerprint.Factor{Kind: fingerprint.KindMAC, Value: "00:50:56:01:02:03"}, true},
		{fingerprint.Factor{Kind: fingerprint.KindIP, Value: "192.0.2.1"}, false},
		{fingerprint.Factor{Kind: fingerprint.KindMachineID, Value: "0123456789abcdef0123456789abcdef"}, true},
		{fingerprint.Factor{Kind: fingerprint.KindDiskSerial, Value: "S4EV"}, true},
		{fingerprint.Factor{Kind: "cpu", Value: "x"}, false},
	}
	for _, tt := range tests {
		if got := Strong(tt.f); got != tt.want {
			t.Errorf("Strong(%s) = %v, want %v", tt.f, got, tt.want)
		}
	}
}

// TestReportJSONStable checks that the JSON form has every list, empty
// ones as [], and does not depend on the order requests were added.
func TestReportJSONStable(t *testing.T) {
	reqs := []request{
		{"K1", 0, server1}, {"K2", 1, server1}, {"K3", 2, machine{class: fingerprint.ClassContainer, factors: []string{mid2, lmac}}},
		{"K3", 3, server2}, {"K4", 4, machine{class: fingerprint.ClassVM, factors: []string{mid1, uuid3}}},
	}
	made := make([]*olr.Request, len(reqs))
	for i, r := range reqs {
		made[i] = newRequest(t, r)
	}
	var outs []string
	for _, order := range [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}} {
		a := New()
		for _, i := range order {
			a.Add(fmt.Sprintf("req%d.olr", i), made[i])
		}
		out, err := json.Marshal(a.Report())
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(out))
	}
	if outs[0] != outs[1] || outs[0] != outs[2] {
		t.Errorf("JSON depends on the order of requests:\n%s\n%s\n%s", outs[0], outs[1], outs[2])
	}
	empty, _ := json.Marshal(New().Report())
	const want = `{"format":"olr-audit/v1","requests":0,"keys":0,"shared_machines":[],"keys_on_several_machines":[],"no_strong_factor":[],"containers":[],"virtual_machines":[],"unreadable":[],"duplicates":[]}`
	if string(empty) != want {
		t.Errorf("empty report:\n%s\nwant\n%s", empty, want)
	}
}

func TestNewWithPolicy(t *testing.T) {
	if _, err := NewWithPolicy(fingerprint.Policy{Threshold: 0}); err == nil {
		t.Error("a policy with threshold 0 was accepted")
	}
	// Under a policy that weighs only the TPM, two requests of one key
	// without a TPM can be told apart by nothing: each is its own machine.
	a, err := NewWithPolicy(fingerprint.Policy{Threshold: 51, Weights: map[fingerprint.Kind]int{fingerprint.KindTPMEK: 1}})
	if err != nil {
		t.Fatal(err)
	}
	a.Add("a.olr", newRequest(t, request{"K1", 0, server1}))
	a.Add("b.olr", newRequest(t, request{"K1", 1, server1}))
	if rep := a.Report(); len(rep.KeysOnSeveralMachines) != 1 || len(rep.KeysOnSeveralMachines[0].Machines) != 2 {
		t.Errorf("report: %v", summary(rep))
	}
}

// BenchmarkAudit10k audits 10,000 requests: 9,000 machines with one key
// each, 500 keys requested twice from the same machine, 100 clones of one
// image under their own keys, and 400 keys moved to other hardware.
func BenchmarkAudit10k(b *testing.B) {
	reqs := make([]*olr.Request, 0, 10000)
	hex := func(n, salt int) string { return fmt.Sprintf("%016x%016x", n, salt) }
	mk := func(n, variant int, class string) machine {
		return machine{class: class, factors: []string{
			"machine-id=" + hex(n, 1+variant),
			"product-uuid=" + uuidOf(n, variant),
			fmt.Sprintf("board-serial=BSN%08d-%d", n, variant),
			fmt.Sprintf("mac=3c:ec:%02x:%02x:%02x:%02x", variant, n>>16&0xff, n>>8&0xff, n&0xff),
			fmt.Sprintf("disk-serial=S4EV%08dv%d", n, variant),
			fmt.Sprintf("ip=10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff),
		}}
	}
	for n := range 9000 {
		reqs = append(reqs, newRequest(b, request{fmt.Sprintf("K%05d", n), 0, mk(n, 0, fingerprint.ClassBareMetal)}))
	}
	for n := range 500 {
		reqs = append(reqs, newRequest(b, request{fmt.Sprintf("K%05d", n), 60, mk(n, 0, fingerprint.ClassBareMetal)}))
	}
	for n := range 100 {
		m := machine{class: fingerprint.ClassVM, factors: []string{"machine-id=" + hex(424242, 7), "product-uuid=" + uuidOf(100000+n, 0)}}
		reqs = append(reqs, newRequest(b, request{fmt.Sprintf("C%05d", n), 0, m}))
	}
	for n := range 400 {
		reqs = append(reqs, newRequest(b, request{fmt.Sprintf("K%05d", 1000+n), 90, mk(1000+n, 1, fingerprint.ClassBareMetal)}))
	}
	b.ReportAllocs()
	b.ResetTimer()
	var rep *Report
	for b.Loop() {
		a := New()
		for i, r := range reqs {
			a.Add(strconvName(i), r)
		}
		rep = a.Report()
	}
	if len(rep.SharedMachines) != 1 || len(rep.SharedMachines[0].Keys) != 100 || len(rep.KeysOnSeveralMachines) != 400 {
		b.Fatalf("unexpected report: %d shared, %d keys on several machines", len(rep.SharedMachines), len(rep.KeysOnSeveralMachines))
	}
}

func uuidOf(n, variant int) string {
	return fmt.Sprintf("%08x-0000-4000-8%03x-%012x", n, variant, n+1)
}

func strconvName(i int) string { return fmt.Sprintf("req%05d.olr", i) }
