// Package tpmtest runs software TPMs for tests: swtpm processes, fresh or
// manufactured by swtpm_setup with EK certificates from a local CA that
// stands in for a TPM manufacturer. Tests reach them with the TPM spec
// "mssim:127.0.0.1:PORT".
package tpmtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// T is what tpmtest needs of a test: a testing.TB, or an adapter for a
// testscript script.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
}

var _ T = testing.TB(nil)

// NeedTool skips a test when a program is missing, except in CI, which
// installs it (.ci/setup): there a missing tool must not pass quietly.
func NeedTool(tb T, name, pkg string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is missing; CI must install %s (.ci/setup)", name, pkg)
		}
		tb.Skipf("%s is not installed (Debian package %s); skipping", name, pkg)
	}
}

// CA is a local certificate authority playing a TPM manufacturer.
type CA struct {
	Dir string
	// RootPEM is the CA's self-signed root; IssuerPEM the certificate
	// that signs EK certificates (an intermediate under RootPEM).
	RootPEM, IssuerPEM []byte
	// Bundle is a PEM file holding both, as --ek-roots reads it.
	Bundle string
}

// NewCA makes a local CA in a temporary directory (swtpm_localca creates
// its keys on first use, when the first TPM is manufactured).
func NewCA(tb testing.TB) *CA { return NewCAIn(tb, tb.TempDir()) }

// NewCAIn makes a local CA in dir.
func NewCAIn(tb T, dir string) *CA {
	tb.Helper()
	NeedTool(tb, "swtpm_localca", "swtpm-tools")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatalf("%v", err)
	}
	return &CA{Dir: dir}
}

// Manufacture makes a swtpm state in dir with swtpm_setup: RSA-2048 and
// ECC EKs, persisted, with certificates from ca in NV, as a TPM leaves
// its factory. The CA's certificates are read after the first TPM.
func (ca *CA) Manufacture(tb T, dir string) {
	tb.Helper()
	NeedTool(tb, "swtpm_setup", "swtpm-tools")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatalf("%v", err)
	}
	localca := filepath.Join(ca.Dir, "localca.conf")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			tb.Fatalf("%v", err)
		}
	}
	write(localca, fmt.Sprintf("statedir = %[1]s\nsigningkey = %[1]s/signkey.pem\nissuercert = %[1]s/issuercert.pem\ncertserial = %[1]s/certserial\n", ca.Dir))
	opts := filepath.Join(ca.Dir, "localca.options")
	write(opts, "--platform-manufacturer olr-test\n--platform-version 1.0\n--platform-model test\n")
	swl, _ := exec.LookPath("swtpm_localca")
	setup := filepath.Join(ca.Dir, "setup.conf")
	write(setup, fmt.Sprintf("create_certs_tool = %s\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha256\n", swl, localca, opts))
	cmd := exec.Command("swtpm_setup", "--tpm2", "--tpmstate", dir, "--create-ek-cert",
		"--config", setup, "--overwrite")
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+ca.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("swtpm_setup: %v\n%s", err, out)
	}
	if ca.RootPEM == nil {
		var err error
		if ca.RootPEM, err = os.ReadFile(filepath.Join(ca.Dir, "swtpm-localca-rootca-cert.pem")); err != nil {
			tb.Fatalf("%v", err)
		}
		if ca.IssuerPEM, err = os.ReadFile(filepath.Join(ca.Dir, "issuercert.pem")); err != nil {
			tb.Fatalf("%v", err)
		}
		ca.Bundle = filepath.Join(ca.Dir, "ek-roots.pem")
		write(ca.Bundle, string(ca.RootPEM)+string(ca.IssuerPEM))
	}
}

// SWTPM is a running `swtpm socket`.
type SWTPM struct {
	// Dir holds its state; Spec reaches it ("mssim:127.0.0.1:PORT").
	Dir, Spec string
	Port      int
	cmd       *exec.Cmd
	exited    chan error
	stop      sync.Once
}

// Start runs swtpm on the state in dir (a fresh TPM, without EK
// certificates, when dir is empty) on free loopback ports, started and
// ready, until Stop or the end of the test.
func Start(tb T, dir string) *SWTPM {
	tb.Helper()
	NeedTool(tb, "swtpm", "swtpm")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatalf("%v", err)
	}
	port := freePortPair(tb)
	cmd := exec.Command("swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+dir,
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1),
		"--flags", "not-need-init,startup-clear")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("%v", err)
	}
	s := &SWTPM{Dir: dir, Port: port, Spec: fmt.Sprintf("mssim:127.0.0.1:%d", port), cmd: cmd, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	tb.Cleanup(s.Stop)
	// Wait for the control port, which swtpm opens with the server port;
	// touching the command port would take swtpm's one client slot.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port+1), time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case err := <-s.exited:
			s.exited <- err // for Stop
			tb.Fatalf("swtpm exited: %v: %s", err, stderr.Bytes())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("swtpm did not listen on port %d: %v", port+1, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends swtpm; its state stays in Dir. It may be called again.
func (s *SWTPM) Stop() {
	s.stop.Do(func() {
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// CopyState copies a stopped swtpm's state directory to dst: a cloned
// vTPM, or the same TPM after a restart.
func CopyState(tb T, src, dst string) {
	tb.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		tb.Fatalf("copying %s: %v: %s", src, err, out)
	}
	os.Remove(filepath.Join(dst, ".lock"))
}

// freePortPair finds a loopback port P with P+1 also free.
func freePortPair(tb T) int {
	tb.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("%v", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p >= 65535 {
			continue
		}
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err != nil {
			continue
		}
		l2.Close()
		return p
	}
	tb.Fatalf("no two adjacent free loopback ports")
	return 0
}
