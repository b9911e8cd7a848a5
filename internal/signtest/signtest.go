// Package signtest proves the vendor signer's promises end to end: its
// tests build the real olr and olr-sign binaries with go build and run
// them against fresh ledgers, for every issuing rule, for two processes
// racing for one key, for batches killed with SIGKILL, and for ledgers
// edited behind olr-sign's back with the sqlite3 CLI.
//
// The package holds only test helpers: synthetic machines and requests
// made in Go, so that a test can make thousands of distinct requests (or
// one dated a month ago) without a fingerprint collector.
package signtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

// Product is the product of every test key and request.
const Product = "backup-server"

// Machine returns the fingerprint of synthetic machine i: a NIC, an IP
// address, a machine-id, a system UUID, a board serial and a disk, all
// unique to i, so that two machines never match each other.
func Machine(i int) *fingerprint.Fingerprint {
	fp := &fingerprint.Fingerprint{Machine: fingerprint.MachineKind{Class: fingerprint.ClassBareMetal}}
	fp.Add(fingerprint.KindMAC, fmt.Sprintf("3c:ec:ef:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff), "/sys/class/net/eno1/address", false)
	fp.Add(fingerprint.KindIP, fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff|1), "iface:eno1", false)
	fp.Add(fingerprint.KindMachineID, fmt.Sprintf("5e2a7c3b9d1f4e6a8b0c2d4e%08x", i), "/etc/machine-id", false)
	fp.Add(fingerprint.KindProductUUID, fmt.Sprintf("7a6b5c4d-3e2f-4a1b-9c8d-7e6f%08x", i), "/sys/class/dmi/id/product_uuid", false)
	fp.Add(fingerprint.KindBoardSerial, fmt.Sprintf("BRD-%08d", i), "/sys/class/dmi/id/board_serial", false)
	fp.Add(fingerprint.KindDiskSerial, fmt.Sprintf("WD-%012d", i), "/sys/block/sda/device/serial", false)
	fp.Sort()
	return fp
}

// Request is what a test asks for: a key, by a licensee, from a machine,
// at a time (zero: now).
type Request struct {
	Licensee string
	Key      string
	Machine  int
	Created  time.Time
	// Fingerprint, when set, is the machine instead of Machine(Machine).
	Fingerprint *fingerprint.Fingerprint
	// ID, when set, is the request's ID instead of a fresh one: a
	// request that reuses another's.
	ID string
}

// Encrypt returns the req.olr bytes of r, encrypted to recipient as olr
// request writes them (ASCII armor), and the request's ID.
func (r Request) Encrypt(recipient age.Recipient) ([]byte, string, error) {
	created := r.Created
	if created.IsZero() {
		created = time.Now()
	}
	fp := r.Fingerprint
	if fp == nil {
		fp = Machine(r.Machine)
	}
	req, err := olr.NewRequest(Product, r.Licensee, r.Key, fmt.Sprintf("host-%d", r.Machine), "signtest", fp, created)
	if err != nil {
		return nil, "", err
	}
	if r.ID != "" {
		req.ID = r.ID
	}
	data, err := olr.EncryptRequest(req, []age.Recipient{recipient}, true)
	return data, req.ID, err
}

// Write writes the encrypted request to path and returns its ID.
func (r Request) Write(path string, recipient age.Recipient) (string, error) {
	data, id, err := r.Encrypt(recipient)
	if err != nil {
		return "", err
	}
	return id, os.WriteFile(path, data, 0o644)
}

// Key is one row of a keys-sold CSV.
type Key struct {
	Key, Licensee, Type string
}

// WriteKeysCSV writes the keys in the CSV form olr-sign keys import
// reads, each with a few modules and languages.
func WriteKeysCSV(path string, keys []Key) error {
	var b strings.Builder
	b.WriteString("license_key,licensee,type,product,modules,languages,expires,maintenance\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s,%s,%s,%s,obm=50;acb=20;mobile=unlimited,en;zh-TW,,\n", k.Key, k.Licensee, k.Type, Product)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// LicenseFiles lists the license files a batch wrote into dir (names
// ending in .license.olr that are not hidden temporary files), and the
// other files found there.
func LicenseFiles(dir string) (licenses, others []string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".license.olr") && !strings.HasPrefix(n, ".") {
			licenses = append(licenses, filepath.Join(dir, n))
		} else {
			others = append(others, filepath.Join(dir, n))
		}
	}
	return licenses, others, nil
}
