package host

import (
	"bytes"
	"os"
	"strings"

	"github.com/olr-dev/olr/fingerprint"
)

// hypervisors maps substrings of DMI vendor and product strings to a
// hypervisor name, after systemd-detect-virt's table; the first match
// wins. QEMU's DMI is the same with or without KVM, and a QEMU guest in
// service runs on KVM, so "QEMU" says "kvm".
var hypervisors = []struct{ match, name string }{
	{"KVM", "kvm"},
	{"OpenStack", "kvm"},
	{"KubeVirt", "kvm"},
	{"QEMU", "kvm"},
	{"Amazon EC2", "amazon"},
	{"Google Compute Engine", "google"},
	{"Google", "google"},
	{"VMware", "vmware"},
	{"VMW", "vmware"},
	{"innotek GmbH", "virtualbox"},
	{"VirtualBox", "virtualbox"},
	{"Xen", "xen"},
	{"HVM domU", "xen"},
	{"Bochs", "bochs"},
	{"Parallels", "parallels"},
	{"BHYVE", "bhyve"},
	{"Hyper-V", "hyper-v"},
	{"Apple Virtualization", "apple"},
}

// machineKind classifies the machine: container first (a container on a
// VM is still a container to the vendor), then virtual machine, then bare
// metal when the firmware tables are there and name no hypervisor.
func (h *host) machineKind() fingerprint.MachineKind {
	if rt, ok := h.containerRuntime(); ok {
		return fingerprint.MachineKind{Class: fingerprint.ClassContainer, Detail: rt}
	}
	d, _ := h.readDMI()
	if d.present {
		if mk, ok := dmiKind(d); ok {
			return mk
		}
	}
	if t := attr(h.path("/sys/hypervisor/type")); t != "" {
		return fingerprint.MachineKind{Class: fingerprint.ClassVM, Detail: strings.ToLower(t)}
	}
	if d.present {
		return fingerprint.MachineKind{Class: fingerprint.ClassBareMetal}
	}
	if h.live && cpuHypervisorFlag() {
		return fingerprint.MachineKind{Class: fingerprint.ClassVM}
	}
	return fingerprint.MachineKind{Class: fingerprint.ClassUnknown}
}

// dmiKind returns the machine kind the DMI strings show, if they name a
// hypervisor or a cloud.
func dmiKind(d dmiInfo) (fingerprint.MachineKind, bool) {
	p, b := d.product, d.board
	vm := func(name string) (fingerprint.MachineKind, bool) {
		return fingerprint.MachineKind{Class: fingerprint.ClassVM, Detail: name}, true
	}
	if p.Vendor == "Microsoft Corporation" && p.Name == "Virtual Machine" {
		return vm("hyper-v")
	}
	for _, s := range []string{p.Vendor, p.Name, p.Version, b.Vendor} {
		for _, hv := range hypervisors {
			if !strings.Contains(s, hv.match) {
				continue
			}
			// EC2 bare-metal instances say "Amazon EC2" too; their
			// instance type, the product name, ends in ".metal".
			if hv.name == "amazon" && strings.HasSuffix(p.Name, ".metal") {
				return fingerprint.MachineKind{Class: fingerprint.ClassBareMetal, Detail: "amazon"}, true
			}
			return vm(hv.name)
		}
	}
	return fingerprint.MachineKind{}, false
}

// containerRuntime reports whether the root or the live host shows signs
// of a container, and names the runtime when it can.
func (h *host) containerRuntime() (string, bool) {
	switch {
	case exists(h.path("/.dockerenv")):
		return "docker", true
	case exists(h.path("/run/.containerenv")):
		return "podman", true
	}
	// systemd-nspawn, LXC and others tell systemd through this file.
	if c := attr(h.path("/run/systemd/container")); c != "" {
		return c, true
	}
	if h.live {
		// Readable by root only; a container's PID 1 carries container=.
		if env, err := os.ReadFile("/proc/1/environ"); err == nil {
			for _, kv := range bytes.Split(env, []byte{0}) {
				if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok && len(v) > 0 {
					return string(v), true
				}
			}
		}
		if cg, err := os.ReadFile("/proc/1/cgroup"); err == nil {
			for _, rt := range []string{"docker", "kubepods", "libpod", "lxc", "containerd"} {
				if bytes.Contains(cg, []byte(rt)) {
					return strings.TrimSuffix(rt, "pods"), true
				}
			}
		}
		return "", false
	}
	// A saved tree of a container: network interfaces, all of them
	// virtual, and no firmware tables.
	if exists(h.path(dmiDir)) {
		return "", false
	}
	ents, err := os.ReadDir(h.path("/sys/class/net"))
	if err != nil || len(ents) == 0 {
		return "", false
	}
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 {
			continue // bonding_masters
		}
		l, err := resolveLink(h.root, "/sys/class/net/"+e.Name())
		if err != nil || !strings.HasPrefix(l, "/sys/devices/virtual/") {
			return "", false
		}
	}
	return "", true
}

// cpuHypervisorFlag reports whether the CPU says it runs under a
// hypervisor (CPUID leaf 1, ECX bit 31, shown in /proc/cpuinfo).
func cpuHypervisorFlag() bool {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	// The flags line of the first CPU is within the first few KiB.
	buf := make([]byte, 16<<10)
	n, _ := f.Read(buf)
	for _, line := range bytes.Split(buf[:n], []byte{'\n'}) {
		if bytes.HasPrefix(line, []byte("flags")) {
			return bytes.Contains(line, []byte(" hypervisor"))
		}
	}
	return false
}
