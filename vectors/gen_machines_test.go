package vectors

import (
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/olr-dev/olr/fingerprint"
)

// Machines. Values are in normal form (fingerprint.Normalize).

func tpmName(label string) string { return "000b" + hex.EncodeToString(testSeed("tpm/"+label)) }

func factors(kv ...string) []fingerprint.Factor {
	var out []fingerprint.Factor
	for i := 0; i < len(kv); i += 2 {
		k := fingerprint.Kind(kv[i])
		v, err := fingerprint.Normalize(k, kv[i+1])
		if err != nil || v != kv[i+1] {
			panic(fmt.Sprintf("factor %s %q is not in normal form", k, kv[i+1]))
		}
		out = append(out, fingerprint.Factor{Kind: k, Value: v, Source: "test vector"})
	}
	return out
}

// machineA is the licensed machine.
var machineA = factors(
	"board-serial", "BSN0042778100",
	"disk-serial", "S4EWNX0R123456",
	"disk-serial", "WD-WX12A3456789",
	"ip", "192.0.2.10",
	"ip", "2001:db8::10",
	"mac", "3c:ec:ef:10:20:31",
	"mac", "3c:ec:ef:10:20:32",
	"machine-id", "8f3c2a5e9b7d4c1f0a6e2d8b3c5f7a91",
	"product-serial", "CZJ1234ABC",
	"product-uuid", "4c4c4544-0042-3510-8051-b4c04f4d3732",
	"tpm-ek", tpmName("machine A"),
)

// machineATPMSwapped is machine A with its TPM replaced and a new DHCP
// lease: it still matches under the default policy.
var machineATPMSwapped = factors(
	"board-serial", "BSN0042778100",
	"disk-serial", "S4EWNX0R123456",
	"disk-serial", "WD-WX12A3456789",
	"ip", "192.0.2.77",
	"ip", "2001:db8::10",
	"mac", "3c:ec:ef:10:20:31",
	"mac", "3c:ec:ef:10:20:32",
	"machine-id", "8f3c2a5e9b7d4c1f0a6e2d8b3c5f7a91",
	"product-serial", "CZJ1234ABC",
	"product-uuid", "4c4c4544-0042-3510-8051-b4c04f4d3732",
	"tpm-ek", tpmName("machine A, replacement TPM"),
)

// machineADrifted is machine A after a motherboard replacement: new
// board, system serials, UUID, TPM, onboard NICs and address; the same
// disks and OS installation (machine-id). 40 of 176 under the default
// policy: no match, but a partial one.
var machineADrifted = factors(
	"board-serial", "BSN0099120455",
	"disk-serial", "S4EWNX0R123456",
	"disk-serial", "WD-WX12A3456789",
	"ip", "192.0.2.88",
	"mac", "3c:ec:ef:33:41:07",
	"mac", "3c:ec:ef:33:41:08",
	"machine-id", "8f3c2a5e9b7d4c1f0a6e2d8b3c5f7a91",
	"product-serial", "CZJ9876XYZ",
	"product-uuid", "4c4c4544-0057-4410-8032-c2c04f4d5931",
	"tpm-ek", tpmName("machine A, new board"),
)

// machineB is another machine entirely.
var machineB = factors(
	"board-serial", "BSN7710023456",
	"disk-serial", "Z1X0ABCD",
	"ip", "198.51.100.23",
	"mac", "00:1b:21:aa:bb:cc",
	"machine-id", "2b7e151628aed2a6abf7158809cf4f3c",
	"product-serial", "MXQ5550123",
	"product-uuid", "9e1a2b3c-4d5e-4f60-8172-8394a5b6c7d8",
	"tpm-ek", tpmName("machine B"),
)

// machineBWithIPOfA is machine B that was given machine A's address.
var machineBWithIPOfA = append(slices.Clone(machineB), factors("ip", "192.0.2.10")...)

// machineANICsNewOS is machine A's two NICs with machine B's machine-id:
// the same network cards, another OS installation.
var machineANICsNewOS = slices.Concat(only(machineA, fingerprint.KindMAC), only(machineB, fingerprint.KindMachineID))

// only returns the factors of fp of the given kinds.
func only(fp []fingerprint.Factor, kinds ...fingerprint.Kind) []fingerprint.Factor {
	var out []fingerprint.Factor
	for _, f := range fp {
		if slices.Contains(kinds, f.Kind) {
			out = append(out, f)
		}
	}
	return out
}
