package signer_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
)

func TestKeysRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name   string
		hybrid bool
		pass   string
	}{{"hybrid sealed", true, "correct horse"}, {"x25519 clear", false, ""}} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vendor.key")
			k, err := signer.GenerateKeys(c.hybrid, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := signer.WriteKeys(path, k, c.pass); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, signer.SigningPath(path)} {
				fi, err := os.Stat(p)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("%s: mode %v, %v", p, fi.Mode(), err)
				}
				data, _ := os.ReadFile(p)
				if signer.IsEncrypted(data) != (c.pass != "") {
					t.Fatalf("%s: encrypted = %v", p, signer.IsEncrypted(data))
				}
			}
			asked := 0
			got, err := signer.LoadKeys(path, func() (string, error) { asked++; return c.pass, nil })
			if err != nil {
				t.Fatal(err)
			}
			if got.KeyID != k.KeyID || got.Recipient != k.Recipient {
				t.Fatal("loaded keys differ")
			}
			if c.pass != "" && asked != 1 {
				t.Fatalf("asked for the passphrase %d times", asked)
			}
			if c.pass != "" {
				_, err := signer.LoadKeys(path, func() (string, error) { return "wrong", nil })
				if !errors.Is(err, signer.ErrPassphrase) {
					t.Fatalf("wrong passphrase: %v", err)
				}
			}
			// Never overwritten.
			if err := signer.WriteKeys(path, k, c.pass); err == nil {
				t.Fatal("WriteKeys overwrote an existing key")
			}
			// A key readable by others is refused, with the fix in the error.
			os.Chmod(signer.SigningPath(path), 0o640)
			if _, err := signer.LoadKeys(path, nil); err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Fatalf("group-readable key: %v", err)
			}
		})
	}
}

func TestWriteKeysCleansUpOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vendor.key")
	os.WriteFile(signer.TrustPath(path), []byte("in the way"), 0o644)
	k, _ := signer.GenerateKeys(false, time.Now())
	if err := signer.WriteKeys(path, k, ""); err == nil {
		t.Fatal("no error with the trust file in the way")
	}
	for _, p := range []string{path, signer.SigningPath(path), signer.RecipientPath(path)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind", p)
		}
	}
}

func TestRotate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old, _ := signer.GenerateKeys(false, t0)
	next, _ := signer.GenerateKeys(false, t0.AddDate(1, 0, 0))
	if err := next.Rotate(old.Trust()); err != nil {
		t.Fatal(err)
	}
	bundle, err := olr.ParseTrust(next.Trust().Marshal())
	if err != nil {
		t.Fatal(err)
	}
	o, ok1 := bundle.Key(old.KeyID)
	n, ok2 := bundle.Key(next.KeyID)
	if !ok1 || !ok2 {
		t.Fatal("rotated bundle lacks a key")
	}
	if !o.ValidAt(t0.AddDate(0, 6, 0)) || o.ValidAt(t0.AddDate(1, 0, 1)) {
		t.Fatal("old key window wrong")
	}
	if n.ValidAt(t0.AddDate(0, 6, 0)) || !n.ValidAt(t0.AddDate(1, 0, 1)) {
		t.Fatal("new key window wrong")
	}
}
