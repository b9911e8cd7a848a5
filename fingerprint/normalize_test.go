package fingerprint

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

func TestNormalize(t *testing.T) {
	const (
		ok          = ""
		placeholder = "placeholder"
		refused     = "refused"
	)
	tests := []struct {
		kind Kind
		raw  string
		want string // normalised value when err is ok
		err  string
	}{
		// MAC addresses.
		{KindMAC, "3C:EC:EF:12:A4:01", "3c:ec:ef:12:a4:01", ok},
		{KindMAC, " 3c-ec-ef-12-a4-01\n", "3c:ec:ef:12:a4:01", ok},
		{KindMAC, "3cec.ef12.a401", "3c:ec:ef:12:a4:01", ok},
		{KindMAC, "52:54:00:8a:3c:51", "52:54:00:8a:3c:51", ok}, // locally administered: a KVM guest
		{KindMAC, "00:00:00:00:00:00", "", placeholder},
		{KindMAC, "ff:ff:ff:ff:ff:ff", "", refused},
		{KindMAC, "01:00:5e:00:00:fb", "", refused}, // multicast
		{KindMAC, "02:42:ac:11:00:02:00:01", "", refused},
		{KindMAC, "3cecef12a401", "3c:ec:ef:12:a4:01", ok},
		{KindMAC, "3c:ec:ef:12:a4", "", refused},

		// IP addresses.
		{KindIP, "192.0.2.10", "192.0.2.10", ok},
		{KindIP, "10.1.2.3", "10.1.2.3", ok},
		{KindIP, "::ffff:192.0.2.10", "192.0.2.10", ok},
		{KindIP, "2001:DB8:0:0::1", "2001:db8::1", ok},
		{KindIP, "fd00::2", "fd00::2", ok},
		{KindIP, "127.0.0.1", "", refused},
		{KindIP, "127.1.2.3", "", refused},
		{KindIP, "::1", "", refused},
		{KindIP, "::ffff:127.0.0.1", "", refused},
		{KindIP, "169.254.10.20", "", refused},
		{KindIP, "fe80::1", "", refused},
		{KindIP, "fe80::1%eth0", "", refused},
		{KindIP, "224.0.0.251", "", refused},
		{KindIP, "ff02::1", "", refused},
		{KindIP, "0.0.0.0", "", refused},
		{KindIP, "0.1.2.3", "", refused},
		{KindIP, "255.255.255.255", "", refused},
		{KindIP, "240.0.0.1", "", refused},
		{KindIP, "239.255.255.255", "", refused}, // multicast
		{KindIP, "223.255.255.255", "223.255.255.255", ok},
		{KindIP, "1.0.0.0", "1.0.0.0", ok},
		{KindIP, "::ffff:255.255.255.255", "", refused},
		{KindIP, "::", "", refused},
		{KindIP, "192.0.2.10/24", "", refused},
		{KindIP, "example.com", "", refused},

		// machine-id.
		{KindMachineID, "6A1C3E4F0B2D4E8F9A7B5C3D1E0F2A4B\n", "6a1c3e4f0b2d4e8f9a7b5c3d1e0f2a4b", ok},
		{KindMachineID, "00000000000000000000000000000000", "", placeholder},
		{KindMachineID, "uninitialized", "", refused},
		{KindMachineID, "6a1c3e4f-0b2d-4e8f-9a7b-5c3d1e0f2a4b", "", refused},
		{KindMachineID, "6a1c3e4f0b2d4e8f9a7b5c3d1e0f2a4", "", refused},

		// System UUIDs.
		{KindProductUUID, "4C4C4544-0058-4B10-8032-B7C04F4D3633", "4c4c4544-0058-4b10-8032-b7c04f4d3633", ok},
		{KindProductUUID, "4c4c454400584b108032b7c04f4d3633", "4c4c4544-0058-4b10-8032-b7c04f4d3633", ok},
		{KindProductUUID, "00000000-0000-0000-0000-000000000000", "", placeholder},
		{KindProductUUID, "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "", placeholder},
		{KindProductUUID, "03000200-0400-0500-0006-000700080009", "", placeholder},
		{KindProductUUID, "{4c4c4544-0058-4b10-8032-b7c04f4d3633}", "", refused},
		{KindProductUUID, "4c4c4544-0058-4b10-8032", "", refused},
		{KindProductUUID, "Not Settable", "", refused},

		// Serials.
		{KindProductSerial, " 7XK2M63 ", "7XK2M63", ok},
		{KindBoardSerial, ".7XK2M63.CNFCW0012G00AB.", ".7XK2M63.CNFCW0012G00AB.", ok},
		{KindDiskSerial, "WD-WCC7K4KL2JXT", "WD-WCC7K4KL2JXT", ok},
		{KindProductSerial, "To Be Filled By O.E.M.", "", placeholder},
		{KindDiskSerial, "QM00001", "", placeholder},
		{KindProductSerial, "to be filled by o.e.m", "", placeholder},
		{KindProductSerial, "System Serial Number", "", placeholder},
		{KindProductSerial, "Not Specified", "", placeholder},
		{KindProductSerial, "Not Available", "", placeholder},
		{KindProductSerial, "1234567890", "", placeholder},
		{KindBoardSerial, "Default string", "", placeholder},
		{KindBoardSerial, "Base Board Serial Number", "", placeholder},
		{KindBoardSerial, "Type2 - Board Serial Number", "", placeholder},
		{KindBoardSerial, "BSN12345678901234567", "", placeholder},
		{KindDiskSerial, "0000000000", "", placeholder},
		{KindDiskSerial, "XXXX-XXXX", "", placeholder},
		{KindDiskSerial, "- - -", "", placeholder},
		{KindDiskSerial, "unknown", "", placeholder},
		{KindDiskSerial, "serial\x00", "", refused},
		{KindDiskSerial, "ab\x1bcd", "", refused},
		{KindDiskSerial, "WD\u202eTXJ2", "", refused},          // bidi override
		{KindDiskSerial, "WD\u200bWCC7", "", refused},          // zero-width space
		{KindDiskSerial, "\ufeffWDWCC7", "", refused},          // byte order mark
		{KindDiskSerial, "WD\u2028WCC7", "", refused},          // line separator
		{KindDiskSerial, "WD\u0085WCC7", "", refused},          // C1 control
		{KindDiskSerial, "WD\ufffdWCC7", "", refused},          // replacement character
		{KindDiskSerial, "\u00a0WD-WCC7\u3000", "WD-WCC7", ok}, // surrounding white space is trimmed
		{KindDiskSerial, "\u212ak", "\u212ak", ok},             // KELVIN SIGN is not k: placeholders compare ASCII only
		{KindDiskSerial, "\xff\xfe", "", refused},
		{KindDiskSerial, strings.Repeat("A1", 129), "", refused},
		{KindDiskSerial, strings.Repeat("A1", 128), strings.Repeat("A1", 128), ok},

		// TPM endorsement key names.
		{KindTPMEK, "000B" + strings.Repeat("AB", 32), "000b" + strings.Repeat("ab", 32), ok},
		{KindTPMEK, "000b" + strings.Repeat("ab", 10), "", refused},
		{KindTPMEK, "000b" + strings.Repeat("ab", 31) + "a", "", refused},
		{KindTPMEK, "000b" + strings.Repeat("ab", 33), "", refused}, // digest longer than SHA-256
		{KindTPMEK, strings.Repeat("ab", 32), "", refused},          // no algorithm ID
		{KindTPMEK, "000c" + strings.Repeat("ab", 48), "", refused}, // SHA-384: not the EK templates' algorithm
		{KindTPMEK, "0004" + strings.Repeat("ab", 20), "", refused}, // SHA-1
		{KindTPMEK, "ffff" + strings.Repeat("ab", 32), "", refused}, // unknown algorithm
		{KindTPMEK, "000b" + strings.Repeat("ag", 32), "", refused}, // not hex

		// Anything.
		{KindMAC, "", "", refused},
		{KindDiskSerial, " \t\n", "", refused},
		{Kind("cpu-serial"), "BFEBFBFF000906EA", "", refused},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.kind, tt.raw)
		switch tt.err {
		case ok:
			if err != nil || got != tt.want {
				t.Errorf("Normalize(%s, %q) = %q, %v; want %q", tt.kind, tt.raw, got, err, tt.want)
			}
		case placeholder:
			if !errors.Is(err, ErrPlaceholder) {
				t.Errorf("Normalize(%s, %q) = %q, %v; want ErrPlaceholder", tt.kind, tt.raw, got, err)
			}
		case refused:
			if err == nil || errors.Is(err, ErrPlaceholder) {
				t.Errorf("Normalize(%s, %q) = %q, %v; want an error other than ErrPlaceholder", tt.kind, tt.raw, got, err)
			}
		}
		if err != nil && got != "" {
			t.Errorf("Normalize(%s, %q) returned %q with its error", tt.kind, tt.raw, got)
		}
	}
}

// TestPlaceholdersNormalised keeps the list usable: entries are compared
// after trimming and lower-casing, so an entry that is not trimmed and
// lower-case can never match.
func TestPlaceholdersNormalised(t *testing.T) {
	for _, p := range placeholders {
		if p != strings.ToLower(strings.TrimSpace(p)) {
			t.Errorf("placeholder %q is not trimmed lower case", p)
		}
		for _, k := range []Kind{KindProductSerial, KindBoardSerial, KindDiskSerial} {
			if _, err := Normalize(k, strings.ToUpper(p)); !errors.Is(err, ErrPlaceholder) {
				t.Errorf("Normalize(%s, %q) = %v, want ErrPlaceholder", k, strings.ToUpper(p), err)
			}
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"3C:EC:EF:12:A4:01", "3cec.ef12.a401", "::ffff:192.0.2.10", "fe80::1%eth0",
		"2001:db8::1", "6a1c3e4f0b2d4e8f9a7b5c3d1e0f2a4b",
		"4C4C4544-0058-4B10-8032-B7C04F4D3633", "To Be Filled By O.E.M.", "::%0",
		" WD-WCC7K4KL2JXT ", "000b" + strings.Repeat("ab", 32), "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, k := range Kinds {
			v, err := Normalize(k, raw)
			if err != nil {
				if v != "" {
					t.Fatalf("Normalize(%s, %q) = %q with error %v", k, raw, v, err)
				}
				continue
			}
			again, err := Normalize(k, v)
			if err != nil || again != v {
				t.Fatalf("Normalize(%s, %q) = %q, which normalises to %q, %v", k, raw, v, again, err)
			}
		}
	})
}

// TestFormatCharsPinned checks the written-out table of format characters
// against Go's own: it must be exactly category Cf of Unicode 15.0, the
// version SPEC.md names.
func TestFormatCharsPinned(t *testing.T) {
	if unicode.Version != "15.0.0" {
		t.Skipf("this Go has the Unicode %s tables; the table transcribes Unicode 15.0.0", unicode.Version)
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if unicode.Is(formatChars, r) != unicode.Is(unicode.Cf, r) {
			t.Errorf("%U: in the table %v, Cf in Unicode 15.0 %v", r, unicode.Is(formatChars, r), unicode.Is(unicode.Cf, r))
		}
	}
}

func TestRefusedRune(t *testing.T) {
	for _, r := range []rune{0, '\t', '\n', 0x1b, 0x7f, 0x85, 0x9f, 0x2028, 0x2029, 0xfffd,
		0x200b, 0x200c, 0x200d, 0x200e, 0x202e, 0x2066, 0x2069, 0xfeff, 0xe0041, 0x061c} {
		if !RefusedRune(r) {
			t.Errorf("%U is not refused", r)
		}
	}
	for _, r := range []rune{' ', 'a', '~', 0xa0, 0xe9, 0x2014, 0x3000, 0x4e2d, 0x1f600, 0xe000, 0x10ffff} {
		if RefusedRune(r) {
			t.Errorf("%U is refused", r)
		}
	}
}
