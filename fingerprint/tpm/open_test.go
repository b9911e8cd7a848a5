package tpm

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/olr-dev/olr/fingerprint"
)

func TestOpenSpecErrors(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "tpm")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec, want string
	}{
		{"", "no TPM selected: use auto, none, sim, a device path"},
		{"AUTO", `unknown TPM selection "AUTO": use auto, none, sim, a device path such as /dev/tpmrm0, or mssim:HOST:PORT`},
		{"tpm0", `unknown TPM selection "tpm0"`},
		{"swtpm:127.0.0.1:2321", `unknown TPM selection`},
		{"mssim:", `bad TPM simulator address ""`},
		{"mssim:127.0.0.1", `bad TPM simulator address "127.0.0.1": use mssim:HOST:PORT`},
		{"mssim::2321", `bad TPM simulator address ":2321"`},
		{"mssim:::1:2321", `bad TPM simulator address`},
		{"mssim:localhost:http", `bad TPM simulator port "http"`},
		{"mssim:localhost:0", `bad TPM simulator port "0"`},
		{"mssim:localhost:65535", `bad TPM simulator port "65535": use a number from 1 to 65534`},
		{"mssim:localhost:-1", `bad TPM simulator port`},
		{"/nonexistent/tpmrm0", "cannot open TPM at /nonexistent/tpmrm0: no such device"},
		{regular, "cannot open TPM at " + regular + ": not a character device"},
	} {
		tpm, _, err := Open(c.spec)
		if err == nil {
			tpm.Close()
			t.Errorf("Open(%q) succeeded", c.spec)
			continue
		}
		if errors.Is(err, ErrNoTPM) {
			t.Errorf("Open(%q) = %v: an error, not ErrNoTPM, was due", c.spec, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q) = %q, want %q", c.spec, err, c.want)
		}
	}
}

func TestParseMSSim(t *testing.T) {
	for _, c := range []struct{ in, cmd, plat string }{
		{"127.0.0.1:2321", "127.0.0.1:2321", "127.0.0.1:2322"},
		{"[::1]:2321", "[::1]:2321", "[::1]:2322"},
		{"swtpm.example:65534", "swtpm.example:65534", "swtpm.example:65535"},
	} {
		cmd, plat, err := parseMSSim(c.in)
		if err != nil || cmd != c.cmd || plat != c.plat {
			t.Errorf("parseMSSim(%q) = %q, %q, %v", c.in, cmd, plat, err)
		}
	}
}

func TestOpenNone(t *testing.T) {
	_, _, err := Open("none")
	if !errors.Is(err, ErrNoTPM) {
		t.Errorf("Open(none) = %v, want ErrNoTPM", err)
	}
}

func TestOpenAutoWithoutDevice(t *testing.T) {
	if _, err := os.Stat(ResourceManager); err == nil {
		t.Skipf("this machine has %s", ResourceManager)
	}
	_, _, err := Open("auto")
	if !errors.Is(err, ErrNoTPM) || !strings.Contains(err.Error(), ResourceManager+" is not present") {
		t.Errorf("Open(auto) = %v, want ErrNoTPM", err)
	}
}

func TestDeviceErrorHints(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "open", Path: "/dev/tpmrm0", Err: syscall.EACCES},
			"cannot open TPM at /dev/tpmrm0: permission denied; add this user to the tss group, or run as root"},
		{&fs.PathError{Op: "open", Path: "/dev/tpm0", Err: syscall.EBUSY},
			"another process holds it; use the resource manager /dev/tpmrm0"},
	} {
		err := deviceError(c.err.(*fs.PathError).Path, c.err)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %q, want %q", err, c.want)
		}
		if !errors.Is(err, c.err.(*fs.PathError).Err) {
			t.Errorf("%v does not wrap %v", err, c.err)
		}
	}
}

func TestCollectorNone(t *testing.T) {
	c := NewCollector("none")
	var fp fingerprint.Fingerprint
	if err := c.Collect(context.Background(), &fp); err != nil {
		t.Fatal(err)
	}
	if len(fp.Factors) != 0 || len(fp.Notes) != 1 || fp.Notes[0] != "no TPM: disabled with --tpm none" {
		t.Errorf("fingerprint %+v", fp)
	}
	if c.Info() != nil {
		t.Error("Info() without a TPM")
	}
	if c.Name() != "tpm" {
		t.Errorf("Name() = %q", c.Name())
	}
}

func TestCollectorBadSpec(t *testing.T) {
	var fp fingerprint.Fingerprint
	if err := NewCollector("bogus").Collect(context.Background(), &fp); err == nil {
		t.Error("Collect with a bad spec succeeded")
	}
}

// A character device that is no TPM: opening works, reading fails fast
// with an error rather than a garbled Info.
func TestDeviceNotATPM(t *testing.T) {
	for _, dev := range []string{"/dev/null", "/dev/zero"} {
		fi, err := os.Stat(dev)
		if err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
			t.Skipf("no %s here", dev)
		}
		tpm, source, err := Open(dev)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Read(context.Background(), tpm)
		tpm.Close()
		if err == nil || !strings.HasPrefix(err.Error(), "reading TPM at "+source+": ") {
			t.Errorf("Read(%s) = %v", dev, err)
		}
		t.Logf("%s: %v", dev, err)
	}
}
