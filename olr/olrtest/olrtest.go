// Package olrtest builds deterministic keys, fingerprints and licenses for
// tests and examples. Its keys are public test keys: never trust them in
// a product.
package olrtest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

// Key returns a deterministic Ed25519 test key derived from label.
func Key(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("olrtest/key/" + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Trust returns a bundle trusting the given keys without a window.
func Trust(keys ...ed25519.PrivateKey) *olr.Trust {
	t := &olr.Trust{}
	for _, k := range keys {
		t.Add(k.Public().(ed25519.PublicKey), time.Time{}, time.Time{})
	}
	return t
}

// Epoch is the fixed issue time of test licenses.
var Epoch = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

// Fingerprint returns a typical server's fingerprint: two NICs, two IP
// addresses, machine-id, system UUID, board serial, a disk and a TPM.
func Fingerprint() *fingerprint.Fingerprint {
	fp := &fingerprint.Fingerprint{Machine: fingerprint.MachineKind{Class: fingerprint.ClassBareMetal}}
	fp.Add(fingerprint.KindMAC, "3c:ec:ef:12:34:56", "/sys/class/net/eno1/address", false)
	fp.Add(fingerprint.KindMAC, "3c:ec:ef:12:34:57", "/sys/class/net/eno2/address", false)
	fp.Add(fingerprint.KindIP, "10.20.30.40", "iface:eno1", false)
	fp.Add(fingerprint.KindIP, "2001:db8::40", "iface:eno1", false)
	fp.Add(fingerprint.KindMachineID, "4f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f", "/etc/machine-id", false)
	fp.Add(fingerprint.KindProductUUID, "9d8c7b6a-5f4e-3d2c-1b0a-998877665544", "/sys/class/dmi/id/product_uuid", false)
	fp.Add(fingerprint.KindBoardSerial, "BSN-0042-7781", "/sys/class/dmi/id/board_serial", false)
	fp.Add(fingerprint.KindDiskSerial, "S4EWNX0R123456", "/sys/block/nvme0n1/device/serial", false)
	fp.Add(fingerprint.KindTPMEK, "000b"+"6b2f1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c", "tpm:/dev/tpmrm0", false)
	fp.Sort()
	return fp
}

// License returns a typical OEM license for fp, signed by key.
func License(key ed25519.PrivateKey, fp *fingerprint.Fingerprint) (*olr.License, []byte) {
	salt := sha256.Sum256([]byte("olrtest/salt"))
	b, err := fingerprint.Bind(fp, salt[:], fingerprint.DefaultPolicy())
	if err != nil {
		panic(err)
	}
	l := &olr.License{
		KeyID:     olr.KeyIDOf(key.Public().(ed25519.PublicKey)),
		ID:        "0123456789abcdef0123456789abcdef",
		RequestID: "fedcba9876543210fedcba9876543210",
		Issued:    Epoch, NotBefore: Epoch,
		Expires:     Epoch.AddDate(1, 0, 0),
		Maintenance: Epoch.AddDate(1, 0, 0),
		Product:     "backup-server", Licensee: "Example Backup Ltd", Type: olr.TypeOEM,
		Modules: []olr.Module{
			{Name: "acb", Quota: 20}, {Name: "cbs", Quota: 1}, {Name: "exchange-mailbox", Quota: 200},
			{Name: "m365", Quota: 100}, {Name: "mobile", Quota: olr.Unlimited}, {Name: "obm", Quota: 50},
			{Name: "vmware-vm", Quota: 10},
		},
		Languages: []string{"en", "zh-TW"},
		GraceDays: 14,
		Binding:   b,
	}
	data, err := olr.Sign(l, key)
	if err != nil {
		panic(err)
	}
	return l, data
}

// Only returns a copy of fp with only the factors of the given kinds: a
// machine that kept some of its hardware, or another machine that shares
// it.
func Only(fp *fingerprint.Fingerprint, kinds ...fingerprint.Kind) *fingerprint.Fingerprint {
	out := &fingerprint.Fingerprint{Machine: fp.Machine}
	for _, f := range fp.Factors {
		if slices.Contains(kinds, f.Kind) {
			out.Factors = append(out.Factors, f)
		}
	}
	return out
}

// Body returns the signed body of a license or revocation list: the
// lines between the BEGIN line and the signature line.
func Body(file []byte) string {
	s := string(file)
	s = s[strings.Index(s, "\n")+1:]
	return s[:strings.LastIndex(s, "\nsignature: ")+1]
}

// Resign signs body as it is with key, under the license label, and wraps
// it in the license armor: what only a vendor bug or a stolen key could
// make, for tests of what the parser refuses after the signature
// verified.
func Resign(body string, key ed25519.PrivateKey) []byte {
	sig := ed25519.Sign(key, []byte("olr/v1/license-signature\x00"+body))
	return []byte("-----BEGIN OLR LICENSE-----\n" + body + "signature: " +
		base64.RawStdEncoding.EncodeToString(sig) + "\n-----END OLR LICENSE-----\n")
}
