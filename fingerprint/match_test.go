package fingerprint_test

import (
	"bytes"
	"maps"
	"testing"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr/olrtest"
)

// server is a bare-metal machine with every kind of factor.
func server() *fingerprint.Fingerprint {
	fp := &fingerprint.Fingerprint{}
	fp.Add(fingerprint.KindMAC, "3c:ec:ef:12:34:56", "eno1", false)
	fp.Add(fingerprint.KindMAC, "3c:ec:ef:12:34:57", "eno2", false)
	fp.Add(fingerprint.KindIP, "10.20.30.40", "eno1", false)
	fp.Add(fingerprint.KindMachineID, "4f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f", "machine-id", false)
	fp.Add(fingerprint.KindProductUUID, "9d8c7b6a-5f4e-3d2c-1b0a-998877665544", "dmi", false)
	fp.Add(fingerprint.KindBoardSerial, "BSN-0042-7781", "dmi", false)
	fp.Add(fingerprint.KindProductSerial, "PSN-1234", "dmi", false)
	fp.Add(fingerprint.KindDiskSerial, "S4EWNX0R123456", "nvme0n1", false)
	fp.Add(fingerprint.KindTPMEK, "000b6b2f1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c", "tpm", false)
	return fp
}

// vm is a KVM guest: no TPM, no serials, one virtio NIC.
func vm() *fingerprint.Fingerprint {
	fp := &fingerprint.Fingerprint{}
	fp.Add(fingerprint.KindMAC, "52:54:00:ab:cd:ef", "ens3", false)
	fp.Add(fingerprint.KindIP, "192.168.122.10", "ens3", false)
	fp.Add(fingerprint.KindMachineID, "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "machine-id", false)
	fp.Add(fingerprint.KindProductUUID, "1e2d3c4b-5a69-7887-96a5-b4c3d2e1f001", "dmi", false)
	return fp
}

// edit returns a copy of fp with the values of kind replaced (or removed
// when vals is empty).
func edit(fp *fingerprint.Fingerprint, k fingerprint.Kind, old string, vals ...string) *fingerprint.Fingerprint {
	out := &fingerprint.Fingerprint{}
	for _, f := range fp.Factors {
		if f.Kind == k && (old == "" || f.Value == old) {
			continue
		}
		out.Factors = append(out.Factors, f)
	}
	for _, v := range vals {
		out.Add(k, v, "edited", false)
	}
	return out
}

func TestMatchPolicy(t *testing.T) {
	salt := bytes.Repeat([]byte{1}, fingerprint.SaltSize)
	requireTPM := fingerprint.DefaultPolicy()
	requireTPM.Required = []fingerprint.Kind{fingerprint.KindTPMEK}
	ignoreDisks := fingerprint.DefaultPolicy()
	ignoreDisks.Weights = maps.Clone(ignoreDisks.Weights)
	ignoreDisks.Weights[fingerprint.KindDiskSerial] = 0
	const newTPM = "000b0000000000000000000000000000000000000000000000000000000000000001"
	cases := []struct {
		name     string
		licensed *fingerprint.Fingerprint
		policy   fingerprint.Policy
		now      *fingerprint.Fingerprint
		pass     bool
		partial  bool
	}{
		{"same machine", server(), fingerprint.DefaultPolicy(), server(), true, true},
		{"IP changed", server(), fingerprint.DefaultPolicy(), edit(server(), fingerprint.KindIP, "", "10.99.0.7"), true, true},
		{"one NIC replaced", server(), fingerprint.DefaultPolicy(), edit(server(), fingerprint.KindMAC, "3c:ec:ef:12:34:57", "a0:36:9f:00:11:22"), true, true},
		{"both NICs replaced", server(), fingerprint.DefaultPolicy(), edit(server(), fingerprint.KindMAC, "", "a0:36:9f:00:11:22"), true, true},
		{"disk replaced", server(), fingerprint.DefaultPolicy(), edit(server(), fingerprint.KindDiskSerial, "", "WD-NEWDISK01"), true, true},
		{"OS reinstalled", server(), fingerprint.DefaultPolicy(), edit(server(), fingerprint.KindMachineID, "", "ffeeddccbbaa99887766554433221100"), true, true},
		{"TPM replaced", server(), fingerprint.DefaultPolicy(), edit(server(), fingerprint.KindTPMEK, "", newTPM), true, true},
		{"TPM replaced, TPM required", server(), requireTPM, edit(server(), fingerprint.KindTPMEK, "", newTPM), false, true},
		{"TPM gone, TPM required", server(), requireTPM, edit(server(), fingerprint.KindTPMEK, ""), false, true},
		{"mainboard replaced", server(), fingerprint.DefaultPolicy(),
			edit(edit(edit(edit(server(), fingerprint.KindTPMEK, "", newTPM), fingerprint.KindProductUUID, "", "11111111-2222-3333-4444-555555555555"), fingerprint.KindBoardSerial, "", "NEWBOARD"), fingerprint.KindProductSerial, "", "NEWSERIAL"),
			false, true},
		{"another server", server(), fingerprint.DefaultPolicy(), vm(), false, false},
		{"another server sharing only a disk the policy ignores", server(), ignoreDisks,
			func() *fingerprint.Fingerprint {
				fp := vm()
				fp.Add(fingerprint.KindDiskSerial, "S4EWNX0R123456", "sda", false)
				return fp
			}(), false, false},
		{"another server sharing a disk the policy weighs", server(), fingerprint.DefaultPolicy(),
			func() *fingerprint.Fingerprint {
				fp := vm()
				fp.Add(fingerprint.KindDiskSerial, "S4EWNX0R123456", "sda", false)
				return fp
			}(), false, true},
		{"VM: same", vm(), fingerprint.DefaultPolicy(), vm(), true, true},
		{"VM: IP changed", vm(), fingerprint.DefaultPolicy(), edit(vm(), fingerprint.KindIP, "", "192.168.122.77"), true, true},
		{"VM: NIC replaced", vm(), fingerprint.DefaultPolicy(), edit(vm(), fingerprint.KindMAC, "", "52:54:00:00:00:99"), true, true},
		{"VM clone: same machine-id and IP, other hardware", vm(), fingerprint.DefaultPolicy(),
			edit(edit(vm(), fingerprint.KindMAC, "", "52:54:00:12:12:12"), fingerprint.KindProductUUID, "", "99999999-8888-7777-6666-555555555555"), false, false},
		{"same machine booted in a container", server(), fingerprint.DefaultPolicy(),
			func() *fingerprint.Fingerprint {
				fp := olrtest.Only(server(), fingerprint.KindIP)
				fp.Add(fingerprint.KindMachineID, "c0ffee00c0ffee00c0ffee00c0ffee00", "container", false)
				return fp
			}(), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := fingerprint.Bind(c.licensed, salt, c.policy)
			if err != nil {
				t.Fatal(err)
			}
			r := b.Match(c.now)
			if r.Pass != c.pass || r.Partial != c.partial {
				t.Fatalf("pass=%v partial=%v (score %d of %d), want pass=%v partial=%v\n%+v",
					r.Pass, r.Partial, r.Score, r.Total, c.pass, c.partial, r.Entries)
			}
			if !r.Pass && r.Needed() == 0 && len(r.RequiredUnmatched) == 0 {
				t.Fatal("failed match but nothing needed")
			}
		})
	}
}

func TestMatchReportStatuses(t *testing.T) {
	salt := bytes.Repeat([]byte{2}, fingerprint.SaltSize)
	b, err := fingerprint.Bind(server(), salt, fingerprint.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	now := edit(server(), fingerprint.KindMAC, "3c:ec:ef:12:34:57", "a0:36:9f:00:11:22") // changed
	now = edit(now, fingerprint.KindDiskSerial, "")                                      // missing
	now.Add(fingerprint.KindIP, "10.0.0.9", "new", false)                                // new
	count := map[fingerprint.Status]int{}
	for _, e := range b.Match(now).Entries {
		count[e.Status]++
		if e.Status == fingerprint.Missing && e.Value != "" {
			t.Errorf("missing entry carries a value: %+v", e)
		}
	}
	want := map[fingerprint.Status]int{fingerprint.Matched: 7, fingerprint.Changed: 1, fingerprint.Missing: 1, fingerprint.New: 1}
	for s, n := range want {
		if count[s] != n {
			t.Errorf("%s: %d entries, want %d (%v)", s, count[s], n, count)
		}
	}
}

func TestHashesAreSaltedAndKindBound(t *testing.T) {
	a := fingerprint.HashFactor(bytes.Repeat([]byte{1}, 32), fingerprint.KindDiskSerial, "X1")
	b := fingerprint.HashFactor(bytes.Repeat([]byte{2}, 32), fingerprint.KindDiskSerial, "X1")
	c := fingerprint.HashFactor(bytes.Repeat([]byte{1}, 32), fingerprint.KindBoardSerial, "X1")
	if a == b || a == c {
		t.Fatal("hash ignores the salt or the kind")
	}
}

func TestBindRefusesUnweighted(t *testing.T) {
	p := fingerprint.DefaultPolicy()
	p.Weights = map[fingerprint.Kind]int{fingerprint.KindTPMEK: 10}
	if _, err := fingerprint.Bind(vm(), bytes.Repeat([]byte{1}, 32), p); err == nil {
		t.Fatal("bound a fingerprint no factor of which carries weight")
	}
}
