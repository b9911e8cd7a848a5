package fingerprint

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"unicode"
)

// ErrPlaceholder is returned by [Normalize] for values that firmware
// vendors put where a real identifier belongs ("To be filled by O.E.M.",
// all-zero UUIDs). They are the same on many machines and must never
// bind a license.
var ErrPlaceholder = errors.New("placeholder value, not a real identifier")

// maxValueLen bounds a factor value; real identifiers are far shorter.
const maxValueLen = 256

// placeholders are known non-identifiers, compared case-insensitively
// after trimming. Firmware tools copy them from reference BIOS images.
var placeholders = []string{
	"to be filled by o.e.m.", "to be filled by oem", "default string",
	"system serial number", "system product name", "base board serial number",
	"chassis serial number", "not specified", "not applicable", "none", "n/a",
	"na", "oem", "o.e.m.", "0", "00000000", "0123456789", "123456789",
	"invalid", "unknown", "empty", "serial", "xxxxxxxxxxxx", "fill by oem",
	"no asset information", "type1productconfigid", "system uuid",
	// More strings from reference BIOS images and board vendors' tools.
	"to be filled by o.e.m", "default", "not available", "not present",
	"not set", "tbd", "1234567890", "12345678", "serialnumber",
	"serial number", "system manufacturer", "type2 - board serial number",
	"bsn12345678901234567",
}

// Normalize returns the canonical form of a raw value of kind k:
//   - mac: six lower-case hex octets joined by colons; the all-zero,
//     broadcast and multicast addresses are refused.
//   - ip: the canonical textual form; loopback, link-local, multicast and
//     unspecified addresses are refused.
//   - machine-id: 32 lower-case hex digits.
//   - product-uuid: lower-case 8-4-4-4-12 hex; all-zero and all-F refused.
//   - tpm-ek: lower-case hex of a TPM Name (2-byte algorithm + digest).
//   - serials: trimmed of surrounding space; placeholders refused.
func Normalize(k Kind, raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("empty value")
	}
	if len(s) > maxValueLen {
		return "", fmt.Errorf("value longer than %d bytes", maxValueLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", errors.New("value has control or invalid characters")
		}
	}
	switch k {
	case KindMAC:
		return normalizeMAC(s)
	case KindIP:
		return normalizeIP(s)
	case KindMachineID:
		s = strings.ToLower(s)
		if len(s) != 32 || !isHex(s) {
			return "", errors.New("machine-id is not 32 hex digits")
		}
		if allSame(s) {
			return "", ErrPlaceholder
		}
		return s, nil
	case KindProductUUID:
		return normalizeUUID(s)
	case KindTPMEK:
		s = strings.ToLower(s)
		// A Name is a 2-byte hash algorithm ID followed by a digest of
		// at least 20 bytes.
		if len(s) < 44 || len(s)%2 != 0 || !isHex(s) {
			return "", errors.New("TPM name is not hex of an algorithm ID and digest")
		}
		return s, nil
	case KindProductSerial, KindBoardSerial, KindDiskSerial:
		if isPlaceholder(s) {
			return "", ErrPlaceholder
		}
		return s, nil
	}
	return "", fmt.Errorf("unknown factor kind %q", k)
}

func normalizeMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", errors.New("not a 48-bit MAC address")
	}
	if hw[0]&1 == 1 {
		return "", errors.New("multicast or broadcast MAC address")
	}
	if allSame(hw.String()) || hw.String() == "00:00:00:00:00:00" {
		return "", ErrPlaceholder
	}
	return hw.String(), nil
}

func normalizeIP(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", errors.New("not an IP address")
	}
	// Drop the zone first: a zoned "::" is not IsUnspecified.
	a = a.Unmap().WithZone("")
	switch {
	case a.IsLoopback():
		return "", errors.New("loopback address")
	case a.IsLinkLocalUnicast():
		return "", errors.New("link-local address")
	case a.IsMulticast(), a.IsUnspecified():
		return "", errors.New("not a unicast address")
	}
	return a.String(), nil
}

func normalizeUUID(s string) (string, error) {
	s = strings.ToLower(s)
	hex := strings.ReplaceAll(s, "-", "")
	if len(hex) != 32 || !isHex(hex) {
		return "", errors.New("not a UUID")
	}
	if allSame(hex) {
		return "", ErrPlaceholder
	}
	if strings.HasPrefix(hex, "03000200040005000006000700080009") {
		// The AMI reference-BIOS UUID found on many boards.
		return "", ErrPlaceholder
	}
	return hex[0:8] + "-" + hex[8:12] + "-" + hex[12:16] + "-" + hex[16:20] + "-" + hex[20:32], nil
}

func isPlaceholder(s string) bool {
	l := strings.ToLower(s)
	// QEMU numbers the disks of every guest QM00001, QM00002, ...
	if len(l) == 7 && strings.HasPrefix(l, "qm0000") && '0' <= l[6] && l[6] <= '9' {
		return true
	}
	for _, p := range placeholders {
		if l == p {
			return true
		}
	}
	compact := strings.NewReplacer("-", "", ":", "", " ", "", ".", "").Replace(l)
	return compact == "" || allSame(compact)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// allSame reports whether s, ignoring ':' and '-', repeats one character:
// 000…0, fff…f, "xxxx".
func allSame(s string) bool {
	var first rune = -1
	for _, r := range s {
		if r == ':' || r == '-' {
			continue
		}
		if first == -1 {
			first = r
		} else if r != first {
			return false
		}
	}
	return true
}
