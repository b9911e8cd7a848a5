package clitest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// TestRequestOpensWithAge checks that a req.olr written by olr request is
// a standard age file that a stock age user opens with the vendor.key
// identity file: with the age library, and with the age command when it
// is installed.
func TestRequestOpensWithAge(t *testing.T) {
	for _, tc := range []struct {
		name       string
		passphrase string
		keygen     []string
		prefix     string
	}{
		{"hybrid", "", nil, "AGE-SECRET-KEY-PQ-1"},
		{"x25519", "", []string{"--x25519"}, "AGE-SECRET-KEY-1"},
		// the default: the identity file sealed with a passphrase, which
		// age -d -i opens after asking for the passphrase
		{"sealed", "vendor passphrase", nil, "AGE-SECRET-KEY-PQ-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newActivation(t, "baremetal", tc.passphrase, tc.keygen...)
			key, err := os.ReadFile(a.Key)
			if err != nil {
				t.Fatal(err)
			}
			if tc.passphrase != "" {
				if bytes.Contains(key, []byte("AGE-SECRET-KEY")) {
					t.Fatal("the sealed vendor.key holds a clear secret key")
				}
				pass, err := age.NewScryptIdentity(tc.passphrase)
				if err != nil {
					t.Fatal(err)
				}
				r, err := age.Decrypt(armor.NewReader(bytes.NewReader(key)), pass)
				if err != nil {
					t.Fatalf("opening the sealed vendor.key with age and its passphrase: %v", err)
				}
				if key, err = io.ReadAll(r); err != nil {
					t.Fatal(err)
				}
			}
			ids, err := age.ParseIdentities(bytes.NewReader(key))
			if err != nil {
				t.Fatalf("age.ParseIdentities(vendor.key): %v", err)
			}
			if len(ids) != 1 {
				t.Fatalf("vendor.key holds %d identities, want 1", len(ids))
			}
			if !bytes.Contains(key, []byte("\n"+tc.prefix)) {
				t.Errorf("vendor.key has no %s line", tc.prefix)
			}

			armored, err := os.ReadFile(a.Request)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(armored, []byte(armor.Header+"\n")) {
				t.Fatalf("req.olr does not start with %q", armor.Header)
			}
			r, err := age.Decrypt(armor.NewReader(bytes.NewReader(armored)), ids...)
			if err != nil {
				t.Fatalf("age.Decrypt(armor.NewReader(req.olr)): %v", err)
			}
			plain, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			checkRequestJSON(t, plain)

			// --binary writes a plain age file.
			bin := filepath.Join(a.Dir, "req.age")
			mustRun(t, a.Dir, "olr", "request", "--binary", "--vendor", a.Key+".recipient", "--licensee", "Example Backup Ltd",
				"--key", "OEM-7Q2D-K9XW-4M3T", "--root", a.Root, "-o", bin)
			f, err := os.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err = age.Decrypt(f, ids...)
			if err != nil {
				t.Fatalf("age.Decrypt(req.age): %v", err)
			}
			plain, err = io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			checkRequestJSON(t, plain)

			// the stock age command, when installed
			t.Run("age-command", func(t *testing.T) {
				if tc.passphrase != "" {
					t.Skip("age asks for the passphrase on the terminal only")
				}
				ageCmd, err := exec.LookPath("age")
				if err != nil {
					t.Skip("age command not installed; the library check passed")
				}
				cmd := exec.Command(ageCmd, "-d", "-i", a.Key, a.Request)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil && tc.name == "hybrid" && strings.Contains(stderr.String(), "unknown identity type") {
					v, _ := exec.Command(ageCmd, "--version").Output()
					t.Skipf("the installed age %s predates ML-KEM hybrid identities (age v1.3.0); the library check passed", strings.TrimSpace(string(v)))
				}
				if err != nil {
					t.Fatalf("age -d -i vendor.key req.olr: %v\n%s", err, stderr.String())
				}
				checkRequestJSON(t, out)
			})
		})
	}
}

func checkRequestJSON(t *testing.T, plain []byte) {
	t.Helper()
	// olr compresses the JSON with gzip (SPEC.md: age -d ... | gunzip).
	if bytes.HasPrefix(plain, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(plain))
		if err != nil {
			t.Fatalf("gunzip of the request: %v", err)
		}
		if plain, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gunzip of the request: %v", err)
		}
	}
	var req struct {
		Format      string `json:"format"`
		Licensee    string `json:"licensee"`
		LicenseKey  string `json:"license_key"`
		Product     string `json:"product"`
		Fingerprint struct {
			Factors []struct {
				Kind, Value string
			} `json:"factors"`
		} `json:"fingerprint"`
	}
	if err := json.Unmarshal(plain, &req); err != nil {
		t.Fatalf("decrypted request is not JSON: %v", err)
	}
	if req.Format != "olr-request/v1" || req.Licensee != "Example Backup Ltd" ||
		req.LicenseKey != "OEM-7Q2D-K9XW-4M3T" || req.Product != "backup-server" {
		t.Errorf("decrypted request: format %q, licensee %q, key %q, product %q", req.Format, req.Licensee, req.LicenseKey, req.Product)
	}
	var uuid bool
	for _, f := range req.Fingerprint.Factors {
		uuid = uuid || f.Kind == "product-uuid" && f.Value == "4c4c4544-0058-4b10-8032-b7c04f4d3633"
	}
	if !uuid {
		t.Errorf("decrypted request lacks the fixture's product-uuid: %+v", req.Fingerprint.Factors)
	}
}
