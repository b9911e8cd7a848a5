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
//   - ip: the canonical textual form (IPv4-mapped IPv6 addresses as IPv4,
//     zones dropped); loopback, link-local, multicast, unspecified and the
//     IPv4 blocks 0.0.0.0/8 and 240.0.0.0/4 are refused.
//   - machine-id: 32 lower-case hex digits.
//   - product-uuid: lower-case 8-4-4-4-12 hex; all-zero and all-F refused.
//   - tpm-ek: lower-case hex of a TPM Name with the name algorithm
//     SHA-256: 000b and a 32-byte digest.
//   - serials: trimmed of surrounding space; placeholders refused.
//
// Every value is trimmed of surrounding white space first and must then
// be at most 256 bytes without a character [RefusedRune] refuses.
func Normalize(k Kind, raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("empty value")
	}
	if len(s) > maxValueLen {
		return "", fmt.Errorf("value longer than %d bytes", maxValueLen)
	}
	for _, r := range s {
		if RefusedRune(r) {
			return "", errors.New("value has control, invisible or invalid characters")
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
		// The EK templates olr reads (TCG default ECC P-256, RSA-2048)
		// have the name algorithm SHA-256: the Name is TPM_ALG_SHA256
		// (000b) and a 32-byte digest.
		if len(s) != 68 || !strings.HasPrefix(s, "000b") || !isHex(s) {
			return "", errors.New("TPM name is not 000b (SHA-256) followed by a 32-byte digest in hex")
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
	case a.Is4() && (a.As4()[0] == 0 || a.As4()[0] >= 240):
		// 0.0.0.0/8 names this host before it has an address;
		// 240.0.0.0/4 is reserved and holds the limited broadcast
		// address 255.255.255.255.
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
	l := asciiLower(s)
	// QEMU numbers the disks of every guest QM00001, QM00002, ...
	if len(l) == 7 && strings.HasPrefix(l, "qm0000") && '0' <= l[6] && l[6] <= '9' {
		return true
	}
	for _, p := range placeholders {
		if l == p {
			return true
		}
	}
	// Separators aside, nothing, or one character repeated. (A Replacer
	// built here on each call cost more than the rest of reading a
	// request's factors.)
	var first rune = -1
	for _, r := range l {
		switch {
		case r == '-' || r == ':' || r == ' ' || r == '.':
		case first == -1:
			first = r
		case r != first:
			return false
		}
	}
	return true
}

// asciiLower lower-cases A-Z only, so that the placeholder rule does not
// depend on a Unicode version's case mappings.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// RefusedRune reports whether r is a character that no factor value, and
// no text of a license or request, may hold, because a terminal or a web
// page would act on it or not show it: the control characters (C0, DEL,
// C1), the line and paragraph separators U+2028 and U+2029, the format
// characters (general category Cf of Unicode 15.0: bidi controls,
// zero-width characters, the byte order mark, ...) and U+FFFD, which
// stands for bytes already lost.
func RefusedRune(r rune) bool {
	return r < 0x20 || 0x7f <= r && r <= 0x9f || r == '\u2028' || r == '\u2029' ||
		r == unicode.ReplacementChar || unicode.Is(formatChars, r)
}

// formatChars is general category Cf of Unicode 15.0, written out so that
// the rule does not move with the Unicode version of the Go release.
var formatChars = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x00ad, Hi: 0x00ad, Stride: 1},
		{Lo: 0x0600, Hi: 0x0605, Stride: 1},
		{Lo: 0x061c, Hi: 0x061c, Stride: 1},
		{Lo: 0x06dd, Hi: 0x06dd, Stride: 1},
		{Lo: 0x070f, Hi: 0x070f, Stride: 1},
		{Lo: 0x0890, Hi: 0x0891, Stride: 1},
		{Lo: 0x08e2, Hi: 0x08e2, Stride: 1},
		{Lo: 0x180e, Hi: 0x180e, Stride: 1},
		{Lo: 0x200b, Hi: 0x200f, Stride: 1},
		{Lo: 0x202a, Hi: 0x202e, Stride: 1},
		{Lo: 0x2060, Hi: 0x2064, Stride: 1},
		{Lo: 0x2066, Hi: 0x206f, Stride: 1},
		{Lo: 0xfeff, Hi: 0xfeff, Stride: 1},
		{Lo: 0xfff9, Hi: 0xfffb, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x110bd, Hi: 0x110bd, Stride: 1},
		{Lo: 0x110cd, Hi: 0x110cd, Stride: 1},
		{Lo: 0x13430, Hi: 0x1343f, Stride: 1},
		{Lo: 0x1bca0, Hi: 0x1bca3, Stride: 1},
		{Lo: 0x1d173, Hi: 0x1d17a, Stride: 1},
		{Lo: 0xe0001, Hi: 0xe0001, Stride: 1},
		{Lo: 0xe0020, Hi: 0xe007f, Stride: 1},
	},
	LatinOffset: 1,
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
