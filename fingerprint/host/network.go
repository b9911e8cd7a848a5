package host

import (
	"context"
	"fmt"
	"path"
	"strings"

	ghwnet "github.com/jaypipes/ghw/pkg/net"

	"github.com/olr-dev/olr/fingerprint"
)

// Values of /sys/class/net/<if>/addr_assign_type (NET_ADDR_* in the
// kernel's netdevice.h).
const (
	addrPerm   = "0" // burned in, or given by the hypervisor
	addrRandom = "1" // made up by the driver at every boot
	addrStolen = "2" // copied from another device
	addrSet    = "3" // set from user space (bonding, teaming, ip link)
)

// virtualPrefixes name interfaces that are virtual whatever sysfs says: a
// saved tree may have lost the devices/virtual link that proves it.
var virtualPrefixes = []string{
	"docker", "br-", "virbr", "vnet", "veth", "tun", "tap", "wg",
	"ifb", "bond", "team", "dummy", "lxcbr", "lxdbr", "cni", "flannel",
	"cali", "podman", "vxlan", "macvtap", "macvlan", "ip6tnl", "sit",
	"gre", "ipip", "erspan", "nlmon", "zt", "tailscale",
}

// maxListed caps the interface names a single note lists.
const maxListed = 8

// collectNetwork adds the permanent MAC address of every physical NIC.
func (h *host) collectNetwork(_ context.Context, fp *fingerprint.Fingerprint) error {
	if !exists(h.path("/sys/class/net")) {
		fp.Notes = append(fp.Notes, "mac: no /sys/class/net to read")
		return nil
	}
	info, err := ghwnet.New(h.ghw...)
	if err != nil {
		return err
	}
	var virtual []string
	for _, nic := range info.NICs {
		if nic.IsVirtual || h.isVirtualNIC(nic.Name) {
			virtual = append(virtual, nic.Name)
			continue
		}
		h.addNIC(fp, nic)
	}
	if len(virtual) > 0 {
		fp.Notes = append(fp.Notes, "mac: virtual interfaces left out: "+list(virtual))
	}
	return nil
}

func (h *host) isVirtualNIC(name string) bool {
	dir := h.path("/sys/class/net/" + name)
	if hasAnyPrefix(name, virtualPrefixes) {
		return true
	}
	// A physical NIC has a device behind it; bridges, bonds and tunnels
	// have their own marker directories or files.
	return !exists(dir+"/device") || exists(dir+"/bridge") ||
		exists(dir+"/bonding") || exists(dir+"/tun_flags")
}

func (h *host) addNIC(fp *fingerprint.Fingerprint, nic *ghwnet.NIC) {
	name := nic.Name
	rel := "/sys/class/net/" + name
	dir := h.path(rel)
	if t := attr(dir + "/type"); t != "" && t != "1" {
		// ARPHRD_ETHER is 1; Wi-Fi is Ethernet too. InfiniBand and
		// others have addresses that are not MACs.
		fp.Notes = append(fp.Notes, fmt.Sprintf("mac: %s left out: not an Ethernet interface (type %s)", name, t))
		return
	}
	removable := h.onUSB(rel)

	// A bond slave shows the bond's address; the bonding driver keeps
	// the slave's own in perm_hwaddr.
	if perm := attr(dir + "/bonding_slave/perm_hwaddr"); perm != "" {
		fp.Add(fingerprint.KindMAC, perm, rel+"/bonding_slave/perm_hwaddr", removable)
		return
	}
	aat := attr(dir + "/addr_assign_type")
	switch aat {
	case addrRandom:
		fp.Notes = append(fp.Notes, fmt.Sprintf("mac: %s left out: randomised address (addr_assign_type 1)", name))
		return
	case addrStolen, addrSet:
		if h.live {
			hw, err := permAddr(name)
			if err == nil {
				fp.Add(fingerprint.KindMAC, hw, "ethtool:permaddr:"+name, removable)
				return
			}
			fp.Notes = append(fp.Notes, fmt.Sprintf("mac: %s: address was changed (addr_assign_type %s) and the permanent one is unavailable (%v); using the visible one", name, aat, err))
		} else {
			fp.Notes = append(fp.Notes, fmt.Sprintf("mac: %s: address was changed (addr_assign_type %s) and the permanent one is not readable under --root; using the visible one", name, aat))
		}
		fp.Add(fingerprint.KindMAC, attr(dir+"/address"), rel+"/address", removable)
		return
	}
	// ghw reports the address only when addr_assign_type is 0, which is
	// what is wanted; without the attribute (old kernels, partial trees)
	// the visible address is all there is.
	mac := nic.MACAddress
	if mac == "" {
		mac = attr(dir + "/address")
	}
	if mac == "" {
		fp.Notes = append(fp.Notes, fmt.Sprintf("mac: %s has no readable address", name))
		return
	}
	fp.Add(fingerprint.KindMAC, mac, rel+"/address", removable)
}

// onUSB reports whether the device behind the interface at rel (a path
// under /sys/class/net) hangs off a USB bus: such adapters are unplugged
// and moved between machines easily.
func (h *host) onUSB(rel string) bool {
	netDir, err := resolveLink(h.root, rel)
	if err != nil {
		return false
	}
	dev, err := resolveLink(h.root, path.Join(netDir, "device"))
	if err != nil {
		return false
	}
	return onUSBBus(dev)
}

// onUSBBus reports whether a sysfs device path goes through a USB host
// controller's root hub ("/devices/pci0000:00/0000:00:14.0/usb2/2-1/...").
func onUSBBus(devPath string) bool {
	for _, el := range strings.Split(devPath, "/") {
		if n, ok := strings.CutPrefix(el, "usb"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
			return true
		}
	}
	return false
}

func list(names []string) string {
	if len(names) > maxListed {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
	}
	return strings.Join(names, ", ")
}
