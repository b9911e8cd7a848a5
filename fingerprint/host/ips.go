package host

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"github.com/olr-dev/olr/fingerprint"
)

// sharedBridgePrefixes name host-side bridges of container and VM tools.
// Their addresses (172.17.0.1 on docker0, 192.168.122.1 on virbr0) are
// the same on every machine that runs the tool, so they identify nothing.
var sharedBridgePrefixes = []string{
	"docker", "br-", "virbr", "lxcbr", "lxdbr", "cni", "podman", "cali",
	"flannel", "veth", "vnet",
}

// collectIPs adds the unicast addresses of the interfaces that are up. It
// reads the running kernel, so it has nothing to say about a root.
// Failures are notes, not errors: addresses change anyway and weigh
// little, and a sandbox that refuses netlink must not stop an activation.
func (h *host) collectIPs(_ context.Context, fp *fingerprint.Fingerprint) error {
	if !h.live {
		fp.Notes = append(fp.Notes, "ip: live-only source skipped under --root")
		return nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		fp.Notes = append(fp.Notes, "ip: cannot list interfaces: "+err.Error())
		return nil
	}
	var shared []string
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if hasAnyPrefix(ifi.Name, sharedBridgePrefixes) {
			shared = append(shared, ifi.Name)
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			fp.Notes = append(fp.Notes, "ip: cannot list addresses of "+ifi.Name+": "+err.Error())
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			// Every IPv6 interface has a link-local address: leaving
			// them out here spares a note per interface.
			if ip = ip.Unmap(); ip.IsLinkLocalUnicast() || ip.IsLoopback() {
				continue
			}
			fp.Add(fingerprint.KindIP, ip.String(), "iface:"+ifi.Name, false)
		}
	}
	if len(shared) > 0 {
		fp.Notes = append(fp.Notes, "ip: addresses of container and VM bridges left out: "+list(shared))
	}
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
