package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/jaypipes/ghw/pkg/baseboard"
	"github.com/jaypipes/ghw/pkg/block"
	ghwnet "github.com/jaypipes/ghw/pkg/net"
	"github.com/jaypipes/ghw/pkg/product"

	"github.com/olr-dev/olr/fingerprint"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the fixtures")

// fixtures are the roots built by testdata/mkfixtures.sh.
var fixtures = []string{"baremetal", "kvm", "container", "bonded"}

// liveOnly stands for a live-only extra collector such as the TPM: under
// a root it must be skipped, never run.
type liveOnly struct{ t *testing.T }

func (liveOnly) Name() string { return "tpm" }
func (c liveOnly) Collect(context.Context, *fingerprint.Fingerprint) error {
	c.t.Error("extra collector ran under a root")
	return nil
}

func fixtureRoot(t testing.TB, name string) string {
	root := filepath.Join("testdata", name)
	// Module zips drop testdata (see testdata/go.mod) and symlinks.
	if fi, err := os.Lstat(filepath.Join(root, "sys/class/net/lo")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Skipf("fixture %s is not checked out with its symlinks", name)
	}
	return root
}

func TestFixtures(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			root := fixtureRoot(t, name)
			fp, err := Collect(t.Context(), Options{Root: root, Extra: []fingerprint.Collector{liveOnly{t}}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(fp, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("fingerprint of %s differs from %s (go test -update rewrites it)\ngot:\n%s", root, golden, got)
			}
		})
	}
}

// TestFixtureFacts states, independently of the goldens, what each fixture
// exists to test, so that an -update cannot quietly bless a regression.
func TestFixtureFacts(t *testing.T) {
	type fact struct {
		class, detail string
		macs          []string
		removableMACs []string
		disks         []string
		notes         []string // substrings that some note must contain
		absent        []fingerprint.Kind
	}
	facts := map[string]fact{
		"baremetal": {
			class:         fingerprint.ClassBareMetal,
			macs:          []string{"00:e0:4c:68:00:42", "3c:ec:ef:12:a4:01", "b4:96:91:5c:2e:10"},
			removableMACs: []string{"00:e0:4c:68:00:42"},
			disks:         []string{"PHLJ912300AB1P0FGN", "S626NF0R412345A"},
			notes: []string{
				"virtual interfaces left out: br0, docker0, veth3f1a2b9",
				"wlp0s20f3 left out: randomised address",
				"sdb left out: removable",
				"ip: live-only source skipped under --root",
				"tpm: live-only source skipped under --root",
				"/etc/machine-id has a value",
			},
		},
		"kvm": {
			class: fingerprint.ClassVM, detail: "kvm",
			macs:   []string{"52:54:00:8a:3c:51"},
			notes:  []string{"no serial for vda", "/etc/machine-id has a value"},
			absent: []fingerprint.Kind{fingerprint.KindProductSerial, fingerprint.KindBoardSerial, fingerprint.KindDiskSerial},
		},
		"container": {
			class: fingerprint.ClassContainer, detail: "docker",
			notes:  []string{"virtual interfaces left out: eth0", "/etc/machine-id is missing", "no /sys/class/dmi/id"},
			absent: []fingerprint.Kind{fingerprint.KindMAC, fingerprint.KindMachineID, fingerprint.KindDiskSerial},
		},
		"bonded": {
			class: fingerprint.ClassBareMetal,
			macs:  []string{"0c:c4:7a:31:5e:20", "0c:c4:7a:31:5e:21"},
			disks: []string{"WD-WCC7K4KL2JXT"},
			notes: []string{
				"product-uuid from /sys/class/dmi/id/product_uuid left out: placeholder",
				"product-serial from /sys/class/dmi/id/product_serial left out: placeholder",
				"board-serial from /sys/class/dmi/id/board_serial left out: placeholder",
				"virtual interfaces left out: bond0",
				"/etc/machine-id is empty",
			},
			absent: []fingerprint.Kind{fingerprint.KindProductUUID, fingerprint.KindProductSerial, fingerprint.KindBoardSerial, fingerprint.KindMachineID},
		},
	}
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			f := facts[name]
			fp, err := Collect(t.Context(), Options{Root: fixtureRoot(t, name), Extra: []fingerprint.Collector{liveOnly{t}}})
			if err != nil {
				t.Fatal(err)
			}
			if fp.Machine.Class != f.class || fp.Machine.Detail != f.detail {
				t.Errorf("machine = %+v, want %s/%s", fp.Machine, f.class, f.detail)
			}
			values := func(k fingerprint.Kind, removable bool) []string {
				var vs []string
				for _, x := range fp.Factors {
					if x.Kind == k && (!removable || x.Removable) {
						vs = append(vs, x.Value)
					}
				}
				return vs
			}
			if got := values(fingerprint.KindMAC, false); !slices.Equal(got, f.macs) {
				t.Errorf("macs = %q, want %q", got, f.macs)
			}
			if got := values(fingerprint.KindMAC, true); !slices.Equal(got, f.removableMACs) {
				t.Errorf("removable macs = %q, want %q", got, f.removableMACs)
			}
			if got := values(fingerprint.KindDiskSerial, false); !slices.Equal(got, f.disks) {
				t.Errorf("disk serials = %q, want %q", got, f.disks)
			}
			if got := values(fingerprint.KindIP, false); len(got) > 0 {
				t.Errorf("IP factors under a root: %q", got)
			}
			for _, k := range f.absent {
				if got := values(k, false); len(got) > 0 {
					t.Errorf("%s = %q, want none", k, got)
				}
			}
			for _, want := range f.notes {
				if !slices.ContainsFunc(fp.Notes, func(n string) bool { return strings.Contains(n, want) }) {
					t.Errorf("no note contains %q; notes:\n%q", want, fp.Notes)
				}
			}
		})
	}
}

func TestCollectorNames(t *testing.T) {
	var names []string
	for _, c := range Collectors(Options{}) {
		names = append(names, c.Name())
	}
	if want := []string{"network", "ips", "machine-id", "dmi", "disks"}; !slices.Equal(names, want) {
		t.Errorf("collectors = %q, want %q", names, want)
	}
}

func TestCollectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Collect(ctx, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestCollectLive(t *testing.T) {
	fp, err := Collect(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(fp.Factors, func(a, b fingerprint.Factor) int {
		if a.Kind != b.Kind {
			return strings.Compare(string(a.Kind), string(b.Kind))
		}
		return strings.Compare(a.Value, b.Value)
	}) {
		t.Error("factors are not sorted")
	}
	for _, n := range fp.Notes {
		if strings.Contains(n, "--root") {
			t.Errorf("live collection notes a root: %q", n)
		}
	}
	t.Logf("machine %+v, %d factors, notes %q", fp.Machine, len(fp.Factors), fp.Notes)
}

func TestAuditImage(t *testing.T) {
	tests := []struct {
		name  string
		setup func(root string)
		want  []string
	}{
		{"value", func(r string) { write(t, r, "etc/machine-id", "6a1c3e4f0b2d4e8f9a7b5c3d1e0f2a4b\n") },
			[]string{"has a value: every machine cloned"}},
		{"empty", func(r string) { write(t, r, "etc/machine-id", "") },
			[]string{"/etc/machine-id is empty"}},
		{"uninitialized", func(r string) { write(t, r, "etc/machine-id", "uninitialized\n") },
			[]string{`/etc/machine-id is "uninitialized"`}},
		{"missing", func(r string) {}, []string{"/etc/machine-id is missing"}},
		{"dbus copy", func(r string) {
			write(t, r, "etc/machine-id", "")
			write(t, r, "var/lib/dbus/machine-id", "6a1c3e4f0b2d4e8f9a7b5c3d1e0f2a4b\n")
		}, []string{"/etc/machine-id is empty", "/var/lib/dbus/machine-id has a value"}},
		{"dbus link", func(r string) {
			write(t, r, "etc/machine-id", "")
			if err := os.MkdirAll(filepath.Join(r, "var/lib/dbus"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/etc/machine-id", filepath.Join(r, "var/lib/dbus/machine-id")); err != nil {
				t.Fatal(err)
			}
		}, []string{"/etc/machine-id is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.setup(root)
			got := AuditImage(root)
			if len(got) != len(tt.want) {
				t.Fatalf("notes = %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("note %d = %q, want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResolveInRoot checks that an image's absolute symlinks and ".."
// are resolved inside the image, never on the machine running olr.
func TestResolveInRoot(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/machine-id", "inside\n")
	for _, l := range []struct{ target, name string }{
		{"/etc/machine-id", "var/lib/dbus/machine-id"},
		{"../../../../../../etc/machine-id", "var/lib/dbus/up"},
		{"/var/lib/dbus", "dbus"},
		{"loop", "loop"},
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, l.name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(l.target, filepath.Join(root, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"/var/lib/dbus/machine-id", "/var/lib/dbus/up", "/dbus/machine-id", "/dbus/../etc/machine-id"} {
		got, err := readInRoot(root, p)
		if err != nil || got != "inside" {
			t.Errorf("readInRoot(%q) = %q, %v; want the file inside the root", p, got, err)
		}
	}
	if _, err := readInRoot(root, "/loop"); err == nil {
		t.Error("a symlink loop resolved")
	}
}

func TestParseVPD80(t *testing.T) {
	tests := []struct {
		page []byte
		want string
	}{
		{[]byte("\x00\x80\x00\x14WD-WCC7K4KL2JXT     "), "WD-WCC7K4KL2JXT"},
		{[]byte("\x00\x80\x00\x0a  S3Z9NB0K\x00\x00"), "S3Z9NB0K"},
		{[]byte("\x00\x80\x00\xffshort"), "short"},
		{[]byte("\x00\x83\x00\x04abcd"), ""}, // another VPD page
		{[]byte("\x00\x80"), ""},
	}
	for _, tt := range tests {
		if got := parseVPD80(tt.page); got != tt.want {
			t.Errorf("parseVPD80(%q) = %q, want %q", tt.page, got, tt.want)
		}
	}
}

func TestOnUSBBus(t *testing.T) {
	tests := map[string]bool{
		"/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0":           true,
		"/sys/devices/platform/soc/3f980000.usb/usb1/1-1/1-1.1/1-1.1:1.0": true,
		"/sys/devices/pci0000:00/0000:00:1f.6":                            false,
		"/sys/devices/pci0000:00/0000:00:03.0/virtio0":                    false,
		"/sys/devices/platform/usbmisc":                                   false,
	}
	for p, want := range tests {
		if got := onUSBBus(p); got != want {
			t.Errorf("onUSBBus(%q) = %v, want %v", p, got, want)
		}
	}
}

// BenchmarkCollect is what "olr fingerprint --tpm none" spends collecting.
func BenchmarkCollect(b *testing.B) {
	for b.Loop() {
		if _, err := Collect(b.Context(), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollectGHW is the share of BenchmarkCollect spent inside ghw.
func BenchmarkCollectGHW(b *testing.B) {
	h := newHost(Options{})
	for b.Loop() {
		if _, err := ghwnet.New(h.ghw...); err != nil {
			b.Fatal(err)
		}
		if exists(h.path(dmiDir)) {
			if _, err := product.New(h.ghw...); err != nil {
				b.Fatal(err)
			}
			if _, err := baseboard.New(h.ghw...); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := block.New(h.ghw...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollectFixture collects the bare-metal fixture, which has more
// NICs, disks and DMI than most machines a benchmark runs on.
func BenchmarkCollectFixture(b *testing.B) {
	root := fixtureRoot(b, "baremetal")
	for b.Loop() {
		if _, err := Collect(b.Context(), Options{Root: root}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestContainerWithoutMarkers classifies a saved container tree that has
// neither /.dockerenv nor /run/.containerenv: no DMI, only virtual NICs.
func TestContainerWithoutMarkers(t *testing.T) {
	root := t.TempDir()
	write(t, root, "sys/devices/virtual/net/eth0/address", "0a:58:0a:80:00:05\n")
	if err := os.MkdirAll(filepath.Join(root, "sys/class/net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../devices/virtual/net/eth0", filepath.Join(root, "sys/class/net/eth0")); err != nil {
		t.Fatal(err)
	}
	fp, err := Collect(t.Context(), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if fp.Machine.Class != fingerprint.ClassContainer {
		t.Errorf("machine = %+v, want a container", fp.Machine)
	}

	// An image with no sysfs at all is not known to be anything.
	fp, err = Collect(t.Context(), Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if fp.Machine.Class != fingerprint.ClassUnknown {
		t.Errorf("empty root: machine = %+v, want unknown", fp.Machine)
	}
}

func TestCollectBadRoot(t *testing.T) {
	for _, root := range []string{filepath.Join(t.TempDir(), "missing"), "host_test.go"} {
		if _, err := Collect(t.Context(), Options{Root: root}); err == nil {
			t.Errorf("Collect(Root: %q) succeeded", root)
		}
	}
}

func TestDMINote(t *testing.T) {
	rel := "/sys/class/dmi/id/product_uuid"
	perm := &fs.PathError{Op: "open", Path: "/sys/class/dmi/id/product_uuid", Err: syscall.EACCES}
	if got, want := dmiNote(fingerprint.KindProductUUID, rel, perm), "product-uuid: /sys/class/dmi/id/product_uuid not readable (needs root)"; got != want {
		t.Errorf("dmiNote(EACCES) = %q, want %q", got, want)
	}
	missing := &fs.PathError{Op: "open", Path: rel, Err: syscall.ENOENT}
	if got, want := dmiNote(fingerprint.KindProductUUID, rel, missing), "product-uuid: no /sys/class/dmi/id/product_uuid"; got != want {
		t.Errorf("dmiNote(ENOENT) = %q, want %q", got, want)
	}
}

// nicTree lays out one interface the way mkfixtures.sh does.
func nicTree(t *testing.T, root, name, devdir, addr, aat string) string {
	t.Helper()
	dir := filepath.Join(root, "sys/devices", devdir, "net", name)
	write(t, root, filepath.Join("sys/devices", devdir, "net", name, "address"), addr+"\n")
	write(t, root, filepath.Join("sys/devices", devdir, "net", name, "addr_assign_type"), aat+"\n")
	write(t, root, filepath.Join("sys/devices", devdir, "net", name, "type"), "1\n")
	if err := os.MkdirAll(filepath.Join(root, "sys/class/net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("../../devices", devdir, "net", name), filepath.Join(root, "sys/class/net", name)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("../../..", filepath.Base(devdir)), filepath.Join(dir, "device")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestNICAddressKinds covers the address cases the four fixtures do not:
// Wi-Fi with its burned-in address, an address set by hand (its permanent
// one is unknowable under a root), an address stolen from another device,
// and a non-Ethernet interface.
func TestNICAddressKinds(t *testing.T) {
	root := t.TempDir()
	nicTree(t, root, "wlp2s0", "pci0000:00/0000:00:1c.0/0000:02:00.0", "a4:34:d9:01:02:03", "0")
	nicTree(t, root, "enp3s0", "pci0000:00/0000:00:1c.1/0000:03:00.0", "02:11:22:33:44:55", "3")
	nicTree(t, root, "enp4s0", "pci0000:00/0000:00:1c.2/0000:04:00.0", "02:11:22:33:44:66", "2")
	ib := nicTree(t, root, "ibp5s0", "pci0000:00/0000:00:1c.3/0000:05:00.0", "80:00:02:08:fe:80:00:00:00:00:00:00:0c:42:a1:03:00:6e:5a:01", "0")
	write(t, root, strings.TrimPrefix(ib, root)+"/type", "32\n")

	fp, err := Collect(t.Context(), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var macs []string
	for _, f := range fp.Factors {
		if f.Kind == fingerprint.KindMAC {
			macs = append(macs, f.Value+" "+f.Source)
		}
	}
	want := []string{
		"02:11:22:33:44:55 /sys/class/net/enp3s0/address",
		"02:11:22:33:44:66 /sys/class/net/enp4s0/address",
		"a4:34:d9:01:02:03 /sys/class/net/wlp2s0/address",
	}
	if !slices.Equal(macs, want) {
		t.Errorf("macs = %q, want %q", macs, want)
	}
	for _, n := range []string{
		"enp3s0: address was changed (addr_assign_type 3) and the permanent one is not readable under --root",
		"enp4s0: address was changed (addr_assign_type 2)",
		"ibp5s0 left out: not an Ethernet interface (type 32)",
	} {
		if !slices.ContainsFunc(fp.Notes, func(s string) bool { return strings.Contains(s, n) }) {
			t.Errorf("no note contains %q; notes: %q", n, fp.Notes)
		}
	}
}
