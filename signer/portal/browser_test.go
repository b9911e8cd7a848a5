package portal

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/olr-dev/olr/internal/browsertest"
	"github.com/olr-dev/olr/olr"
)

// Browser tests: the desk in headless Chromium, with requests made and
// licenses imported by the real olr command on a fixture machine.

// machineTree is the sysfs fixture of a bare-metal server that stands in
// for the customer's machine.
var machineTree = filepath.Join("..", "..", "fingerprint", "host", "testdata", "baremetal")

// olrCmd runs the olr command (this test binary, see TestMain) in dir,
// on the fixture machine, and returns its standard output; it fails the
// test unless the exit code is want.
func olrCmd(t testing.TB, dir string, want int, args ...string) string {
	t.Helper()
	tree, err := filepath.Abs(machineTree)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), runOLR+"=1", "OLRTEST_MACHINE="+tree, "OLR_TPM=none",
		"OLR_STATE="+filepath.Join(dir, "state"), "OLR_ROOT=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != want {
		t.Fatalf("olr %s: exit %d (%v), want %d\n%s%s", strings.Join(args, " "), code, err, want, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// machineRequest writes req.olr with the real olr request, as the
// customer would on the fixture machine, and returns its path.
func (e *env) machineRequest(dir, name, licensee, key string) string {
	e.t.Helper()
	rcpt := filepath.Join(dir, "vendor.recipient")
	if err := os.WriteFile(rcpt, []byte(e.keys.Recipient+"\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	tree, _ := filepath.Abs(machineTree)
	olrCmd(e.t, dir, 0, "request", "--vendor", rcpt, "--licensee", licensee, "--key", key, "--root", tree, "-o", name)
	return filepath.Join(dir, name)
}

func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// signIn fills in the sign-in page the browser is on.
func signIn(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	run(t, ctx,
		chromedp.WaitVisible(chromedp.CSS("#signin")),
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("header .who")))
}

// TestBrowserActivation: the whole support desk round trip. A signed-out
// browser is sent to sign in; the request olr request made on the
// customer's machine is uploaded, shown decoded with the verdict; the
// license is issued, downloaded, and olr import installs it on that
// machine. An Evaluation key is refused with the rule's text.
func TestBrowserActivation(t *testing.T) {
	e := newEnv(t)
	ctx := browser.Tab(t)
	dir := t.TempDir()
	req := e.machineRequest(dir, "req.olr", testLicensee, oemKey)

	run(t, ctx, chromedp.Navigate(e.ts.URL+"/keys"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/login?next=%2Fkeys") {
		t.Fatalf("signed out, /keys went to %s", loc)
	}
	browsertest.Screenshot(t, ctx, "portal-login")
	signIn(t, ctx, "sam")
	run(t, ctx, chromedp.Navigate(e.ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#files")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{req}),
		chromedp.Click(chromedp.CSS("#inspect")),
		chromedp.WaitVisible(chromedp.CSS("#verdict-0")))
	page := text(t, ctx, "#request-0")
	for _, want := range []string{"Will be issued", "first activation", testLicensee, oemKey, "as sold", "bare-metal", "obm 50", "zh-TW", "Fingerprint: 9 factors"} {
		if !strings.Contains(page, want) {
			t.Errorf("the inspection lacks %q:\n%s", want, page)
		}
	}
	browsertest.Screenshot(t, ctx, "portal-inspect")

	run(t, ctx, chromedp.Click(chromedp.CSS("#issue-0")), chromedp.WaitVisible(chromedp.CSS("#license-id")))
	id := text(t, ctx, "#license-id")
	browsertest.Screenshot(t, ctx, "portal-issued")
	lic := browsertest.Download(t, ctx, chromedp.Click(chromedp.CSS("#download")))
	if !bytes.HasPrefix(lic, []byte("-----BEGIN OLR LICENSE-----")) {
		t.Fatalf("downloaded %.60q", lic)
	}
	if l, err := olr.ParseLicense(lic, e.keys.Trust()); err != nil || l.ID != id {
		t.Fatalf("downloaded license: %v (id %s, page says %s)", err, l.ID, id)
	}
	licPath := filepath.Join(dir, "license.olr")
	os.WriteFile(licPath, lic, 0o644)
	trust := filepath.Join(dir, "vendor.trust")
	os.WriteFile(trust, e.keys.Trust().Marshal(), 0o644)
	out := olrCmd(t, dir, 0, "import", "--trust", trust, licPath)
	if !strings.Contains(out, "valid") {
		t.Fatalf("olr import: %s", out)
	}

	// The key's page shows the activation.
	run(t, ctx, chromedp.Navigate(e.ts.URL+"/keys?q=example"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	browsertest.Screenshot(t, ctx, "portal-keys")
	run(t, ctx, chromedp.Navigate(e.ts.URL+"/keys/"+oemKey), chromedp.WaitVisible(chromedp.CSS("ol.timeline")))
	if got := text(t, ctx, "ol.timeline"); !strings.Contains(got, "activated") || !strings.Contains(got, id) {
		t.Fatalf("key history: %s", got)
	}
	browsertest.Screenshot(t, ctx, "portal-key")

	// An Evaluation key: refused, with the rule as the vendor states it.
	eval := e.machineRequest(dir, "eval.olr", testLicensee, evalKey)
	run(t, ctx, chromedp.Navigate(e.ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#files")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{eval}),
		chromedp.Click(chromedp.CSS("#inspect")),
		chromedp.WaitVisible(chromedp.CSS("#verdict-0")))
	v := text(t, ctx, "#verdict-0")
	if !strings.Contains(v, "Refused: offline-oem-only") ||
		!strings.Contains(v, "Offline license activation is only applicable for OEM license type. Meter, Active Pool and Evaluation keys do not support offline activation.") {
		t.Fatalf("evaluation key verdict: %s", v)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#request-0 form[action='/issue']").length`)); n != 0 {
		t.Fatal("a refused request is offered to be issued")
	}
	browsertest.Screenshot(t, ctx, "portal-refused")

	run(t, ctx, chromedp.Navigate(e.ts.URL+"/ledger"), chromedp.WaitVisible(chromedp.CSS("#anchor")))
	if got := text(t, ctx, "#verify"); !strings.Contains(got, "Verified") {
		t.Fatalf("ledger page: %s", got)
	}
	if got := text(t, ctx, "#anchor"); got != e.head().String() {
		t.Fatalf("anchor %q, ledger head %s", got, e.head())
	}
	browsertest.Screenshot(t, ctx, "portal-ledger")
}

// post sends a form from the page the tab is on, as a script on the
// desk's own origin would, and returns the status.
func post(t *testing.T, ctx context.Context, path, body string) int {
	t.Helper()
	js := fmt.Sprintf(`fetch(%q, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: %q}).then(r => r.status)`, path, body)
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// TestBrowserRoles: support is offered no revocation and cannot revoke;
// an auditor may inspect but is offered no issuing and cannot issue.
func TestBrowserRoles(t *testing.T) {
	e := newEnv(t)
	admin := e.client().login("ada")
	var issued IssuedView
	admin.post("/api/issue", formText(e.request(testLicensee, oemKey, 1))).decode(t, http.StatusOK, &issued)

	ctx := browser.Tab(t)
	run(t, ctx, chromedp.Navigate(e.ts.URL+"/licenses/"+issued.LicenseID))
	signIn(t, ctx, "sam")
	run(t, ctx, chromedp.WaitVisible(chromedp.CSS("#license-text")))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#revoke").length`)); n != 0 {
		t.Fatal("support is offered to revoke")
	}
	if status := post(t, ctx, "/licenses/"+issued.LicenseID+"/revoke", "reason=no"); status != http.StatusForbidden {
		t.Fatalf("support revoking: %d", status)
	}
	run(t, ctx, chromedp.Click(chromedp.CSS("header .who button")), chromedp.WaitVisible(chromedp.CSS("#signin")))

	signIn(t, ctx, "otto")
	second := string(e.request(testLicensee, "OEM-SECOND-KEY-0002", 2))
	run(t, ctx, chromedp.WaitVisible(chromedp.CSS("#text")),
		chromedp.SetValue(chromedp.CSS("#text"), second),
		chromedp.Click(chromedp.CSS("#inspect")),
		chromedp.WaitVisible(chromedp.CSS("#verdict-0")))
	if got := text(t, ctx, "#verdict-0"); !strings.Contains(got, "Will be issued") {
		t.Fatalf("auditor's inspection: %s", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("form[action='/issue']").length`)); n != 0 {
		t.Fatal("an auditor is offered to issue")
	}
	if status := post(t, ctx, "/issue", "text="+url.QueryEscape(second)); status != http.StatusForbidden {
		t.Fatalf("auditor issuing: %d", status)
	}
	browsertest.Screenshot(t, ctx, "portal-auditor")
}

// TestBrowserCrossOrigin: a page of another site that posts a form to
// the desk, with the admin signed in, is refused and changes nothing.
func TestBrowserCrossOrigin(t *testing.T) {
	e := newEnv(t)
	ctx := browser.Tab(t)
	run(t, ctx, chromedp.Navigate(e.ts.URL+"/"))
	signIn(t, ctx, "ada")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><title>prize</title><form method="post" action="`+e.ts.URL+`/crl"><button id="go">claim</button></form>`)
	}))
	defer evil.Close()
	before := e.head()
	// localhost and 127.0.0.1 are different sites to the browser.
	run(t, ctx, chromedp.Navigate(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)),
		chromedp.Click(chromedp.CSS("#go")))
	waitLocation(t, ctx, e.ts.URL+"/crl")
	body := text(t, ctx, "body")
	if !strings.Contains(strings.ToLower(body), "cross-origin") {
		t.Fatalf("cross-site form post answered: %.200s", body)
	}
	if e.head() != before {
		t.Fatal("a cross-site form post changed the ledger")
	}
}

// waitLocation waits until the tab's location is url.
func waitLocation(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatalf("waiting for %s: %v", url, err)
		}
		if loc == url {
			return
		}
		if err := chromedp.Do(ctx, chromedp.Sleep(50*time.Millisecond)); err != nil {
			t.Fatalf("waiting for %s (at %s): %v", url, loc, err)
		}
	}
}

func formText(req []byte) url.Values { return url.Values{"text": {string(req)}} }
