package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/parts"
	"github.com/olr-dev/olr/signer/ledger"
)

// TestLoginRateLimit: after DefaultAccountFailures wrong passwords, the
// account is refused even with the right one (429 with Retry-After)
// until the window has passed; other accounts from another address are
// not affected; an address that tries many accounts is stopped too.
func TestLoginRateLimit(t *testing.T) {
	const perAccount, perAddress = 3, 5
	e := newEnvWith(t, Config{AccountFailures: perAccount, AddressFailures: perAddress})
	c := e.client()
	wrong := url.Values{"name": {"sam"}, "password": {"not the password"}}
	for i := range perAccount {
		if r := c.post("/api/login", wrong); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %s", i+1, r.Status)
		}
	}
	r := c.post("/api/login", url.Values{"name": {"sam"}, "password": {testPassword}})
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %s (Retry-After %q)", perAccount, r.Status, r.Header.Get("Retry-After"))
	}
	// Another account is not locked out (the test client's address is
	// the same, and has failures to spare).
	e.client().login("ada")
	e.clock.Advance(DefaultFailureWindow)
	e.client().login("sam")

	// One address trying many names: perAddress failures, then every
	// name is refused from it.
	for i := range perAddress {
		c.post("/api/login", url.Values{"name": {"nobody" + string(rune('a'+i))}, "password": {"x"}})
	}
	if r := c.post("/api/login", url.Values{"name": {"ada"}, "password": {testPassword}}); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("address over its limit: %s", r.Status)
	}
}

// TestSessionExpiry: a session ends after the idle timeout without a
// request, and after the absolute timeout however busy.
func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("sam")
	c.get("/api/me").decode(t, http.StatusOK, nil)
	e.clock.Advance(DefaultIdleTimeout - time.Second)
	c.get("/api/me").decode(t, http.StatusOK, nil)
	e.clock.Advance(DefaultIdleTimeout)
	c.get("/api/me").decode(t, http.StatusUnauthorized, nil)

	c.login("sam")
	step := DefaultIdleTimeout / 2
	for elapsed := step; elapsed < DefaultAbsoluteTimeout; elapsed += step {
		e.clock.Advance(step)
		c.get("/api/me").decode(t, http.StatusOK, nil)
	}
	e.clock.Advance(step)
	c.get("/api/me").decode(t, http.StatusUnauthorized, nil)

	// A password change or a disabled account ends the sessions.
	c.login("sam")
	a, _ := e.accounts.Account(t.Context(), "sam")
	a.Disabled = true
	e.accounts.PutAccount(t.Context(), "test", a)
	c.get("/api/me").decode(t, http.StatusUnauthorized, nil)
}

// TestSignedOut: a signed-out browser is sent to the sign-in page, and
// comes back where it was going; the API answers 401.
func TestSignedOut(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	r := c.get("/keys?q=OEM")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Fkeys%3Fq%3DOEM" {
		t.Fatalf("signed out: %s to %q", r.Status, r.Header.Get("Location"))
	}
	c.get("/api/keys").decode(t, http.StatusUnauthorized, nil)
	r = c.post("/login", url.Values{"name": {"sam"}, "password": {testPassword}, "next": {"/keys?q=OEM"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/keys?q=OEM" {
		t.Fatalf("sign in: %s to %q", r.Status, r.Header.Get("Location"))
	}
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		if got := safeNext(next); got != "/" {
			t.Errorf("safeNext(%q) = %q", next, got)
		}
	}
	c.post("/logout", nil)
	c.get("/api/me").decode(t, http.StatusUnauthorized, nil)
}

// TestRoles: support cannot revoke, publish or import; an auditor cannot
// issue; both may read.
func TestRoles(t *testing.T) {
	e := newEnv(t)
	sam, otto, ada := e.client().login("sam"), e.client().login("otto"), e.client().login("ada")
	req := e.request(testLicensee, oemKey, 1)
	otto.post("/api/issue", url.Values{"text": {string(req)}}).decode(t, http.StatusForbidden, nil)
	var issued IssuedView
	sam.post("/api/issue", url.Values{"text": {string(req)}}).decode(t, http.StatusOK, &issued)
	revoke := "/api/licenses/" + issued.LicenseID + "/revoke"
	sam.post(revoke, url.Values{"reason": {"customer asked"}}).decode(t, http.StatusForbidden, nil)
	otto.post(revoke, url.Values{"reason": {"customer asked"}}).decode(t, http.StatusForbidden, nil)
	sam.post("/api/crl", nil).decode(t, http.StatusForbidden, nil)
	sam.get("/api/accounts").decode(t, http.StatusForbidden, nil)
	for _, c := range []*client{sam, otto} {
		c.get("/api/keys/"+oemKey).decode(t, http.StatusOK, nil)
		c.get("/api/ledger").decode(t, http.StatusOK, nil)
		c.get("/api/audit").decode(t, http.StatusOK, nil)
	}
	var ins inspectView
	otto.post("/api/inspect", url.Values{"text": {string(req)}}).decode(t, http.StatusOK, &ins)
	if ins.CanIssue {
		t.Fatal("an auditor is offered to issue")
	}

	ada.post(revoke, url.Values{"reason": {""}}).decode(t, http.StatusBadRequest, nil)
	ada.post(revoke, url.Values{"reason": {"customer asked"}}).decode(t, http.StatusOK, nil)
	ada.post(revoke, url.Values{"reason": {"again"}}).decode(t, http.StatusConflict, nil)
	var crl publishedCRL
	ada.post("/api/crl", nil).decode(t, http.StatusOK, &crl)
	list, err := olr.ParseRevocationList([]byte(crl.File), e.keys.Trust())
	if err != nil || !list.IsRevoked(issued.LicenseID) || list.Number != crl.Number {
		t.Fatalf("revocation list: %v %+v", err, list)
	}
	var ledgerState ledgerView
	otto.get("/api/ledger").decode(t, http.StatusOK, &ledgerState)
	if !ledgerState.Verified || ledgerState.Anchor != e.head().String() {
		t.Fatalf("ledger: %+v, head %s", ledgerState, e.head())
	}
	// The anchor is one olr-sign ledger verify --anchor takes.
	anchor, err := ledger.ParseAnchor(ledgerState.Anchor)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.Verify(context.Background(), anchor); err != nil {
		t.Fatalf("Verify with the desk's anchor: %v", err)
	}
}

// TestCrossOriginRefused: a form posted from another site is refused
// before it reaches a handler, signed in or not.
func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("ada")
	before := e.head()
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/crl", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		if r := c.do(req); r.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin POST with %v: %s", h, r.Status)
		}
	}
	if e.head() != before {
		t.Fatal("a cross-origin POST changed the ledger")
	}
	// The same request from the desk's own pages goes through.
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/crl", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if r := c.do(req); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "BEGIN OLR REVOCATION") {
		t.Fatalf("same-origin POST: %s %.80q", r.Status, r.Body)
	}
}

// TestOversizedUpload: a body over the limit is refused with 413 and
// changes nothing.
func TestOversizedUpload(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("sam")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("request", "huge.olr")
	fw.Write(bytes.Repeat([]byte("A"), MaxUploadBytes+1))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/inspect", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r := c.do(req)
	if r.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(r.Body, "larger than 8 MiB") {
		t.Fatalf("oversized upload: %s %s", r.Status, r.Body)
	}
	// A file over a request's size in a small enough upload is named.
	var ins inspectView
	c.upload("/api/inspect", map[string][]byte{"big.olr": bytes.Repeat([]byte("A"), olr.MaxRequestSize+1)}).decode(t, http.StatusOK, &ins)
	if !strings.Contains(ins.Requests[0].Error, "larger than") {
		t.Fatalf("big file: %+v", ins.Requests[0])
	}
}

// upload posts files as the inbox form does.
func (c *client) upload(path string, files map[string][]byte) *response {
	c.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for name, data := range files {
		fw, _ := mw.CreateFormFile("request", name)
		fw.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.ts.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// TestBadRequestsChangeNothing: a malformed request, one for another
// vendor, and a QR part set with a gap each get a clear error, from
// inspect and from issue, and the ledger is unchanged.
func TestBadRequestsChangeNothing(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("ada")
	otherVendor, _ := age.GenerateX25519Identity()
	req, _ := olr.NewRequest(testProduct, testLicensee, oemKey, "host", "test", machine(1), e.clock.Now())
	foreign, err := olr.EncryptRequest(req, []age.Recipient{otherVendor.Recipient()}, true)
	if err != nil {
		t.Fatal(err)
	}
	good := e.request(testLicensee, oemKey, 2)
	ps, err := parts.Split(good, req.ID, 3)
	if err != nil {
		t.Fatal(err)
	}
	gap := ps[2].Text() + "\n\n" + ps[0].Text() + "\n"
	truncated := good[:len(good)/2]
	for _, tc := range []struct {
		name, text, want string
	}{
		{"malformed", "hello, this is not a request", "not a request"},
		{"truncated", string(truncated), "decrypt"},
		{"another vendor", string(foreign), "not encrypted to this vendor's key"},
		{"QR parts with a gap", gap, "missing part 2/3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.head()
			var ins inspectView
			c.post("/api/inspect", url.Values{"text": {tc.text}}).decode(t, http.StatusOK, &ins)
			if len(ins.Requests) != 1 || !strings.Contains(ins.Requests[0].Error, tc.want) || ins.Requests[0].Verdict != nil {
				t.Fatalf("inspect: %+v, want an error with %q", ins.Requests, tc.want)
			}
			var apiErr apiError
			c.post("/api/issue", url.Values{"text": {tc.text}}).decode(t, http.StatusBadRequest, &apiErr)
			if !strings.Contains(apiErr.Error, tc.want) {
				t.Fatalf("issue: %q, want %q", apiErr.Error, tc.want)
			}
			html := c.post("/inspect", url.Values{"text": {tc.text}})
			if html.StatusCode != http.StatusOK || !strings.Contains(html.Body, "Cannot read this request") {
				t.Fatalf("inspect page: %s", html.Status)
			}
			if e.head() != before {
				t.Fatal("the ledger changed")
			}
		})
	}
	// The parts in any order, complete, are one request.
	var ins inspectView
	all := ps[2].Text() + "\n" + ps[0].Text() + "\n" + ps[1].Text()
	c.post("/api/inspect", url.Values{"text": {all}}).decode(t, http.StatusOK, &ins)
	if ins.Requests[0].Error != "" || ins.Requests[0].Verdict.Outcome != "issued" {
		t.Fatalf("complete parts: %+v", ins.Requests[0])
	}
}

// TestTextIsEscaped: what a customer typed is shown as text, never as
// markup: an HTML tag in the licensee stays text, and a request whose
// names carry terminal escape sequences is refused with the sequence
// escaped.
func TestTextIsEscaped(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("sam")
	markup := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	req := e.request(markup, oemKey, 1)
	page := c.post("/inspect", url.Values{"text": {string(req)}})
	if page.StatusCode != http.StatusOK {
		t.Fatal(page.Status)
	}
	if strings.Contains(page.Body, "<script>alert") || strings.Contains(page.Body, "<img src=x") {
		t.Fatal("the licensee's markup is in the page unescaped")
	}
	if !strings.Contains(page.Body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Fatal("the licensee is not shown, escaped")
	}

	// A request's plaintext with an escape sequence in the licensee,
	// encrypted as a hostile machine would.
	r, _ := olr.NewRequest(testProduct, testLicensee, oemKey, "host", "test", machine(1), e.clock.Now())
	plain, _ := json.Marshal(r)
	plain = append(plain, '\n')
	plain = bytes.Replace(plain, []byte(testLicensee), []byte(`Example \u001b[2J\u001b]0;pwned\u0007<b>Ltd</b>`), 1)
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, e.rcpt)
	w.Write(plain)
	w.Close()
	hostile := buf.Bytes()
	for _, path := range []string{"/inspect", "/api/inspect", "/issue", "/api/issue"} {
		resp := c.upload(path, map[string][]byte{"req<i>.olr": hostile})
		if strings.ContainsAny(resp.Body, "\x1b\x07") || strings.Contains(resp.Body, "<i>") || strings.Contains(resp.Body, "<b>Ltd") {
			t.Fatalf("%s: raw control characters or markup in the answer: %q", path, resp.Body)
		}
		if !strings.Contains(resp.Body, "control or invisible character") {
			t.Fatalf("%s: %s %q", path, resp.Status, resp.Body)
		}
	}
	// A file name with an escape sequence is refused by the form reader,
	// and the refusal quotes it.
	resp := c.upload("/inspect", map[string][]byte{"req\x1b[31m.olr": hostile})
	if strings.ContainsAny(resp.Body, "\x1b\x07") || !strings.Contains(resp.Body, `\x1b[31m`) {
		t.Fatalf("escape in a file name: %s %q", resp.Status, resp.Body)
	}
}

// TestPassword: the hash is argon2id at the documented cost, checks the
// right password only, and a hash edited to an absurd cost is refused
// without being computed.
func TestPassword(t *testing.T) {
	h := HashPassword(testPassword)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %s", h)
	}
	if !VerifyPassword(h, testPassword) || VerifyPassword(h, testPassword+" ") || VerifyPassword(h, "") {
		t.Fatal("VerifyPassword accepts the wrong password or refuses the right one")
	}
	if h2 := HashPassword(testPassword); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{
		"", "$argon2i$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		strings.Replace(h, "m=65536", "m=4194304", 1), // 4 GiB
		strings.Replace(h, "t=3", "t=1000", 1),
		h[:len(h)-10],
	} {
		if VerifyPassword(bad, testPassword) {
			t.Errorf("VerifyPassword accepts %q", bad)
		}
	}
	for _, tc := range []struct {
		pw string
		ok bool
	}{{"short", false}, {"twelve chars", true}, {strings.Repeat("x", MaxPasswordLen+1), false}, {"\xff\xfe invalid utf-8", false}} {
		if err := CheckPassword(tc.pw); (err == nil) != tc.ok {
			t.Errorf("CheckPassword(%.20q) = %v", tc.pw, err)
		}
	}
}

// TestTLSCookies: under TLS the session cookie is __Host- prefixed,
// Secure, HttpOnly and SameSite=Strict, and HSTS is sent.
func TestTLSCookies(t *testing.T) {
	e := newEnv(t)
	s, err := New(Config{Issuer: e.server.cfg.Issuer, Accounts: e.accounts, Secure: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(s)
	defer ts.Close()
	c := ts.Client()
	c.Jar, _ = cookiejar.New(nil)
	resp, err := c.PostForm(ts.URL+"/api/login", url.Values{"name": {"sam"}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	ck := cookies[0]
	if ck.Name != "__Host-olr_session" || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("session cookie %+v", ck)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS under TLS")
	}
	me, err := c.Get(ts.URL + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	me.Body.Close()
	if me.StatusCode != http.StatusOK {
		t.Fatalf("signed in over TLS: %s", me.Status)
	}
}

// TestHeaders: every answer carries the Content-Security-Policy and the
// other protective headers; the assets are embedded and served without a
// directory listing.
func TestHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, path := range []string{"/login", "/static/desk.css", "/api/keys", "/no-such-page"} {
		r := c.get(path)
		h := r.Header
		if h.Get("Content-Security-Policy") != contentSecurityPolicy || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	if !strings.Contains(contentSecurityPolicy, "default-src 'none'") || strings.Contains(contentSecurityPolicy, "unsafe") {
		t.Fatalf("policy %s", contentSecurityPolicy)
	}
	if r := c.get("/static/desk.css"); r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("style sheet: %s %s", r.Status, r.Header.Get("Content-Type"))
	}
	if r := c.get("/static/desk.js"); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "data-copy") {
		t.Fatalf("script: %s", r.Status)
	}
	if r := c.get("/static/"); r.StatusCode != http.StatusNotFound {
		t.Errorf("/static/: %s", r.Status)
	}
	// The templates are embedded beside the assets, never served.
	for _, path := range []string{"/static/../templates/layout.html", "/templates/layout.html", "/static/%2e%2e/templates/layout.html"} {
		resp, err := http.Get(e.ts.URL + path) // following redirects
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(b), "{{define") {
			t.Errorf("%s serves a template", path)
		}
	}
	// No page pulls anything from another origin.
	page := c.get("/login").Body
	for _, bad := range []string{"http://", "https://", "<script>", "style="} {
		if strings.Contains(page, bad) {
			t.Errorf("the sign-in page holds %q", bad)
		}
	}
}
