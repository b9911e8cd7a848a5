package page_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/internal/browsertest"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/page"
)

var (
	browser *browsertest.Browser
	// olrSign is the real olr-sign, built once for the package.
	olrSign string
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "olr-page-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		goBin, err := exec.LookPath("go")
		if err != nil {
			fmt.Fprintln(os.Stderr, "go not found on PATH:", err)
			return 1
		}
		olrSign = filepath.Join(dir, "olr-sign")
		cmd := exec.Command(goBin, "build", "-o", olrSign, "github.com/olr-dev/olr/cmd/olr-sign")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building olr-sign:", err)
			return 1
		}
		return browsertest.Main(m, &browser)
	}())
}

// vendor is a vendor key made with the real olr-sign keygen.
type vendor struct {
	key   string // path of vendor.key
	trust *olr.Trust
	rcp   []age.Recipient
}

func newVendor(t *testing.T, x25519 bool) *vendor {
	t.Helper()
	dir := t.TempDir()
	args := []string{"keygen", "--unencrypted", "-o", filepath.Join(dir, "vendor.key")}
	if x25519 {
		args = append(args, "--x25519")
	}
	run(t, dir, olrSign, args...)
	v := &vendor{key: filepath.Join(dir, "vendor.key")}
	data, err := os.ReadFile(v.key + ".trust")
	if err != nil {
		t.Fatal(err)
	}
	if v.trust, err = olr.ParseTrust(data); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(v.key + ".recipient")
	if err != nil {
		t.Fatal(err)
	}
	if v.rcp, err = olr.ParseRecipients(string(data)); err != nil {
		t.Fatal(err)
	}
	return v
}

// issue answers req.olr (a file, or the parts' texts) with the real
// olr-sign and returns license.olr.
func (v *vendor) issue(t *testing.T, req []byte, extra ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "req.olr")
	if err := os.WriteFile(in, req, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "license.olr")
	args := append([]string{"issue", "-i", v.key, "--no-ledger",
		"--module", "obm=50", "--module", "acb=20", "--module", "vmware-vm=10", "--module", "mobile=unlimited",
		"--module", "cbs=1", "--language", "en", "--language", "zh-TW",
		"--expires", "2036-12-31", "--maintenance", "2030-06-30"}, extra...)
	run(t, dir, olrSign, append(args, in, "-o", out)...)
	lic, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return lic
}

func run(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// site is a product's admin console with the License page mounted under
// /admin/license/.
type site struct {
	*httptest.Server
	h      *page.Handler
	dir    string
	usage  map[string]int64
	mu     sync.Mutex
	logs   *bytes.Buffer
	clock  *fakeClock
	alerts []page.Alert
	fp     *fingerprint.Fingerprint // this machine, as the page reads it
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

const mount = "/admin/license/"

// newSite mounts the page for this machine (fp) with the vendor v.
func newSite(t *testing.T, v *vendor, fp *fingerprint.Fingerprint) *site {
	t.Helper()
	return newSiteOn(t, v, fp, nil)
}

// newSiteOn is newSite reading the machine with mach when it is not nil.
func newSiteOn(t *testing.T, v *vendor, fp *fingerprint.Fingerprint, mach func(context.Context) (*machine.Machine, error)) *site {
	t.Helper()
	s := &site{dir: t.TempDir(), usage: map[string]int64{"obm": 12, "acb": 20, "vmware-vm": 3, "mobile": 7, "cbs": 1},
		logs: &bytes.Buffer{}, clock: &fakeClock{now: time.Now()}, fp: fp}
	cfg := page.Config{
		Trust: v.trust, StateDir: s.dir, Vendor: v.rcp,
		Products: []page.Product{{Name: "backup-server", Title: "Backup", Modules: []string{"obm", "acb", "replication"}},
			{Name: "redirector", Title: "Redirector"}},
		Usage: func(module string) (int64, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.usage[module], nil
		},
		// This machine, without a TPM to prove: the fingerprint the test
		// chose.
		Machine: func(context.Context) (*machine.Machine, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			return &machine.Machine{Fingerprint: s.fp}, nil
		},
		OnAlert: func(_ context.Context, a page.Alert) {
			s.mu.Lock()
			s.alerts = append(s.alerts, a)
			s.mu.Unlock()
		},
		Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: s.logs, mu: &s.mu}, nil)),
		Now:    s.clock.Now,
	}
	if mach != nil {
		cfg.Machine = mach
	}
	h, err := page.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.h = h
	mux := http.NewServeMux()
	mux.Handle(mount, http.StripPrefix(strings.TrimSuffix(mount, "/"), h))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (s *site) url(path string) string { return s.URL + mount + path }

func (s *site) setUsage(module string, n int64) {
	s.mu.Lock()
	s.usage[module] = n
	s.mu.Unlock()
}

// installed reports whether a license is installed for the first product.
func (s *site) installed() bool {
	_, err := os.Stat(filepath.Join(s.dir, "license.olr"))
	return err == nil
}

// otherMachine is a machine that shares no hardware with olrtest's.
func otherMachine() *fingerprint.Fingerprint {
	fp := &fingerprint.Fingerprint{Machine: fingerprint.MachineKind{Class: fingerprint.ClassBareMetal}}
	fp.Add(fingerprint.KindMAC, "52:54:00:aa:bb:cc", "/sys/class/net/eth0/address", false)
	fp.Add(fingerprint.KindMachineID, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "/etc/machine-id", false)
	fp.Add(fingerprint.KindProductUUID, "11111111-2222-3333-4444-555555555555", "/sys/class/dmi/id/product_uuid", false)
	fp.Sort()
	return fp
}

// contextT is a chromedp tab's context.
type contextT = context.Context

func newServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// What Example assumes of the product.
var (
	embeddedTrustBundle     = []byte("olr-trust/v1\n")
	embeddedVendorRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	ctxOfTheProduct         = context.Background()
)

func countUsers(module string) (int64, error) { return 0, nil }

func requireAdmin(h http.Handler) http.Handler { return h }
