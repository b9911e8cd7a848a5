package clitest

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint/host"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

// TestCraftedLicenses runs the crafted licenses of olrtest through the
// real olr verify on the machine they bind: the verdict SPEC.md gives
// (status and reason in --json), exit 0 for a valid license, 2 for a
// malformed or unsupported one, 1 for any other refusal, and the file
// named in the error.
func TestCraftedLicenses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := hostRoot(t, "baremetal")
	fp, err := host.Collect(context.Background(), host.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	key := olrtest.Key("crafted licenses")
	trust := filepath.Join(dir, "vendor.trust")
	if err := os.WriteFile(trust, olrtest.Trust(key).Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, lic := olrtest.License(key, fp)
	at := olrtest.Epoch.Add(time.Hour).Format(time.RFC3339)

	cases := olrtest.CraftedLicenses(lic, key)
	cases = append(cases, revokedCase(t, dir, lic, key))
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			file := filepath.Join(dir, fmt.Sprintf("crafted-%02d.olr", i))
			if err := os.WriteFile(file, c.File, 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify", "--json", "--license", file, "--trust", trust, "--root", root, "--at", at}
			if c.Want == olr.ReasonRevoked {
				args = append(args, "--crl", filepath.Join(dir, "revoked.olr"))
			}
			r := run(t, dir, "olr", args...)
			var got struct {
				Status olr.Status `json:"status"`
				Reason olr.Reason `json:"reason"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("--json output is not JSON: %v\n%s%s", err, r.stdout, r.stderr)
			}
			want, code := olr.Valid, 0
			switch c.Want {
			case "":
			case olr.ReasonMalformed, olr.ReasonUnsupported:
				want, code = olr.Invalid, 2
			default:
				want, code = olr.Invalid, 1
			}
			if got.Status != want || got.Reason != c.Want || r.code != code {
				t.Fatalf("status %s, reason %q, exit %d; want %s, %q, exit %d\n%s", got.Status, got.Reason, r.code, want, c.Want, code, r.stderr)
			}
			if code != 0 && !strings.Contains(r.stderr, file) {
				t.Errorf("the error does not name the file:\n%s", r.stderr)
			}
		})
	}
}

// revokedCase writes a revocation list that names lic's license ID and
// returns the case of lic verified with it: revoked.
func revokedCase(t *testing.T, dir string, lic []byte, key ed25519.PrivateKey) olrtest.CraftedLicense {
	l, err := olr.ParseLicense(lic, olrtest.Trust(key))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := olr.SignRevocationList(&olr.RevocationList{KeyID: l.KeyID, Number: 1, Issued: olrtest.Epoch, Revoked: []string{l.ID}}, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "revoked.olr"), crl, 0o644); err != nil {
		t.Fatal(err)
	}
	return olrtest.CraftedLicense{Name: "revoked", File: lic, Want: olr.ReasonRevoked}
}
