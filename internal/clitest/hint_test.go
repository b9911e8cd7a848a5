package clitest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/host"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
)

// TestMismatchHintNeedsWeighedFactor signs a license whose policy gives
// the NICs no weight (olr-sign never does, a vendor's own tooling may)
// and verifies it on a machine that kept only its NIC: olr verify and
// olr import must not hint that this machine's hardware changed, since
// nothing the license weighs still matches. The same machine with its
// disk kept (a weighed factor) did drift, and is told so.
func TestMismatchHintNeedsWeighedFactor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "vendor.key")
	mustRun(t, dir, "olr-sign", "keygen", "--unencrypted", "-o", key)
	keys, err := signer.LoadKeys(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := host.Collect(context.Background(), host.Options{Root: hostRoot(t, "baremetal")})
	if err != nil {
		t.Fatal(err)
	}
	policy := fingerprint.DefaultPolicy()
	policy.Weights[fingerprint.KindMAC] = 0
	salt := make([]byte, fingerprint.SaltSize)
	b, err := fingerprint.Bind(fp, salt, policy)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	l := &olr.License{KeyID: keys.KeyID, ID: olr.NewID(), RequestID: olr.NewID(), Issued: now, NotBefore: now,
		Product: "backup-server", Licensee: "L", Type: olr.TypeOEM, GraceDays: 14, Binding: b}
	data, err := olr.Sign(l, keys.Signing)
	if err != nil {
		t.Fatal(err)
	}
	lic := filepath.Join(dir, "license.olr")
	if err := os.WriteFile(lic, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// The machine with every identity replaced but its NICs.
	machine := filepath.Join(dir, "host")
	if err := copyTree(hostRoot(t, "baremetal"), machine); err != nil {
		t.Fatal(err)
	}
	set := func(file, value string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(machine, file), []byte(value+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set("etc/machine-id", "0123456789abcdef0123456789abcdef")
	set("sys/class/dmi/id/product_uuid", "11111111-2222-4333-8444-555555555555")
	set("sys/class/dmi/id/product_serial", "NEWSER1")
	set("sys/class/dmi/id/board_serial", ".NEWSER1.CNFCW0099Z00ZZ.")
	env := []string{"OLRTEST_MACHINE=" + machine}
	r := runEnv(t, dir, env, "olr", "verify", "--trust", key+".trust", "--license", lic)
	if r.code != 1 || !strings.Contains(r.stderr, "olr: hint: this machine's hardware changed since the license was issued") {
		t.Fatalf("disks kept: exit %d, want a drift hint\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, d := range []string{"nvme0n1", "sda", "sdb"} {
		if err := os.RemoveAll(filepath.Join(machine, "sys", "block", d)); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"verify", "--trust", key + ".trust", "--license", lic},
		{"import", "--trust", key + ".trust", lic},
	} {
		r := runEnv(t, dir, env, "olr", args...)
		if r.code != 1 || !strings.Contains(r.stdout, "hardware-mismatch") {
			t.Fatalf("olr %s: exit %d\n%s%s", args[0], r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, "hardware changed") || !strings.Contains(r.stderr, "olr: hint: this license was issued for another machine") {
			t.Errorf("olr %s hints at a drift when only unweighed NICs match:\n%s", args[0], r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "license.olr")); err == nil {
		t.Fatal("the license was installed")
	}
}
