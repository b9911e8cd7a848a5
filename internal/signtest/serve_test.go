package signtest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/olr-dev/olr/internal/pgtest"
	"github.com/olr-dev/olr/signer/ledger"
)

// desk is a running olr-sign serve process.
type desk struct {
	cmd    *exec.Cmd
	url    string
	stderr *strings.Builder
	mu     *sync.Mutex
	done   chan error
}

var servingLine = regexp.MustCompile(`serving the support desk on (https?://127\.0\.0\.1:\d+) `)

// serve starts olr-sign serve on a free loopback port against the env's
// ledger and waits until it listens.
func (e *env) serve(extra ...string) *desk {
	e.t.Helper()
	args := append([]string{"serve", "-i", vendorKey, "--ledger", e.ledger, "--listen", "127.0.0.1:0", "--log-format", "text"}, extra...)
	cmd := e.cmd(args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	d := &desk{cmd: cmd, stderr: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			d.mu.Lock()
			d.stderr.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, pipe)
		d.done <- cmd.Wait()
	}()
	e.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-d.done
		}
	})
	select {
	case d.url = <-found:
	case err := <-d.done:
		e.t.Fatalf("olr-sign serve exited: %v\n%s", err, d.log())
	case <-time.After(2 * time.Minute):
		e.t.Fatalf("olr-sign serve did not start\n%s", d.log())
	}
	return d
}

func (d *desk) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// stop sends SIGTERM and checks that the desk shuts down cleanly.
func (d *desk) stop(t testing.TB) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil || !strings.Contains(d.log(), "the support desk stopped") {
			t.Fatalf("olr-sign serve after SIGTERM: %v\n%s", err, d.log())
		}
	case <-time.After(time.Minute):
		t.Fatalf("olr-sign serve did not stop on SIGTERM\n%s", d.log())
	}
}

// deskClient is a signed-in API client of one desk.
type deskClient struct {
	d *desk
	c *http.Client
}

func (d *desk) login(t testing.TB, name, password string) *deskClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &deskClient{d: d, c: &http.Client{Jar: jar, Timeout: time.Minute}}
	status, body, err := c.post("/api/login", url.Values{"name": {name}, "password": {password}})
	if err != nil || status != http.StatusOK {
		t.Fatalf("sign in to %s: %d %v %s", d.url, status, err, body)
	}
	return c
}

func (c *deskClient) post(path string, form url.Values) (int, []byte, error) {
	resp, err := c.c.PostForm(c.d.url+path, form)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// TestTwoDesksOneLedger: two olr-sign serve processes share one
// PostgreSQL ledger; in each round, both are asked at the same moment to
// activate one key, each for another machine. Exactly one activation is
// recorded, the other desk answers with the one-key-one-machine refusal,
// and the ledger verifies at the end.
func TestTwoDesksOneLedger(t *testing.T) {
	const rounds = 8
	var keys []Key
	for i := range rounds {
		keys = append(keys, Key{Key: fmt.Sprintf("OEM-DESK-%04d", i), Licensee: "Acme Ltd", Type: "oem"})
	}
	e := &env{t: t, dir: t.TempDir(), ledger: pgtest.NewDatabase(t)}
	csv := e.dir + "/keys.csv"
	if err := WriteKeysCSV(csv, keys); err != nil {
		t.Fatal(err)
	}
	e.must("keys", "import", "--create", "--ledger", e.ledger, "--operator", "sales", csv)
	add := e.cmd("users", "add", "sam", "--role", "support", "--ledger", e.ledger, "--operator", "admin")
	const password = "a long support password"
	add.Env = append(add.Env, "OLR_USER_PASSWORD="+password)
	if r := runCmd(t, add); r.code != 0 {
		t.Fatalf("users add: %v", r)
	}
	desks := [2]*desk{e.serve(), e.serve()}
	clients := [2]*deskClient{desks[0].login(t, "sam", password), desks[1].login(t, "sam", password)}

	for round, k := range keys {
		var texts [2]string
		for i := range texts {
			path, _ := e.request(fmt.Sprintf("r%d-%d.olr", round, i), Request{Licensee: k.Licensee, Key: k.Key, Machine: 2*round + i})
			texts[i] = string(e.read(path[len(e.dir)+1:]))
		}
		type answer struct {
			status int
			body   []byte
			err    error
		}
		var answers [2]answer
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				a := &answers[i]
				a.status, a.body, a.err = clients[i].post("/api/issue", url.Values{"text": {texts[i]}})
			}()
		}
		close(start)
		wg.Wait()
		issued, refused := 0, 0
		for i, a := range answers {
			if a.err != nil {
				t.Fatalf("round %d, desk %d: %v", round, i, a.err)
			}
			var v struct{ Outcome, Rule string }
			json.Unmarshal(a.body, &v)
			switch {
			case a.status == http.StatusOK && v.Outcome == "issued":
				issued++
			case a.status == http.StatusConflict && v.Rule == "one-key-one-machine":
				refused++
			default:
				t.Fatalf("round %d, desk %d: %d %s", round, i, a.status, a.body)
			}
		}
		if issued != 1 || refused != 1 {
			t.Fatalf("round %d: %d issued, %d refused; want one of each", round, issued, refused)
		}
	}

	l, err := ledger.Open(e.ledger)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = l.View(context.Background(), func(tx *ledger.Tx) error {
		for _, k := range keys {
			acts, err := tx.Activations(k.Key)
			if err != nil {
				return err
			}
			if len(acts) != 1 || acts[0].State != ledger.StateActive {
				return fmt.Errorf("key %s: %d activations %+v, want one active", k.Key, len(acts), acts)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(context.Background()); err != nil {
		t.Fatalf("ledger verify: %v", err)
	}
	for _, d := range desks {
		d.stop(t)
	}
}

// TestServeTLS: with --tls-cert and --tls-key the desk serves HTTPS only,
// with HSTS and a Secure, __Host- session cookie, and logs each request
// as one line.
func TestServeTLS(t *testing.T) {
	e := newEnv(t, []Key{{Key: "OEM-TLS-0001", Licensee: "Acme Ltd", Type: "oem"}})
	certFile, keyFile, pool := selfSigned(t, e.dir)
	add := e.cmd("users", "add", "ada", "--role", "admin", "--ledger", e.ledger)
	add.Env = append(add.Env, "OLR_USER_PASSWORD=a long admin password")
	if r := runCmd(t, add); r.code != 0 {
		t.Fatalf("users add: %v", r)
	}
	d := e.serve("--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(d.url, "https://") {
		t.Fatalf("serving on %s", d.url)
	}
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.PostForm(d.url+"/api/login", url.Values{"name": {"ada"}, "password": {"a long admin password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("sign in over TLS: %s %v", resp.Status, resp.Header)
	}
	ck := resp.Cookies()
	if len(ck) != 1 || ck[0].Name != "__Host-olr_session" || !ck[0].Secure || !ck[0].HttpOnly {
		t.Fatalf("cookie %+v", ck)
	}
	// Plain HTTP on the TLS port gets no page.
	if resp, err := http.Get("http" + strings.TrimPrefix(d.url, "https") + "/login"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered on the TLS port")
		}
	}
	d.stop(t)
	if !strings.Contains(d.log(), "path=/api/login status=200") || !strings.Contains(d.log(), "account=ada") {
		t.Fatalf("access log:\n%s", d.log())
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns their paths and a pool trusting it.
func selfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "olr desk test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "desk.crt"), filepath.Join(dir, "desk.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}
