package clitest

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serving is a running olr serve.
type serving struct {
	cmd *exec.Cmd
	url string // as printed, with its token
}

// startServe starts olr serve in dir and waits for the URL it prints.
func startServe(t *testing.T, dir string, args ...string) *serving {
	t.Helper()
	path, err := exec.LookPath("olr")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serving{cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	urlRE := regexp.MustCompile(`at (http\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case s.url = <-found:
	case <-time.After(60 * time.Second):
		t.Fatal("olr serve printed no URL")
	}
	return s
}

// TestServeListenNeedsTLS: olr serve listens on loopback unless TLS is
// configured.
func TestServeListenNeedsTLS(t *testing.T) {
	a := newActivation(t, "baremetal", "")
	for _, addr := range []string{"0.0.0.0:0", ":8471", "192.0.2.1:8471", "[::]:0"} {
		r := run(t, a.Dir, "olr", "serve", "--listen", addr, "--vendor", a.Key+".recipient", "--trust", a.Key+".trust")
		if r.code != 2 || !strings.Contains(r.stderr, "without TLS") || !strings.Contains(r.stderr, "--tls-cert") {
			t.Errorf("--listen %s: exit %d\n%s", addr, r.code, r.stderr)
		}
	}
	r := run(t, a.Dir, "olr", "serve", "--tls-cert", "cert.pem", "--vendor", a.Key+".recipient", "--trust", a.Key+".trust")
	if r.code != 2 || !strings.Contains(r.stderr, "both --tls-cert and --tls-key") {
		t.Errorf("--tls-cert alone: exit %d\n%s", r.code, r.stderr)
	}
}

// TestServeToken: the page needs the token printed at start; with it in
// the URL the browser gets a cookie, scripts send it as a bearer token.
func TestServeToken(t *testing.T) {
	a := newActivation(t, "baremetal", "")
	s := startServe(t, a.Dir, "--vendor", a.Key+".recipient", "--trust", a.Key+".trust")
	base, token, ok := strings.Cut(s.url, "?token=")
	if !ok || len(token) < 32 {
		t.Fatalf("printed URL %q has no token", s.url)
	}
	for _, u := range []string{base, base + "?token=" + strings.Repeat("0", len(token)), base + "api/status"} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "token") {
			t.Errorf("GET %s without the token: %s %q", u, res.Status, body)
		}
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.Get(s.url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Offline License Request") {
		t.Fatalf("GET with the token: %s\n%.300s", res.Status, body)
	}
	if strings.Contains(res.Request.URL.String(), token) {
		t.Errorf("the token stays in the address bar: %s", res.Request.URL)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	// the cookie carries on
	if res, err = browser.Get(base + "api/status"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET api/status with the cookie: %v %v", err, res.Status)
	}
	res.Body.Close()
	req, _ := http.NewRequest("GET", base+"api/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if res, err = http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET api/status with the bearer token: %v %v", err, res.Status)
	}
	res.Body.Close()
}

// TestServeOnAlert: a quota overrun on a live activation runs the
// --on-alert command once per event, however often the monitor checks.
func TestServeOnAlert(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "vendor.key")
	mustRun(t, dir, "olr-sign", "keygen", "--unencrypted", "--x25519", "-o", key)
	// This machine, live: the page fingerprints the host it runs on.
	if r := run(t, dir, "olr", "request", "--vendor", key+".recipient", "--licensee", "Example Backup Ltd",
		"--key", "OEM-7Q2D-K9XW-4M3T", "-o", "req.olr"); r.code != 0 {
		t.Skipf("this machine cannot be fingerprinted live: %s", r.stderr)
	}
	// This machine may be a container, which the vendor refuses by default.
	mustRun(t, dir, "olr-sign", "issue", "--no-ledger", "--allow-weak", "a test of the alert hook", "-i", key, "-m", "obm=5", "-o", "license.olr", "req.olr")
	mustRun(t, dir, "olr", "import", "--trust", key+".trust", "license.olr")
	if err := os.WriteFile(filepath.Join(dir, "usage.json"), []byte(`{"obm": 9}`), 0o644); err != nil {
		t.Fatal(err)
	}
	alerts := filepath.Join(dir, "alerts.jsonl")
	startServe(t, dir, "--vendor", key+".recipient", "--usage", "usage.json", "--check-every", "200ms",
		"--on-alert", "cat >> "+alerts)
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		data, _ := os.ReadFile(alerts)
		if got = string(data); strings.Count(got, "\n") >= 2 {
			break
		}
	}
	time.Sleep(time.Second) // several more checks
	data, _ := os.ReadFile(alerts)
	got = string(data)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"event":"quota-overrun"`) || !strings.Contains(lines[1], `"event":"grace-ending"`) ||
		!strings.Contains(lines[0], `"module":"obm"`) || !strings.Contains(lines[0], `"usage":9`) {
		t.Fatalf("alerts:\n%s", got)
	}
}

// TestServeUnixSocket: on a unix socket (mode 0600) the page needs no
// token: who may connect is the socket's permissions.
func TestServeUnixSocket(t *testing.T) {
	a := newActivation(t, "baremetal", "")
	sock := filepath.Join(a.Dir, "olr.sock")
	path, err := exec.LookPath("olr")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "serve", "--listen", "unix:"+sock, "--vendor", a.Key+".recipient", "--trust", a.Key+".trust")
	cmd.Dir, cmd.Env = a.Dir, cleanEnv(a.Dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	var res *http.Response
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err = client.Get("http://olr/"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("GET over the unix socket: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Import License") {
		t.Fatalf("GET over the unix socket: %s\n%.300s", res.Status, body)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
}
