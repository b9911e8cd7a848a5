package signcli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/clones"
	"github.com/olr-dev/olr/signer/ledger"
)

// runCLI runs olr-sign with args and returns its exit code, standard
// output and standard error.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	auditStdout = &out
	defer func() { auditStdout = os.Stdout }()
	code := cliutil.RunCode(NewApp(), append([]string{"olr-sign"}, args...), &errOut)
	return code, out.String(), errOut.String()
}

// auditFixture writes a vendor key and a directory of encrypted requests:
// two VM clones of one image under keys K1 and K2, a distinct server
// under K3, a request for another vendor, a license and a text file.
type auditFixture struct {
	key, dir string
	requests []*olr.Request
}

func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	tmp := t.TempDir()
	now := time.Now()
	k, err := signer.GenerateKeys(false, now)
	if err != nil {
		t.Fatal(err)
	}
	f := &auditFixture{key: filepath.Join(tmp, "vendor.key"), dir: filepath.Join(tmp, "requests")}
	if err := signer.WriteKeys(f.key, k, ""); err != nil {
		t.Fatal(err)
	}
	other, err := signer.GenerateKeys(false, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(f.dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	encrypt := func(name, key, recipient string, class string, factors ...string) {
		fp := &fingerprint.Fingerprint{Machine: fingerprint.MachineKind{Class: class}}
		for _, kv := range factors {
			kind, v, _ := strings.Cut(kv, "=")
			if !fp.Add(fingerprint.Kind(kind), v, "test", false) {
				t.Fatalf("%s: %v", kv, fp.Notes)
			}
		}
		req, err := olr.NewRequest("backup-server", "Acme", key, "host-"+name, "olr test", fp, now)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := olr.ParseRecipients(recipient)
		if err != nil {
			t.Fatal(err)
		}
		data, err := olr.EncryptRequest(req, rs, true)
		if err != nil {
			t.Fatal(err)
		}
		write(name, data)
		f.requests = append(f.requests, req)
	}
	const mid = "machine-id=0123456789abcdef0123456789abcdef"
	encrypt("clone1.olr", "K1", k.Recipient, fingerprint.ClassVM, mid, "product-uuid=564d1a2b-0000-4000-8000-000000000001", "ip=192.0.2.1")
	encrypt("clone2.olr", "K2", k.Recipient, fingerprint.ClassVM, mid, "product-uuid=564d1a2b-0000-4000-8000-000000000002", "ip=192.0.2.2")
	encrypt("server.olr", "K3", k.Recipient, fingerprint.ClassBareMetal, "machine-id=fedcba9876543210fedcba9876543210",
		"product-uuid=4c4c4544-0042-3510-8052-b4c04f4e3532", "mac=3c:ec:ef:10:20:30")
	encrypt("elsewhere.olr", "K4", other.Recipient, fingerprint.ClassBareMetal, "board-serial=XYZ123")
	write("license.olr", []byte("-----BEGIN OLR LICENSE-----\nnot read\n-----END OLR LICENSE-----\n"))
	write("notes.txt", []byte("not a request"))
	return f
}

func TestAuditCommand(t *testing.T) {
	f := newAuditFixture(t)

	code, out, stderr := runCLI(t, "audit", "-i", f.key, "--json", f.dir)
	if code != cliutil.ExitRefused || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 1 and nothing", code, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var out2 struct {
		clones.Report
		TPM tpmReport `json:"tpm"`
	}
	if err := dec.Decode(&out2); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	r := out2.Report
	if r.Format != clones.Format || r.Requests != 3 || r.Keys != 3 {
		t.Errorf("format %q, %d requests, %d keys; want %q, 3, 3", r.Format, r.Requests, r.Keys, clones.Format)
	}
	if len(r.SharedMachines) != 1 || r.SharedMachines[0].Verdict != clones.VerdictClone ||
		strings.Join(r.SharedMachines[0].Keys, ",") != "K1,K2" {
		t.Errorf("shared machines: %+v, want the clones K1 and K2", r.SharedMachines)
	}
	if len(r.Unreadable) != 1 || filepath.Base(r.Unreadable[0].Source) != "elsewhere.olr" ||
		!strings.Contains(r.Unreadable[0].Error, "not encrypted to this vendor key") {
		t.Errorf("unreadable: %+v, want elsewhere.olr", r.Unreadable)
	}
	if len(r.VirtualMachines) != 2 || len(r.NoStrongFactor) != 0 || len(r.Containers) != 0 {
		t.Errorf("VMs %d, weak %d, containers %d; want 2, 0, 0", len(r.VirtualMachines), len(r.NoStrongFactor), len(r.Containers))
	}
	if strings.Contains(out, "192.0.2.") {
		t.Error("the report names IP addresses, which identify no machine")
	}

	code, out, _ = runCLI(t, "audit", "-i", f.key, f.dir)
	if code != cliutil.ExitRefused {
		t.Errorf("human output: exit %d, want 1", code)
	}
	for _, want := range []string{
		"audited 3 requests of 3 license keys (4 files in " + f.dir + ")",
		"== one machine under several license keys: 1",
		"2 keys share machine-id (clone)",
		"share the machine-id but not the product-uuid",
		"shared machine-id=0123456789abcdef0123456789abcdef",
		"== requests that could not be read: 1",
		"elsewhere.olr: the request was not encrypted to this vendor key",
		"== requests from virtual machines (for information): 2",
		"\n2 findings\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("human output lacks %q:\n%s", want, out)
		}
	}

	// Without the clones and the foreign request nothing is found.
	for _, name := range []string{"clone1.olr", "clone2.olr", "elsewhere.olr"} {
		if err := os.Remove(filepath.Join(f.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, _ := runCLI(t, "audit", "-i", f.key, f.dir); code != 0 || !strings.Contains(out, "no findings") {
		t.Errorf("clean directory: exit %d, output:\n%s", code, out)
	}
}

func TestAuditCommandBadInput(t *testing.T) {
	f := newAuditFixture(t)
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no directory", []string{"audit", "-i", f.key}, "audit takes one directory"},
		{"two directories", []string{"audit", "-i", f.key, f.dir, empty}, "audit takes one directory"},
		{"missing directory", []string{"audit", "-i", f.key, filepath.Join(empty, "nope")}, "is not a directory"},
		{"a file", []string{"audit", "-i", f.key, filepath.Join(f.dir, "server.olr")}, "is not a directory"},
		{"no request", []string{"audit", "-i", f.key, empty}, "no request files"},
		{"no key", []string{"audit", f.dir}, "needs the vendor key"},
		{"bad key", []string{"audit", "-i", filepath.Join(f.dir, "notes.txt"), f.dir}, "cannot load vendor key"},
		{"missing ledger", []string{"audit", "--ledger", filepath.Join(empty, "ledger.db")}, "no ledger at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OLR_VENDOR_KEY", "")
			code, out, stderr := runCLI(t, tt.args...)
			if code != cliutil.ExitUsage || !strings.Contains(stderr, tt.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, out, stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(empty, "ledger.db")); err == nil {
		t.Error("auditing a missing ledger created it")
	}
}

// TestAuditCommandLedger audits the activations of a ledger together with
// the request files: a request found in both counts once.
func TestAuditCommandLedger(t *testing.T) {
	f := newAuditFixture(t)
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = l.Update(ctx, "test", func(tx *ledger.Tx) error {
		for i, req := range f.requests[:3] {
			if _, err := tx.PutKey(&ledger.SoldKey{Key: req.LicenseKey, Licensee: req.Licensee, Type: olr.TypeOEM, Product: req.Product}); err != nil {
				return err
			}
			fp, err := json.Marshal(req.Fingerprint)
			if err != nil {
				return err
			}
			lic := &ledger.IssuedLicense{ID: olr.NewID(), RequestID: req.ID, File: []byte("license " + string(rune('1'+i)))}
			if err := tx.Activate(&ledger.Activation{Key: req.LicenseKey, Fingerprint: fp}, lic); err != nil {
				return err
			}
		}
		// An activation whose fingerprint is in another form.
		if _, err := tx.PutKey(&ledger.SoldKey{Key: "K9", Licensee: "Acme", Type: olr.TypeOEM, Product: "backup-server"}); err != nil {
			return err
		}
		return tx.Activate(&ledger.Activation{Key: "K9", Fingerprint: []byte(`{"mac":["52:54:00:12:34:56"]}`)},
			&ledger.IssuedLicense{ID: olr.NewID(), RequestID: olr.NewID(), File: []byte("license 9")})
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	code, out, stderr := runCLI(t, "audit", "--ledger", path, "--json")
	if code != cliutil.ExitRefused || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var r clones.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Requests != 3 || len(r.SharedMachines) != 1 || len(r.Unreadable) != 1 ||
		!strings.Contains(r.Unreadable[0].Source, "activation 4 (active)") {
		t.Errorf("ledger alone: %d requests, %d shared, unreadable %+v", r.Requests, len(r.SharedMachines), r.Unreadable)
	}

	code, out, _ = runCLI(t, "audit", "-i", f.key, "--ledger", path, "--json", f.dir)
	if code != cliutil.ExitRefused {
		t.Fatalf("exit %d", code)
	}
	r = clones.Report{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Requests != 3 || len(r.Duplicates) != 3 || len(r.SharedMachines) != 1 || len(r.SharedMachines[0].Requests) != 2 {
		t.Errorf("directory and ledger: %d requests, %d duplicates, shared %+v", r.Requests, len(r.Duplicates), r.SharedMachines)
	}
}
