package tpm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint/tpm/binding"
)

// needTool skips a test when a program is missing, except in CI, which
// installs it (.ci/setup): there a missing tool must not pass quietly.
func needTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI must install %s (.ci/setup)", name, pkg)
		}
		t.Skipf("%s is not installed (Debian package %s); skipping", name, pkg)
	}
}

// freePortPair finds a loopback port P with P+1 also free.
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
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
	t.Fatal("no two adjacent free loopback ports")
	return 0
}

// startSWTPM runs `swtpm socket` on free loopback ports for the length of
// the test and returns the command port. With ready, swtpm initialises
// and starts the TPM itself; without, the client must.
func startSWTPM(t *testing.T, ready bool) int {
	t.Helper()
	needTool(t, "swtpm", "swtpm")
	dir := t.TempDir()
	port := freePortPair(t)
	args := []string{"socket", "--tpm2",
		"--tpmstate", "dir=" + dir,
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1),
		"--log", "file=" + filepath.Join(dir, "log"),
	}
	if ready {
		args = append(args, "--flags", "not-need-init,startup-clear")
	}
	cmd := exec.Command("swtpm", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	// Wait for the control port, which swtpm opens with the server port;
	// touching the command port would take swtpm's one client slot.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port+1), time.Second)
		if err == nil {
			c.Close()
			return port
		}
		select {
		case err := <-exited:
			t.Fatalf("swtpm exited: %v: %s", err, stderr.Bytes())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm did not listen on port %d: %v", port+1, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tpm2ToolsEKName creates the EK with tpm2_createek and returns the name
// that tpm2_readpublic prints for it.
func tpm2ToolsEKName(t *testing.T, port int, alg string) string {
	t.Helper()
	dir := t.TempDir()
	env := append(os.Environ(), fmt.Sprintf("TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=%d", port))
	run := func(name string, args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return out
	}
	run("tpm2_createek", "-G", alg, "-c", "ek.ctx", "-u", "ek.pub")
	out := run("tpm2_readpublic", "-c", "ek.ctx")
	run("tpm2_flushcontext", "-t")
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "name: "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("tpm2_readpublic printed no name:\n%s", out)
	return ""
}

// The key check: the EK Name olr reports is the one tpm2-tools shows for
// the same TPM, for both EK algorithms.
func TestSWTPMMatchesTPM2Tools(t *testing.T) {
	needTool(t, "tpm2_createek", "tpm2-tools")
	port := startSWTPM(t, true)
	spec := fmt.Sprintf("mssim:127.0.0.1:%d", port)

	tpm, source, err := Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	if source != spec {
		t.Errorf("source %q, want %q", source, spec)
	}
	info, err := Read(context.Background(), tpm)
	if err != nil {
		tpm.Close()
		t.Fatal(err)
	}
	rsaName, err := readEK(tpm, binding.Kinds[1])
	// swtpm serves one client at a time: let go before tpm2-tools.
	tpm.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("olr: %+v", *info)

	if info.EKAlgorithm != AlgECCP256 || info.Manufacturer != "IBM" || info.EKCertPresent || info.Source != spec {
		t.Errorf("info %+v", *info)
	}
	for _, c := range []struct{ alg, olr string }{{"ecc", info.EKName}, {"rsa", rsaName}} {
		want := tpm2ToolsEKName(t, port, c.alg)
		if c.olr != want {
			t.Errorf("%s EK name:\nolr        %s\ntpm2-tools %s", c.alg, c.olr, want)
		} else {
			t.Logf("%s EK name %s: olr and tpm2-tools agree", c.alg, want)
		}
	}
}

// swtpm started without --flags must be initialised through its control
// channel and sent TPM2_Startup; a second open finds it running.
func TestSWTPMPowerOn(t *testing.T) {
	port := startSWTPM(t, false)
	spec := fmt.Sprintf("mssim:127.0.0.1:%d", port)
	var names []string
	for range 2 {
		tpm, _, err := Open(spec)
		if err != nil {
			t.Fatal(err)
		}
		info, err := Read(context.Background(), tpm)
		tpm.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, info.EKName)
	}
	if names[0] != names[1] {
		t.Errorf("EK differs between connections: %v", names)
	}
}

// A simulator port that accepts and never answers gives a timeout error
// at the deadline, not a hang.
func TestMSSimTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, silent
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = OpenContext(ctx, "mssim:"+l.Addr().String())
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("open took %v with a 300ms deadline", took)
	}
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	want := "TPM at mssim:" + l.Addr().String() + " did not answer within "
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "ms; is another process holding it?") {
		t.Errorf("message %q, want prefix %q", err, want)
	}
}

func TestMSSimRefused(t *testing.T) {
	port := freePortPair(t) // nothing listens there
	_, _, err := Open(fmt.Sprintf("mssim:127.0.0.1:%d", port))
	var oe *OpenError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "is the simulator running?") {
		t.Errorf("err = %v, want an OpenError with a hint", err)
	}
}
