package page_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age/armor"
	"github.com/chromedp/chromedp"

	"github.com/olr-dev/olr/internal/browsertest"
	"github.com/olr-dev/olr/internal/qrcode/qrcodetest"
	"github.com/olr-dev/olr/olr/olrtest"
	"github.com/olr-dev/olr/olr/parts"
)

// text returns the text of the first node matching sel.
func text(t *testing.T, ctx contextT, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func do(t *testing.T, ctx contextT, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// generate fills in the request form on the page and clicks Generate.
func generate(t *testing.T, ctx contextT, s *site, tab string) {
	t.Helper()
	do(t, ctx,
		chromedp.Navigate(s.url(tab)),
		chromedp.SendKeys(chromedp.CSS("#licensee"), "Example Backup Ltd"),
		chromedp.SendKeys(chromedp.CSS("#key"), "OEM-7Q2D-K9XW-4M3T"),
		chromedp.Click(chromedp.CSS("#generate")),
		chromedp.WaitVisible(chromedp.CSS("#pending")),
	)
}

// importFile uploads path on the page's Import License form.
func importFile(t *testing.T, ctx contextT, s *site, tab, path string) string {
	t.Helper()
	do(t, ctx,
		chromedp.Navigate(s.url(tab)),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{path}),
		chromedp.Click(chromedp.CSS("#import-button")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	return text(t, ctx, "#flash")
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, res.Status, body)
	}
	return body
}

// TestActivationInBrowser is the whole offline activation through the
// page: Generate, download req.olr, read its QR codes, issue the license
// with the real olr-sign, import it with Off-line Update, and see the
// modules with their usage.
func TestActivationInBrowser(t *testing.T) {
	ctx := browser.Tab(t)
	v := newVendor(t, false)
	s := newSite(t, v, olrtest.Fingerprint())

	do(t, ctx, chromedp.Navigate(s.url("")), chromedp.WaitVisible(chromedp.CSS("#banners")))
	if got := text(t, ctx, "#banners"); !strings.Contains(got, "No license installed") {
		t.Fatalf("banner before activation: %q", got)
	}
	browsertest.Screenshot(t, ctx, "license-page-not-installed")

	generate(t, ctx, s, "")
	browsertest.Screenshot(t, ctx, "license-page-request")
	req := browsertest.Download(t, ctx, chromedp.Click(chromedp.CSS("#download")))
	if !bytes.HasPrefix(req, []byte(armor.Header)) {
		t.Fatalf("downloaded req.olr is not an armored age file: %.60q", req)
	}
	shown, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#request-text")))
	if err != nil || strings.TrimSpace(shown) != strings.TrimSpace(string(req)) {
		t.Fatalf("the request shown as text differs from the download (%v)", err)
	}

	// The QR codes the page shows decode to the same request.
	imgs, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(".qr img")))
	if err != nil || len(imgs) == 0 {
		t.Fatalf("no QR code on the page: %v", err)
	}
	var texts []string
	for _, n := range imgs {
		texts = append(texts, qrcodetest.Decode(t, get(t, s.url(n.AttributeValue("src")))))
	}
	bin, _, err := parts.Decode([]byte(strings.Join(texts, "\n\n")))
	if err != nil {
		t.Fatalf("the page's QR codes: %v", err)
	}
	want, _ := io.ReadAll(armor.NewReader(bytes.NewReader(req)))
	if !bytes.Equal(bin, want) {
		t.Fatal("the page's QR codes carry another file than req.olr")
	}

	lic := v.issue(t, req)
	if got := importFile(t, ctx, s, "", writeFile(t, "license.olr", lic)); !strings.Contains(got, "installed") {
		t.Fatalf("import: %q", got)
	}
	if got := text(t, ctx, "#status"); got != "valid" {
		t.Fatalf("status after import: %q", got)
	}
	for module, want := range map[string][3]string{
		"obm": {"50", "12", "38"}, "acb": {"20", "20", "0"}, "mobile": {"unlimited", "7", "unlimited"},
		"replication": {"not licensed", "0", "0"},
	} {
		row := `#modules tr[data-module="` + module + `"] `
		got := [3]string{text(t, ctx, row+".quota-value"), text(t, ctx, row+".used"), text(t, ctx, row+".available")}
		if got != want {
			t.Errorf("module %s: quota, used, available %v, want %v", module, got, want)
		}
	}
	if got := text(t, ctx, "#license-key"); got != "***-****-****-4M3T" {
		t.Errorf("license key shown as %q", got)
	}
	if got := text(t, ctx, "#expiry"); got != "2036-12-31 (the last day)" {
		t.Errorf("expiry shown as %q", got)
	}
	if got := text(t, ctx, "#languages"); got != "en, zh-TW" {
		t.Errorf("languages %q", got)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("#hardware summary")))
	if got := text(t, ctx, "#hardware"); !strings.Contains(got, "matches this machine") || !strings.Contains(got, "tpm-ek") {
		t.Errorf("hardware details: %q", got)
	}
	browsertest.Screenshot(t, ctx, "license-page-valid")

	// Usage above a quota: the grace period shows at the top, and in its
	// last hour the countdown to the stop.
	s.setUsage("obm", 53)
	do(t, ctx, chromedp.Navigate(s.url("")))
	s.clock.Set(s.clock.Now().Add(11*time.Hour + 30*time.Minute))
	do(t, ctx, chromedp.Navigate(s.url("")), chromedp.WaitVisible(chromedp.CSS(".banner .countdown")))
	if got := text(t, ctx, "#banners"); !strings.Contains(got, "Quota exceeded: obm") || !strings.Contains(got, "53 in use, 50 licensed") {
		t.Fatalf("banner of a quota overrun: %q", got)
	}
	if got := text(t, ctx, ".countdown"); !strings.HasPrefix(got, "server stops in 29:") && !strings.HasPrefix(got, "server stops in 30:") {
		t.Errorf("countdown %q, want about 30 minutes", got)
	}
	browsertest.Screenshot(t, ctx, "license-page-quota-countdown")

	// api/status says the same.
	var st struct {
		Status  string `json:"status"`
		Modules []struct {
			Name      string `json:"name"`
			Used      int64  `json:"used"`
			Available string `json:"available"`
		} `json:"modules"`
	}
	if err := json.Unmarshal(get(t, s.url("api/status")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "valid" || len(st.Modules) == 0 {
		t.Fatalf("api/status: %+v", st)
	}
}

// TestImportRefusedInBrowser: a wrong file, an oversized upload, a
// license for another product and one for another machine each show a
// clear error and install nothing.
func TestImportRefusedInBrowser(t *testing.T) {
	ctx := browser.Tab(t)
	v := newVendor(t, true)
	s := newSite(t, v, olrtest.Fingerprint())
	other := newSite(t, v, otherMachine())
	// Both machines read the same time: a request made on a clock ahead
	// of this one would give a license not yet valid here, refused for
	// its dates before its hardware is looked at.
	other.clock.Set(s.clock.Now())

	// A license for the redirector, requested on that tab.
	generate(t, ctx, s, "?product=redirector")
	redirReq := get(t, s.url("request/req.olr?product=redirector"))
	redirector := v.issue(t, redirReq)
	// A license for another machine, requested there.
	generate(t, ctx, other, "")
	otherLic := v.issue(t, get(t, other.url("request/req.olr")))

	for _, tc := range []struct {
		name, file string
		data       []byte
		want       []string
	}{
		{"wrong-file", "req.olr", redirReq, []string{"Not a license", "license.olr"}},
		{"oversized", "license.olr", bytes.Repeat([]byte("x"), 5<<20), []string{"File too large", "KiB"}},
		{"other-product", "license.olr", redirector, []string{"License for another product", `for product "redirector"`, "one license per product", "Redirector tab"}},
		{"other-machine", "license.olr", otherLic, []string{"License for another machine", "does not match this machine", "generate an offline license request on this machine"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := importFile(t, ctx, s, "", writeFile(t, tc.file, tc.data))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("message %q does not say %q", got, w)
				}
			}
			if s.installed() {
				t.Fatal("a refused import installed a license")
			}
			browsertest.Screenshot(t, ctx, "license-page-refused-"+tc.name)
		})
	}
}

// TestCrossOriginPostRefused: a form on another site that posts to the
// page is refused, and nothing is installed.
func TestCrossOriginPostRefused(t *testing.T) {
	ctx := browser.Tab(t)
	v := newVendor(t, true)
	s := newSite(t, v, olrtest.Fingerprint())
	evil := http.NewServeMux()
	evil.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<form id="f" method="post" action="`+s.url("request")+`">`+
			`<input name="licensee" value="Mallory"><input name="key" value="OEM-X"><button id="go">go</button></form>`)
	})
	// Another origin: the same host on another port.
	es := newServer(t, evil)
	do(t, ctx, chromedp.Navigate(es), chromedp.Click(chromedp.CSS("#go")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := text(t, ctx, "#flash"); !strings.Contains(got, "Request refused") || !strings.Contains(got, "another site") {
		t.Fatalf("cross-origin post: %q", got)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "request.json")); err == nil {
		t.Fatal("a cross-origin post generated a request")
	}

	// Without a browser: a request that says it comes from another site.
	req, _ := http.NewRequest("POST", s.url("api/import"), strings.NewReader("x"))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST api/import: %s, want 403", res.Status)
	}
	req, _ = http.NewRequest("POST", s.url("api/request"), strings.NewReader("licensee=a&key=b"))
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("POST api/request from another origin: %s, want 403", res.Status)
	}
}
