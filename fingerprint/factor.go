// Package fingerprint defines the hardware factors that bind a license to a
// machine: their kinds, how raw values are normalised, how they are hashed
// with a per-license salt, and how a match policy compares a licensed set of
// hashes with the factors of the machine at hand.
//
// The package is pure: it reads no hardware. Collectors that read a host
// (sysfs, DMI, the TPM) live in sub-packages and produce [Factor] values.
// It imports only the standard library, so the verifier that products embed
// stays small.
package fingerprint

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Kind names a type of hardware factor. Kinds are part of the license
// format: they appear in signed bytes and must never be renamed.
type Kind string

// The factor kinds olr knows. A license may only name these kinds.
const (
	// KindMAC is the permanent MAC address of a physical NIC.
	KindMAC Kind = "mac"
	// KindIP is a local unicast IP address (no loopback, no link-local).
	KindIP Kind = "ip"
	// KindMachineID is the systemd/D-Bus machine-id.
	KindMachineID Kind = "machine-id"
	// KindProductUUID is the SMBIOS system UUID (DMI product_uuid).
	KindProductUUID Kind = "product-uuid"
	// KindProductSerial is the SMBIOS system serial number.
	KindProductSerial Kind = "product-serial"
	// KindBoardSerial is the SMBIOS baseboard serial number.
	KindBoardSerial Kind = "board-serial"
	// KindDiskSerial is the serial number of a non-removable disk.
	KindDiskSerial Kind = "disk-serial"
	// KindTPMEK is the TPM 2.0 endorsement key's Name, as tpm2_readpublic
	// prints it: hex, with the name-algorithm prefix.
	KindTPMEK Kind = "tpm-ek"
)

// Kinds lists every known kind in canonical (sorted) order.
var Kinds = []Kind{
	KindBoardSerial, KindDiskSerial, KindIP, KindMAC, KindMachineID,
	KindProductSerial, KindProductUUID, KindTPMEK,
}

// Known reports whether k is one of the kinds olr defines.
func (k Kind) Known() bool { return slices.Contains(Kinds, k) }

// Stability says how likely a factor is to change during a machine's life.
type Stability string

const (
	// Stable factors change only when hardware is replaced (TPM, board,
	// system UUID and serials).
	Stable Stability = "stable"
	// SemiStable factors change with routine maintenance: a NIC or a disk
	// swapped, the OS reinstalled (machine-id).
	SemiStable Stability = "semi-stable"
	// Volatile factors change in normal operation (IP addresses).
	Volatile Stability = "volatile"
)

// Stability returns the stability class of the kind.
func (k Kind) Stability() Stability {
	switch k {
	case KindTPMEK, KindProductUUID, KindProductSerial, KindBoardSerial:
		return Stable
	case KindIP:
		return Volatile
	default:
		return SemiStable
	}
}

// MultiValued reports whether a machine normally has several factors of
// this kind (several NICs, disks or addresses).
func (k Kind) MultiValued() bool {
	return k == KindMAC || k == KindIP || k == KindDiskSerial
}

// Factor is one normalised hardware value and where it was read.
type Factor struct {
	Kind Kind `json:"kind"`
	// Value is the normalised value (see [Normalize]). It is a hardware
	// identifier: it travels only inside the encrypted request.
	Value string `json:"value"`
	// Source says where the value was read, for audits: a sysfs path, a
	// file, "tpm:/dev/tpmrm0".
	Source string `json:"source"`
	// Removable marks factors of hardware that is easily unplugged, such
	// as a USB network adapter.
	Removable bool `json:"removable,omitempty"`
}

func (f Factor) String() string { return string(f.Kind) + "=" + f.Value }

// MachineKind describes what sort of machine a fingerprint was taken on,
// so that the vendor sees, for instance, that a request comes from a
// container.
type MachineKind struct {
	// Class is "bare-metal", "virtual-machine", "container" or "unknown".
	Class string `json:"class"`
	// Detail names the hypervisor or container runtime when known
	// ("kvm", "vmware", "docker").
	Detail string `json:"detail,omitempty"`
}

// Machine kind classes.
const (
	ClassBareMetal = "bare-metal"
	ClassVM        = "virtual-machine"
	ClassContainer = "container"
	ClassUnknown   = "unknown"
)

// Fingerprint is the set of factors collected from one machine.
type Fingerprint struct {
	Factors []Factor    `json:"factors"`
	Machine MachineKind `json:"machine"`
	// Notes are human-readable remarks from the collectors: sources that
	// were skipped (no TPM, --root without live data) or values left out
	// (a placeholder serial, a randomised MAC).
	Notes []string `json:"notes,omitempty"`
}

// Add normalises raw and appends it as a factor of kind k. Values that
// normalise to a placeholder or are malformed are not added; the reason
// is recorded in Notes instead. It reports whether the factor was added.
func (fp *Fingerprint) Add(k Kind, raw, source string, removable bool) bool {
	v, err := Normalize(k, raw)
	if err != nil {
		fp.Notes = append(fp.Notes, fmt.Sprintf("%s from %s left out: %v", k, source, err))
		return false
	}
	for _, f := range fp.Factors {
		if f.Kind == k && f.Value == v {
			return false // same value from two sources: count once
		}
	}
	fp.Factors = append(fp.Factors, Factor{Kind: k, Value: v, Source: source, Removable: removable})
	return true
}

// Sort puts the factors in canonical order: by kind, then value.
func (fp *Fingerprint) Sort() {
	slices.SortFunc(fp.Factors, func(a, b Factor) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
}

// Collector reads factors of one family (network, DMI, TPM, ...) from a
// host and adds them to fp. A collector that finds nothing to read (no
// TPM, a source that --root cannot see) adds a note and returns nil; an
// error means the source exists but could not be read.
type Collector interface {
	Name() string
	Collect(ctx context.Context, fp *Fingerprint) error
}
