package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

// The test desk: a vendor key, an SQLite ledger with keys sold and three
// accounts (one per role), a fake clock, and the server under httptest.

const (
	testProduct  = "backup-server"
	testLicensee = "Example Backup Ltd"
	oemKey       = "OEM-7Q2D-K9XW-4M3T"
	evalKey      = "EVAL-0000-1111-2222"
	testPassword = "correct horse battery staple"
)

// clock is a fake clock the tests move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t        testing.TB
	keys     *signer.Keys
	rcpt     age.Recipient
	ledger   *ledger.Ledger
	accounts Accounts
	clock    *clock
	server   *Server
	ts       *httptest.Server
}

// hashOnce caches the test password's hash, made at a low cost: the
// tests sign in often on a busy machine. TestPassword checks the real
// cost.
var hashOnce = sync.OnceValue(func() string { return hashPassword(testPassword, 1, 8<<10, 1) })

func newEnv(t testing.TB) *env { return newEnvWith(t, Config{}) }

// newEnvWith is newEnv with the limits of cfg (its issuer, accounts,
// clock and logger are the env's).
func newEnvWith(t testing.TB, cfg Config) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	k, err := signer.GenerateKeys(true, e.clock.Now()) // hybrid: the default for new vendor keys
	if err != nil {
		t.Fatal(err)
	}
	e.keys = k
	rcpts, err := olr.ParseRecipients(k.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	e.rcpt = rcpts[0]
	e.ledger, err = ledger.Create(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ledger.Close() })
	err = e.ledger.Update(context.Background(), "sales", func(tx *ledger.Tx) error {
		_, err := tx.ImportKeys("test", []ledger.SoldKey{
			{Key: oemKey, Licensee: testLicensee, Type: olr.TypeOEM, Product: testProduct,
				Modules: map[string]ledger.Quota{"obm": 50, "acb": 20, "mobile": ledger.Unlimited}, Languages: []string{"en", "zh-TW"}},
			{Key: "OEM-SECOND-KEY-0002", Licensee: testLicensee, Type: olr.TypeOEM, Product: testProduct,
				Modules: map[string]ledger.Quota{"obm": 5}},
			{Key: evalKey, Licensee: testLicensee, Type: olr.TypeEvaluation, Product: testProduct},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.accounts = LedgerAccounts(e.ledger)
	for _, a := range []struct {
		name string
		role Role
	}{{"sam", RoleSupport}, {"ada", RoleAdmin}, {"otto", RoleAuditor}} {
		if err := e.accounts.PutAccount(context.Background(), "admin", &Account{Name: a.name, Role: a.role, PasswordHash: hashOnce()}); err != nil {
			t.Fatal(err)
		}
	}
	is := &signer.Issuer{Keys: k, Ledger: e.ledger, Now: e.clock.Now}
	cfg.Issuer, cfg.Accounts, cfg.Now = is, e.accounts, e.clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	e.server, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.server)
	t.Cleanup(e.ts.Close)
	return e
}

// request makes an armored req.olr for key from machine m (olrtest's
// fingerprint with its values varied by m).
func (e *env) request(licensee, key string, m int) []byte {
	e.t.Helper()
	req, err := olr.NewRequest(testProduct, licensee, key, fmt.Sprintf("host-%d", m), "test", machine(m), e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	data, err := olr.EncryptRequest(req, []age.Recipient{e.rcpt}, true)
	if err != nil {
		e.t.Fatal(err)
	}
	return data
}

// machine returns a distinct fingerprint for each m.
func machine(m int) *fingerprint.Fingerprint {
	base := olrtest.Fingerprint()
	fp := &fingerprint.Fingerprint{Machine: base.Machine}
	for _, f := range base.Factors {
		v := f.Value
		switch f.Kind {
		case fingerprint.KindMachineID, fingerprint.KindTPMEK:
			v = v[:len(v)-4] + fmt.Sprintf("%04x", m)
		case fingerprint.KindBoardSerial, fingerprint.KindDiskSerial, fingerprint.KindProductUUID:
			v = v[:len(v)-4] + fmt.Sprintf("%04d", m)
		case fingerprint.KindMAC:
			v = v[:len(v)-2] + fmt.Sprintf("%02x", m&0xff)
		case fingerprint.KindIP:
			continue
		}
		fp.Add(f.Kind, v, f.Source, false)
	}
	fp.Sort()
	return fp
}

// client is a browser-like HTTP client with its own cookies.
type client struct {
	e *env
	c *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// login signs in as name and fails the test unless it works.
func (c *client) login(name string) *client {
	c.e.t.Helper()
	resp := c.post("/api/login", url.Values{"name": {name}, "password": {testPassword}})
	if resp.StatusCode != http.StatusOK {
		c.e.t.Fatalf("sign in as %s: %s", name, resp.Status)
	}
	return c
}

// response is a read response.
type response struct {
	*http.Response
	Body string
}

func (c *client) do(req *http.Request) *response {
	c.e.t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return &response{Response: resp, Body: string(b)}
}

func (c *client) get(path string) *response {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.ts.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) *response {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// decode reads a JSON response into v, failing the test on a status
// other than want.
func (r *response) decode(t *testing.T, want int, v any) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d: %s", r.Request.Method, r.Request.URL.Path, r.Status, want, r.Body)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(r.Body), v); err != nil {
			t.Fatalf("%s: %v: %s", r.Request.URL.Path, err, r.Body)
		}
	}
}

// head returns the ledger's audit head, to check that nothing changed.
func (e *env) head() ledger.AuditHead {
	e.t.Helper()
	h, err := e.ledger.Head(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}
